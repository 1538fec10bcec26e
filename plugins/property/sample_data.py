"""What the registration sandbox knows: who holds which property, and how registrations are decided.

Holdings are derived from the ID number (hash-seeded), so an applicant
always sees the same homes. Decisions are made when a case is accepted and
revealed only after the sandbox's decision delay. The protocol (token,
envelope, case timing) is :mod:`plugins.property.sandbox`'s job.

SAMPLE DATA: every person, address, unit number, certificate number and court docket is invented.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

KNOWN_NAMES = {
    "370303199001011239": "张伟",
    "370303198503120027": "王秀英",
    "370303200102145629": "刘芳",
    "91370303MA3C4XY85N": "淄博房镇鑫源商贸有限公司",
}
# 刘芳's home is sealed up by a court (查封): a mortgage on it is refused after review.
SEALED = {"370303200102145629": ("淄博市张店区人民法院", "(2025)鲁0303执1234号")}
STREETS = (
    "淄博市张店区房镇镇华光路366号",
    "淄博市张店区新村西路88号",
    "淄博市张店区房镇镇三赢路19号",
)
BUSINESS_NAMES = {
    "BZ": "不动产权证书补证",
    "HZ": "不动产权证书换证",
    "DYSC": "抵押权首次登记",
    "YGDJ": "预告登记",
    "BGDJ": "变更登记",
    "DYZX": "抵押权注销登记",
}
REQUIRED_PARAMS = {
    "BZ": ("bdcqzh", "bzyy"),
    "HZ": ("bdcqzh", "bzyy"),
    "DYSC": ("bdcqzh", "dyqr", "dyqrzjh", "bdbzzqse", "zwlxqssj", "zwlxjssj"),
    "YGDJ": ("wqbah", "ywr", "ywrzjh", "zl", "jyjg"),
    "BGDJ": ("bdcqzh", "bglx", "bghnr"),
    "DYZX": ("bdcdjzmh", "dyqr", "zxyy"),
}
# The paper each business needs, and its name for the one-time notice of what is missing.
REQUIRED_ATTACHMENTS = {
    "BZ": ("YSSM", "遗失（灭失）声明"),
    "HZ": ("YSSM", "原不动产权证书"),
    "DYSC": ("DYHT", "抵押合同"),
    "YGDJ": ("GFHT", "商品房买卖合同"),
    "BGDJ": ("BGZM", "变更证明材料"),
    "DYZX": ("ZQXM", "主债权消灭或同意注销的证明"),
}
# Papers a signed commitment (告知承诺书) may replace: only the loss statement.
PLEDGEABLE = {"YSSM"}
CERTIFICATE = re.compile(r"^鲁[(（]\d{4}[)）]张店区不动产权第\d{7}号$")
PROOF = re.compile(r"^鲁[(（]\d{4}[)）]张店区不动产证明第\d{7}号$")


class Refusal(Exception):
    """A business refusal (``B…``) or a parameter problem (``P…``) found when a request arrives."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Decision:
    """The outcome of a case, fixed at acceptance and revealed after review."""

    approved: bool
    certificate_no: str | None = None
    certificate_kind: str | None = None
    register_no: str | None = None
    unit: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    reasons: tuple[tuple[str, str], ...] = ()


def seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:6], "big")


def check_identity(applicant: dict[str, Any]) -> None:
    """The real-name check (实名核验) every request passes first."""
    if not applicant.get("zjh") or not applicant.get("qlrmc"):
        raise Refusal("P0400", "参数校验失败：申请人姓名（名称）和证件号码必填")
    known = KNOWN_NAMES.get(applicant["zjh"])
    if known is not None and applicant["qlrmc"] != known:
        raise Refusal("B1002", "权利人姓名（名称）与证件号码不一致")


