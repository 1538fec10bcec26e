"""What the social security sandbox answers: its operations, their fields and business rules.

Every answer is derived from the applicant's ID number (hash-seeded), the
request's fields and today's date, never from randomness, so a test can
rely on it. The sandbox keeps no register between operations, so one sample
person can exercise every item (and age is not checked for the pension
eligibility confirmation, so the 35-40-year-old sample applicants can).

Business refusals, each a SOAP Client fault with detail code ``BIZ-…``:

- BIZ-2001 — 370303200102145629 (刘芳) is not insured in this district:
  refused for the payment certificate, pension eligibility and card loss.
- BIZ-2002 — no contributions in the requested period (certificate).
- BIZ-2101 — under 16 years old (resident pension, employment certificate,
  flexible employment).
- BIZ-2102 — at or past the statutory retirement age (60 for men, 55 for
  women in this sample) for unemployment registration and flexible employment.

SAMPLE DATA: every person, unit, amount and number here is invented.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

NOT_INSURED_HERE = {"370303200102145629"}
EMPLOYERS = (
    "淄博房镇鑫源商贸有限公司",
    "淄博张店华联机电设备有限公司",
    "山东齐悦餐饮管理有限公司",
    "淄博马尚众诚机械加工厂",
    "淄博东村农业专业合作社",
)
BANKS = ("中国建设银行淄博分行", "中国工商银行淄博分行", "齐商银行", "淄博农村商业银行")
FLEXIBLE_BASE_AVERAGE = 7335  # sample: the provincial average wage the bases are derived from
RESIDENT_GRADE_SUBSIDY = {
    "300": 50,
    "500": 80,
    "800": 100,
    "1000": 120,
    "1500": 150,
    "2000": 180,
    "3000": 200,
    "4000": 220,
    "5000": 240,
}


@dataclass(frozen=True)
class Applicant:
    kind: str  # "person" or "organisation"
    id_number: str
    name: str


@dataclass(frozen=True)
class Attachment:
    media_type: str
    file_name: str
    content_base64: str


Fields = Mapping[str, "str | Attachment"]


class Refusal(Exception):
    """A business refusal: answered as a Client fault with code and reasons."""

    def __init__(self, code: str, message: str, *reasons: tuple[str, str]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reasons = reasons or ((code, message),)


class InvalidField(Exception):
    """A field is present but its value cannot be used (REQ-3004)."""


@dataclass(frozen=True)
class Operation:
    """One operation of the WSDL: its handler, fields, and whether it changes anything."""

    handler: Callable[[Applicant, Fields, str], dict[str, Any]]
    acts: bool
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    pledgeable: tuple[str, ...] = ()
    applicant_kinds: tuple[str, ...] = ("person",)


def seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def born(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def age(id_number: str, on: date) -> int:
    b = born(id_number)
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))


def is_woman(id_number: str) -> bool:
    return int(id_number[16]) % 2 == 0


def _month(text: str) -> tuple[int, int]:
    try:
        year, month = (int(p) for p in text.split("-"))
    except ValueError:
        raise InvalidField(f"年月格式应为 YYYY-MM：{text}") from None
    if not 1 <= month <= 12:
        raise InvalidField(f"月份无效：{text}")
    return year, month


def _months(start: tuple[int, int], end: tuple[int, int]) -> list[str]:
    out, (y, m) = [], start
    while (y, m) <= end:
        out.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _require_insured(applicant: Applicant, what: str) -> None:
    if applicant.id_number in NOT_INSURED_HERE:
        raise Refusal(
            "BIZ-2001",
            f"未查询到申请人在淄博市张店区的{what}",
            (
                "BIZ-2001",
                f"未查询到申请人在淄博市张店区的{what}，如在其他地区参保，请向参保地经办机构申请",
            ),
        )


def _require_age(applicant: Applicant, minimum: int = 16, retirement: bool = False) -> None:
    years = age(applicant.id_number, date.today())
    if years < minimum:
        raise Refusal("BIZ-2101", f"申请人未满{minimum}周岁，不能办理该业务")
    limit = 55 if is_woman(applicant.id_number) else 60
    if retirement and years >= limit:
        raise Refusal("BIZ-2102", f"申请人已达到法定退休年龄（{limit}周岁），不能办理该业务")


def _number(prefix: str, *parts: str, digits: int = 8) -> str:
    return f"{prefix}{date.today():%Y%m%d}{seed(*parts) % 10**digits:0{digits}d}"


def _money(value: float) -> str:
    return f"{value:.2f}"


# --------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------


def payment_certificate(applicant: Applicant, fields: Fields, serial: str) -> dict[str, Any]:
    """社会保险参保缴费证明: monthly records of a person or a unit over a period."""
    _require_insured(applicant, "社会保险参保记录")
    start, end = _month(str(fields["startMonth"])), _month(str(fields["endMonth"]))
    months = _months(start, end)
    if not months or len(months) > 60:
        raise InvalidField("缴费期间应为 1 至 60 个月，且终止年月不早于开始年月")
    s = seed(applicant.id_number)
    wanted = str(fields.get("insuranceType", "全部"))
    since = 2008 + s % 12
    if applicant.kind == "person":
        since = max(since, born(applicant.id_number).year + 18)
    base = 4000 + (s >> 8) % 5000 // 10 * 10
    rates = {
        "企业职工基本养老保险": (0.16, 0.08),
        "失业保险": (0.007, 0.003),
        "工伤保险": (0.004, 0.0),
    }
    headcount = 5 + (s >> 16) % 60 if applicant.kind == "organisation" else 1
    records: list[dict[str, Any]] = []
    for month in months:
        if int(month[:4]) < since:
            continue
        for kind, (unit_rate, personal_rate) in rates.items():
            if wanted not in ("全部", kind):
                continue
            month_base = base * headcount
            records.append(
                {
                    "month": month,
                    "insuranceType": kind,
                    "base": _money(month_base),
                    "unitAmount": _money(month_base * unit_rate),
                    "personalAmount": _money(month_base * personal_rate),
                    "paid": True,
                }
            )
    if not records:
        raise Refusal("BIZ-2002", "所选期间内无缴费记录")
    number = seed(applicant.id_number, *months) % 10**6
    answer: dict[str, Any] = {
        "businessNo": _number("ZDSBZM", applicant.id_number, *months[:1], *months[-1:]),
        "certificateNo": f"张人社参保证字〔{date.today().year}〕{number:06d}号",
        "insuredName": applicant.name,
        "insuredSince": f"{since}-{1 + s % 12:02d}",
        "status": "正常参保",
        "records": records,
        "totalUnitAmount": _money(sum(float(r["unitAmount"]) for r in records)),
        "totalPersonalAmount": _money(sum(float(r["personalAmount"]) for r in records)),
        "purpose": str(fields.get("purpose", "其他")),
    }
    if applicant.kind == "organisation":
        answer["unitNo"] = f"370303{s % 10**8:08d}"
        answer["insuredHeadcount"] = headcount
    else:
        answer["employer"] = EMPLOYERS[s % len(EMPLOYERS)]
    return answer


def resident_pension_enrolment(applicant: Applicant, fields: Fields, serial: str) -> dict[str, Any]:
    """城乡居民基本养老保险参保登记: enrols at the chosen annual contribution grade."""
    _require_age(applicant)
    grade = str(fields["contributionGrade"])
    if grade not in RESIDENT_GRADE_SUBSIDY:
        raise InvalidField(f"缴费档次无效：{grade}")
    return {
        "businessNo": _number("ZDJB", serial),
        "personalNo": f"37030300{seed(applicant.id_number) % 10**10:010d}",
        "enrolledOn": date.today().isoformat(),
        "contributionGrade": grade,
        "annualContribution": _money(int(grade)),
        "governmentSubsidy": _money(RESIDENT_GRADE_SUBSIDY[grade]),
        "firstContributionYear": date.today().year,
        "collector": "国家税务总局淄博市张店区税务局（代收）",
    }


def pension_eligibility(applicant: Applicant, fields: Fields, serial: str) -> dict[str, Any]:
    """城乡居民养老保险待遇领取资格确认: records this year's confirmation."""
    _require_insured(applicant, "城乡居民基本养老保险待遇领取记录")
    s = seed(applicant.id_number)
    today = date.today()
    return {
        "businessNo": _number("ZDZG", serial),
        "confirmedOn": today.isoformat(),
        "method": str(fields["verificationMethod"]),
        "residence": str(fields["residence"]),
        "monthlyPension": _money(200 + s % 180 + (s >> 9) % 100 / 100),
        "validUntil": (today + timedelta(days=364)).isoformat(),
        "paymentContinues": True,
    }


