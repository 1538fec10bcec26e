"""What the medical insurance sandbox answers: its services, their fields and business rules.

Every answer is derived from the holder's ID number (hash-seeded), the
request's fields and today's date, never from randomness. The sandbox keeps
no register between services, so one sample person can exercise every item.

Business refusals (HTTP 200, ``errcode`` 2xxxx, ``data.reasons`` listing each):

- 20002 — 37030319720608351X (陈立新) already has employee medical insurance
  in Zibo, so resident enrolment would be a duplicate (重复参保) -- as the
  applicant or as a household member enrolling with one (one reason each).
- 20005 — the 中小学生及婴幼儿 group for someone 18 or older.
- 20006 — a newborn's ID number whose birth date differs from the birth date given.
- 20011 — an off-site care filing whose destination is Zibo itself.

SAMPLE DATA: every person, amount and number here is invented.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

EMPLOYEE_INSURED = {"37030319720608351X"}
INSTITUTIONS = ("房镇镇卫生院", "淄博市中心医院", "张店区人民医院", "马尚街道社区卫生服务中心")
# SAMPLE: yearly resident contribution and the government subsidy per insured resident.
RESIDENT_CONTRIBUTION, RESIDENT_SUBSIDY = 400, 700
CHRONIC_ANNUAL_LIMITS = {
    "高血压病": 600,
    "糖尿病": 800,
    "冠心病": 1000,
    "慢性阻塞性肺疾病": 1200,
    "恶性肿瘤门诊治疗": 80000,
    "尿毒症透析": 60000,
}


@dataclass(frozen=True)
class Holder:
    kind: str  # "person" or "organisation"
    id_number: str
    name: str


class Refusal(Exception):
    """A business refusal: ``errcode`` 2xxxx with one or more reasons."""

    def __init__(self, errcode: int, message: str, *reasons: str) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.message = message
        self.reasons = reasons or (message,)


class InvalidField(Exception):
    """A parameter is present but unusable (errcode 10001)."""


@dataclass(frozen=True)
class Service:
    """One API service: its handler, fields, and whether it changes anything."""

    handler: Callable[[Holder, Mapping[str, Any], str], dict[str, Any]]
    acts: bool
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    pledgeable: tuple[str, ...] = ()
    holder_kinds: tuple[str, ...] = ("person",)


def seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def born(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def _age(id_number: str) -> int:
    b, today = born(id_number), date.today()
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


def _psn_no(id_number: str) -> str:
    return f"3703030{seed('psn', id_number) % 10**11:011d}"


def _date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidField(f"{name} 应为 YYYY-MM-DD 格式的日期") from None


def _year(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(f"{name} 应为整数年份")
    return value


def check_attachment(name: str, value: Any) -> None:
    """An attachment must be ``{file_name, file_type, file_data}`` with base64 data."""
    if not isinstance(value, Mapping) or not value.get("file_type") or not isinstance(value.get("file_data"), str):
        raise InvalidField(f"{name} 应为附件对象 {{file_name, file_type, file_data}}")
    try:
        base64.b64decode(value["file_data"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidField(f"{name} 的 file_data 不是有效的 Base64 编码") from None


# --------------------------------------------------------------------------
# Services
# --------------------------------------------------------------------------


def _enrolment_refusals(who: str, id_number: str, group: str) -> list[tuple[int, str]]:
    """Why one person (the holder or a household member) cannot enrol, as (errcode, reason)."""
    found = []
    if id_number in EMPLOYEE_INSURED:
        found.append((20002, f"{who}已在淄博市参加职工基本医疗保险（参保状态：正常参保），不能重复参保"))
    if group == "中小学生及婴幼儿" and _age(id_number) >= 18:
        found.append((20005, f"{who}已年满18周岁，不属于中小学生及婴幼儿参保类别"))
    return found


def _members(holder: Holder, raw: Any) -> list[dict[str, str]]:
    """The household members enrolling with the holder (``biz.members``), each checked for its fields."""
    if raw in (None, ""):
        return []
    fields = ("name", "id_number", "relation", "population_group")
    if not isinstance(raw, list) or not all(
        isinstance(m, Mapping) and all(isinstance(m.get(f), str) and m[f] for f in fields) for m in raw
    ):
        raise InvalidField("members 应为家庭成员列表，每位含 name、id_number、relation、population_group")
    ids = [m["id_number"].upper() for m in raw]
    if holder.id_number.upper() in ids or len(set(ids)) != len(ids):
        raise InvalidField("members 中的家庭成员重复，或含参保人本人")
    return [{f: str(m[f]) for f in fields} for m in raw]


def resident_enrolment(holder: Holder, biz: Mapping[str, Any], serial: str) -> dict[str, Any]:
    """城乡居民基本医疗保险参保登记, for the holder and the household members enrolling with them."""
    group = str(biz["population_group"])
    members = _members(holder, biz.get("members"))
    refusals = _enrolment_refusals("参保人", holder.id_number, group)
    for n, member in enumerate(members, 1):
        refusals += _enrolment_refusals(
            f"家庭成员第{n}位（{member['name']}）", member["id_number"], member["population_group"]
        )
    if refusals:
        code = min(code for code, _ in refusals)
        reasons = [reason for _, reason in refusals]
        if code == 20002:
            reasons.append("同一时期只能参加一种基本医疗保险，如需转为居民医保，请先由单位办理职工医保停保")
            raise Refusal(code, "已参加职工基本医疗保险，不能重复参加城乡居民基本医疗保险", *reasons)
        raise Refusal(code, "参保人员类别不符", *reasons)
    year = _year(biz["enrolment_year"], "enrolment_year")
    enrolled = [
        {
            "psn_no": _psn_no(m["id_number"]),
            "name": m["name"],
            "relation": m["relation"],
            "population_group": m["population_group"],
        }
        for m in members
    ]
    return {
        "psn_no": _psn_no(holder.id_number),
        "insutype": "390",
        "insutype_name": "城乡居民基本医疗保险",
        "enrolment_year": year,
        "population_group": group,
        "annual_contribution": f"{RESIDENT_CONTRIBUTION:.2f}",
        "government_subsidy": f"{RESIDENT_SUBSIDY:.2f}",
        "household_members": enrolled,
        "household_contribution": f"{RESIDENT_CONTRIBUTION * (1 + len(enrolled)):.2f}",
        "status": "已登记，待缴费",
        "pay_channel": "国家税务总局淄博市张店区税务局（银行代收、线上缴费）",
        "benefit_from": f"{year}-01-01",
    }


def offsite_care_filing(holder: Holder, biz: Mapping[str, Any], serial: str) -> dict[str, Any]:
    """异地就医备案."""
    destination = str(biz["destination"])
    if "淄博" in destination:
        raise Refusal(20011, "就医地应为参保地（淄博市）以外的统筹地区")
    kind = str(biz["filing_type"])
    start = _date(biz["start_date"], "start_date")
    temporary = kind == "临时外出就医人员"
    return {
        "filing_no": f"YDBA{date.today():%Y%m%d}{seed(serial) % 10**6:06d}",
        "filing_type": kind,
        "destination": destination,
        "valid_from": start.isoformat(),
        "valid_to": (start + timedelta(days=180)).isoformat() if temporary else "长期有效",
        "settlement": "住院、普通门诊及门诊慢特病费用在就医地定点医药机构直接结算",
        "insuplc_name": "淄博市张店区",
    }


def contribution_record(holder: Holder, biz: Mapping[str, Any], serial: str) -> dict[str, Any]:
    """参保缴费记录查询: one line per year of the period."""
    start, end = _year(biz["start_year"], "start_year"), _year(biz["end_year"], "end_year")
    if end < start or end - start >= 10:
        raise InvalidField("查询年度区间应为 1 至 10 年，且截止年度不早于起始年度")
    s = seed(holder.id_number)
    employee = s % 3 == 0
    since = max(2012 + s % 8, born(holder.id_number).year)
    base = 4200 + (s >> 8) % 4000 // 10 * 10
    records: list[dict[str, Any]] = []
    for year in range(start, end + 1):
        if year < since or year > date.today().year:
            continue
        months = 12 if year < date.today().year else date.today().month
        if employee:
            records.append(
                {
                    "year": year,
                    "insutype_name": "职工基本医疗保险",
                    "months_paid": months,
                    "personal_amount": f"{base * 0.02 * months:.2f}",
                    "unit_amount": f"{base * 0.07 * months:.2f}",
                    "status": "足额缴费",
                }
            )
        else:
            records.append(
                {
                    "year": year,
                    "insutype_name": "城乡居民基本医疗保险",
                    "months_paid": 12,
                    "personal_amount": f"{RESIDENT_CONTRIBUTION - (2025 - year) * 20:.2f}",
                    "government_subsidy": f"{RESIDENT_SUBSIDY - (2025 - year) * 30:.2f}",
                    "status": "已缴费",
                }
            )
    return {
        "psn_no": _psn_no(holder.id_number),
        "psn_name": holder.name,
        "insured_since": since,
        "records": records,
        "total_personal": f"{sum(float(r['personal_amount']) for r in records):.2f}",
    }


def insurance_certificate(holder: Holder, biz: Mapping[str, Any], serial: str) -> dict[str, Any]:
    """参保凭证: the person's or employer's current insurance status."""
    s = seed(holder.id_number)
    number = f"张医保证字〔{date.today().year}〕{seed(holder.id_number, 'certificate') % 10**6:06d}号"
    common = {
        "certificate_no": number,
        "status": "正常参保",
        "insuplc_name": "淄博市张店区",
        "purpose": str(biz.get("purpose", "其他")),
        "valid_on": date.today().isoformat(),
    }
    if holder.kind == "organisation":
        return {
            **common,
            "emp_no": f"37030399{s % 10**8:08d}",
            "emp_name": holder.name,
            "insured_headcount": 5 + s % 80,
            "insured_since": f"{2010 + s % 12}-{1 + (s >> 4) % 12:02d}",
        }
    employee = s % 3 == 0
    return {
        **common,
        "psn_no": _psn_no(holder.id_number),
        "psn_name": holder.name,
        "insutype_name": "职工基本医疗保险" if employee else "城乡居民基本医疗保险",
        "insured_since": f"{max(2012 + s % 8, born(holder.id_number).year)}-01",
    }


def chronic_disease_qualification(holder: Holder, biz: Mapping[str, Any], serial: str) -> dict[str, Any]:
    """门诊慢特病待遇资格认定."""
    disease = str(biz["disease"])
    diagnosed = _date(biz["diagnosis_date"], "diagnosis_date")
    if diagnosed > date.today():
        raise InvalidField("diagnosis_date 不能晚于今天")
    today = date.today()
    return {
        "qualification_no": f"MTB{today:%Y%m%d}{seed(serial) % 10**6:06d}",
        "disease": disease,
        "diagnosing_hospital": str(biz["diagnosing_hospital"]),
        "valid_from": today.isoformat(),
        "valid_to": (today + timedelta(days=730)).isoformat(),
        "designated_institution": INSTITUTIONS[seed(holder.id_number) % len(INSTITUTIONS)],
        "annual_limit": f"{CHRONIC_ANNUAL_LIMITS.get(disease, 600):.2f}",
        "reimbursement_rate": "60%",
    }


def newborn_enrolment(holder: Holder, biz: Mapping[str, Any], serial: str) -> dict[str, Any]:
    """新生儿参保登记: enrolled by a guardian, covered from the day of birth."""
    newborn = str(biz["newborn_id_number"])
    birth = _date(biz["birth_date"], "birth_date")
    if newborn == holder.id_number or len(newborn) != 18 or born(newborn) != birth:
        raise Refusal(20006, "新生儿公民身份号码与出生日期不一致，请核对出生医学证明与户口登记信息")
    return {
        "psn_no": _psn_no(newborn),
        "newborn_name": str(biz["newborn_name"]),
        "insutype_name": "城乡居民基本医疗保险",
        "benefit_from": birth.isoformat(),
        "enrolment_year": date.today().year,
        "annual_contribution": f"{RESIDENT_CONTRIBUTION:.2f}",
        "guardian_name": holder.name,
        "guardian_relation": str(biz["guardian_relation"]),
        "status": "已登记，待缴费",
    }


def service_status() -> dict[str, Any]:
    """GET /api/v1/ping: what the health check reads."""
    return {"system": "张店区医疗保障信息平台服务接口", "version": "1.8.4"}


SERVICES: dict[str, Service] = {
    "insured/enrolments": Service(
        resident_enrolment,
        acts=True,
        required=("enrolment_year", "population_group", "household_register", "contact_phone"),
        optional=("members",),
        pledgeable=("household_register",),
    ),
    "offsite-care/filings": Service(
        offsite_care_filing,
        acts=True,
        required=("filing_type", "destination", "start_date", "residence_proof", "contact_phone"),
        pledgeable=("residence_proof",),
    ),
    "contributions/query": Service(contribution_record, acts=False, required=("start_year", "end_year")),
    "insured/certificates/query": Service(
        insurance_certificate, acts=False, required=(), optional=("purpose",), holder_kinds=("person", "organisation")
    ),
    "chronic-disease/qualifications": Service(
        chronic_disease_qualification,
        acts=True,
        required=("disease", "diagnosing_hospital", "diagnosis_date", "medical_records", "contact_phone"),
    ),
    "newborns/enrolments": Service(
        newborn_enrolment,
        acts=True,
        required=("newborn_id_number", "newborn_name", "birth_date", "birth_certificate_no", "guardian_relation"),
    ),
}