def _unit(key: str, organisation: bool) -> dict[str, str]:
    s = seed(key, "unit")
    year = 2010 + s % 14
    if organisation:
        location, use = f"{STREETS[s % len(STREETS)]}商业楼1层{101 + s % 20}室", "商业"
    else:
        floor = 1 + s % 18
        location = f"{STREETS[s % len(STREETS)]}{1 + s % 12}号楼{1 + s % 3}单元{floor}{1 + s % 2:02d}室"
        use = "住宅"
    return {
        "bdcdyh": f"370303{105001 + s % 7:06d}GB{s % 99999:05d}F{(s >> 8) % 10**8:08d}",
        "bdcqzh": f"鲁({year})张店区不动产权第{(s >> 4) % 10**7:07d}号",
        "zl": location,
        "qllx": "国有建设用地使用权/房屋所有权",
        "yt": use,
        "mj": f"{60 + s % 90 + (s >> 12) % 100 / 100:.2f}",
        "qlxz": "出让/市场化商品房",
        "gyfs": "单独所有",
        "djsj": f"{year}-{1 + s % 12:02d}-{1 + s % 28:02d}",
    }


def holdings(applicant: dict[str, Any]) -> list[dict[str, str]]:
    """The properties registered to the applicant, with their mortgage and seizure state."""
    id_number = applicant["zjh"]
    organisation = applicant.get("qlrlx") == "2"
    count = 1 if organisation else 1 + seed(id_number, "count") % 2
    records = []
    for index in range(count):
        record = {"qlr": applicant["qlrmc"], **_unit(f"{id_number}#{index}", organisation)}
        record["dyzt"] = "已抵押" if seed(id_number, str(index), "mortgage") % 3 == 0 else "无抵押"
        record["cfzt"] = "无查封"
        if id_number in SEALED:
            record |= {"cfzt": "已查封", "cfjg": SEALED[id_number][0], "cfwh": SEALED[id_number][1]}
        records.append(record)
    return records


def inquiry(kind: str, applicant: dict[str, Any], params: dict[str, Any], today: date) -> dict[str, Any]:
    """Answer a DJXX (registration information) or QSZK (holdings) inquiry at once."""
    check_identity(applicant)
    if not params.get("cxmd"):
        raise Refusal("P0400", "参数校验失败：查询目的（cxmd）必填")
    records = holdings(applicant)
    answer = {
        "cxbh": f"CX{today:%Y%m%d}{seed(applicant['zjh'], kind, str(params)) % 10**6:06d}",
        "cxsj": today.isoformat(),
        "qlr": applicant["qlrmc"],
        "cxmd": params["cxmd"],
    }
    if kind == "DJXX":
        if params.get("cxfw") == "ZD":
            records = [r for r in records if r["bdcdyh"] == params.get("bdcdyh")]
            if not records:
                raise Refusal("B2003", "申请人不是该不动产单元的权利人，不能查询其登记信息")
        return answer | {"jls": len(records), "jl": records}
    if kind == "QSZK":
        where = f"经查询，截至{today:%Y年%m月%d日}，{applicant['qlrmc']}在张店区"
        statement = f"{where}登记有{len(records)}处不动产" if records else f"{where}无不动产登记记录"
        brief = [{k: r[k] for k in ("bdcqzh", "zl", "yt", "mj")} for r in records]
        return answer | {"jls": len(brief), "jl": brief, "sm": statement}
    raise Refusal("P0400", f"参数校验失败：不支持的查询类型 {kind}")