def unemployment_registration(applicant: Applicant, fields: Fields, serial: str) -> dict[str, Any]:
    """失业登记: registers the person as unemployed and says what support follows."""
    _require_age(applicant, retirement=True)
    s = seed(applicant.id_number)
    insured_years = s % 15
    # 《失业保险条例》第十七条: 1-5 years insured -> 12 months, 5-10 -> 18, 10 or more -> 24.
    benefit_months = 0 if insured_years < 1 else 12 if insured_years < 5 else 18 if insured_years < 10 else 24
    return {
        "businessNo": _number("ZDSY", serial),
        "registrationNo": _number("3703032", serial, digits=6),
        "registeredOn": date.today().isoformat(),
        "lastEmployer": str(fields["lastEmployer"]),
        "separationDate": str(fields["separationDate"]),
        "insuredYears": insured_years,
        "benefitMonths": benefit_months,
        "services": ["职业指导", "职业介绍", "职业技能培训补贴", "失业保险金申领"],
    }


def employment_certificate(applicant: Applicant, fields: Fields, serial: str) -> dict[str, Any]:
    """就业创业证申领: issues the electronic certificate (paper copy on request)."""
    _require_age(applicant)
    return {
        "businessNo": _number("ZDJC", serial),
        "certificateNo": f"370303{date.today().year}{seed(serial) % 10**6:06d}",
        "issuedOn": date.today().isoformat(),
        "employmentStatus": str(fields["employmentStatus"]),
        "education": str(fields["education"]),
        "form": "电子就业创业证（可申请邮寄纸质证）",
    }