def accept(
    business: str,
    applicant: dict[str, Any],
    params: dict[str, Any],
    attachments: list[dict[str, Any]],
    commitment: dict[str, Any] | None,
) -> None:
    """The front-desk checks at acceptance (前台受理): parameters, formats and papers."""
    check_identity(applicant)
    if business not in BUSINESS_NAMES:
        raise Refusal("P0400", f"参数校验失败：不支持的业务类型 {business}")
    missing = [name for name in REQUIRED_PARAMS[business] if params.get(name) in (None, "")]
    if missing:
        raise Refusal("P0400", f"参数校验失败：缺少 {', '.join(missing)}")
    if "bdcqzh" in params and not CERTIFICATE.match(str(params["bdcqzh"])):
        raise Refusal("P0400", "参数校验失败：不动产权证书号格式不正确")
    if "bdcdjzmh" in params and not PROOF.match(str(params["bdcdjzmh"])):
        raise Refusal("P0400", "参数校验失败：不动产登记证明号格式不正确")
    category, paper = REQUIRED_ATTACHMENTS[business]
    pledged = category in PLEDGEABLE and commitment is not None
    if not pledged and not any(a.get("fjlb") == category and a.get("nr") for a in attachments):
        raise Refusal("B1004", f"申请材料不全：缺少{paper}，且未提交告知承诺书")


def decide(
    business: str,
    case_no: str,
    applicant: dict[str, Any],
    params: dict[str, Any],
    commitment: dict[str, Any] | None,
    today: date,
) -> Decision:
    """The review's outcome: 刘芳's sealed home cannot be mortgaged; the rest is registered."""
    id_number = applicant["zjh"]
    unit = _unit(
        str(params.get("bdcqzh") or params.get("bdcdjzmh") or params.get("wqbah")),
        applicant.get("qlrlx") == "2",
    )
    unit = {
        "bdcdyh": unit["bdcdyh"],
        "zl": str(params.get("zl") or unit["zl"]),
        "qlr": applicant["qlrmc"],
    }
    number = seed(case_no, "certificate") % 10**7
    if business == "DYSC" and id_number in SEALED:
        court, docket = SEALED[id_number]
        return Decision(
            False,
            unit=unit,
            reasons=(
                (
                    "R3102",
                    f"该不动产已被{court}查封（{docket}），依据《中华人民共和国民法典》第三百九十九条，"
                    "依法被查封的财产不得抵押，不予办理抵押权首次登记",
                ),
            ),
        )
    title = f"鲁({today.year})张店区不动产权第{number:07d}号"
    proof = f"鲁({today.year})张店区不动产证明第{number:07d}号"
    noted = {"cnjl": "申请人已签署告知承诺书，替代相应材料"} if commitment else {}
    if business in ("BZ", "HZ"):
        notice = "遗失声明已在登记中心门户网站公告15个工作日" if business == "BZ" else "原证书已收回作废"
        return Decision(
            True,
            title,
            "不动产权证书",
            unit=unit,
            details={"yzsh": params["bdcqzh"], "bzyy": params["bzyy"], "gg": notice, **noted},
        )
    if business == "DYSC":
        return Decision(
            True,
            proof,
            "不动产登记证明",
            unit=unit,
            details={
                "dyqr": params["dyqr"],
                "dyfs": params.get("dyfs", "一般抵押"),
                "bdbzzqse": params["bdbzzqse"],
                "zwlxqx": f"{params['zwlxqssj']}至{params['zwlxjssj']}",
                **noted,
            },
        )
    if business == "YGDJ":
        return Decision(
            True,
            proof,
            "不动产登记证明",
            unit=unit,
            details={
                "ygdjzl": "预购商品房买卖预告登记",
                "ywr": params["ywr"],
                "jyjg": params["jyjg"],
                **noted,
            },
        )
    if business == "BGDJ":
        return Decision(
            True,
            title,
            "不动产权证书",
            unit=unit,
            details={
                "yzsh": params["bdcqzh"],
                "bglx": params["bglx"],
                "bghnr": params["bghnr"],
                **noted,
            },
        )
    return Decision(
        True,
        register_no=f"张店登簿〔{today.year}〕第{number % 10**6:06d}号",
        unit=unit,
        details={
            "yzmh": params["bdcdjzmh"],
            "dyqr": params["dyqr"],
            "zxyy": params["zxyy"],
            **noted,
        },
    )