def flexible_employment_enrolment(applicant: Applicant, fields: Fields, serial: str) -> dict[str, Any]:
    """灵活就业人员参保登记: enrols with a base chosen as a share of the average wage."""
    _require_age(applicant, retirement=True)
    _month(str(fields["startMonth"]))
    ratio = str(fields["baseRatio"]).rstrip("%")
    if not ratio.isdigit() or not 60 <= int(ratio) <= 300:
        raise InvalidField(f"缴费基数比例应在60%至300%之间：{fields['baseRatio']}")
    base = FLEXIBLE_BASE_AVERAGE * int(ratio) / 100
    return {
        "businessNo": _number("ZDLH", serial),
        "personalNo": f"37030300{seed(applicant.id_number) % 10**10:010d}",
        "enrolledOn": date.today().isoformat(),
        "startMonth": str(fields["startMonth"]),
        "insuranceScope": str(fields["insuranceScope"]),
        "monthlyBase": _money(base),
        "monthlyPensionContribution": _money(base * 0.20),
        "collector": "国家税务总局淄博市张店区税务局（代收）",
    }


def card_loss_report(applicant: Applicant, fields: Fields, serial: str) -> dict[str, Any]:
    """社会保障卡挂失: suspends the card at the bureau and its co-operating bank."""
    _require_insured(applicant, "社会保障卡申领记录")
    s = seed(applicant.id_number)
    kind = str(fields["lossKind"])
    answer = {
        "businessNo": _number("ZDGS", serial),
        "cardNo": f"ZB{s % 10**7:07d}",
        "bank": BANKS[s % len(BANKS)],
        "lossKind": kind,
        "reportedOn": date.today().isoformat(),
        "cardStatus": "临时挂失" if kind == "临时挂失" else "正式挂失",
        "nextStep": "可持本人身份证到社保服务窗口或合作银行网点申请补领",
    }
    if kind == "临时挂失":
        answer["temporaryUntil"] = (date.today() + timedelta(days=5)).isoformat()
    return answer


def employer_registration(applicant: Applicant, fields: Fields, serial: str) -> dict[str, Any]:
    """单位社会保险登记: the employer is registered for the five insurances under a unit number."""
    if not str(fields["taxRegistrationNo"]).startswith("ZDSWDJ"):
        raise Refusal("BIZ-2201", "未查询到该单位的税务登记信息，请先办理新办纳税人涉税事项")
    s = seed(applicant.id_number, "employer")
    return {
        "businessNo": _number("ZDDW", serial),
        "employerNo": f"SB370303{s % 10**9:09d}",
        "employerName": applicant.name,
        "taxRegistrationNo": str(fields["taxRegistrationNo"]),
        "insuranceTypes": ["企业职工基本养老保险", "失业保险", "工伤保险", "职工基本医疗保险", "生育保险"],
        "insuredEmployees": str(fields["employeeCount"]),
        "registeredOn": date.today().isoformat(),
    }


def card_application(applicant: Applicant, fields: Fields, serial: str) -> dict[str, Any]:
    """社会保障卡申领: a card is made for the holder (a guardian applies for a child) and sent or held."""
    holder = str(fields["holderIdNumber"])
    if holder == applicant.id_number or len(holder) != 18:
        raise InvalidField("holderIdNumber 应为持卡人（而非申领人）的公民身份号码")
    s = seed(holder, "card")
    delivery = str(fields["delivery"])
    return {
        "businessNo": _number("ZDSK", serial),
        "cardNo": f"ZB{s % 10**7:07d}",
        "holderName": str(fields["holderName"]),
        "medicalInsuranceNo": str(fields["medicalInsuranceNo"]),
        "bank": BANKS[s % len(BANKS)],
        "delivery": delivery,
        "expectedReadyOn": (date.today() + timedelta(days=5)).isoformat(),
        "status": "制卡中",
    }


def service_status() -> dict[str, Any]:
    """getServiceStatus: what the health check reads."""
    return {"status": "NORMAL", "system": "张店区人社局公共服务接口", "version": "3.2.0"}


OPERATIONS: dict[str, Operation] = {
    "issuePaymentCertificate": Operation(
        payment_certificate,
        acts=False,
        required=("startMonth", "endMonth"),
        optional=("insuranceType", "purpose"),
        applicant_kinds=("person", "organisation"),
    ),
    "enrolResidentPension": Operation(
        resident_pension_enrolment,
        acts=True,
        required=("contributionGrade", "householdRegister", "contactPhone"),
        pledgeable=("householdRegister",),
    ),
    "confirmPensionEligibility": Operation(
        pension_eligibility, acts=True, required=("verificationMethod", "residence", "contactPhone")
    ),
    "registerUnemployment": Operation(
        unemployment_registration,
        acts=True,
        required=(
            "lastEmployer",
            "separationDate",
            "separationReason",
            "separationProof",
            "contactPhone",
        ),
        optional=("jobIntent",),
        pledgeable=("separationProof",),
    ),
    "issueEmploymentCertificate": Operation(
        employment_certificate,
        acts=True,
        required=("employmentStatus", "education", "photo", "contactPhone"),
    ),
    "enrolFlexibleWorker": Operation(
        flexible_employment_enrolment,
        acts=True,
        required=("insuranceScope", "baseRatio", "startMonth", "contactPhone"),
    ),
    "reportCardLoss": Operation(card_loss_report, acts=True, required=("lossKind", "contactPhone")),
    "registerEmployer": Operation(
        employer_registration,
        acts=True,
        required=("legalRepName", "legalRepId", "address", "taxRegistrationNo", "employeeCount", "contactPhone"),
        applicant_kinds=("organisation",),
    ),
    "applyCard": Operation(
        card_application,
        acts=True,
        required=("holderIdNumber", "holderName", "medicalInsuranceNo", "delivery", "contactPhone"),
    ),
}
