"""Which registration business each item is, and how its materials become the centre's parameters.

The registration centre's API names parameters by the pinyin initials of
the fields of the national registration data standard (``bdcqzh`` 不动产权
证书号, ``bdcdyh`` 不动产单元号, ``dyqr`` 抵押权人 …). Attachments travel as
``{"fjlb", "wjmc", "wjlx", "nr"}`` (category, file name, media type, base64).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.contract import IntakeRequest

# ID kinds of the registration data standard: 1 居民身份证, 7 营业执照（统一社会信用代码）.
ID_KINDS = {"resident_id": "1", "credit_code": "7"}
# Registrant kinds: 1 个人, 2 企业.
HOLDER_KINDS = {"person": "1", "organisation": "2"}
QUERY_SCOPES = {"本人名下全部不动产": "QB", "指定不动产单元": "ZD"}
# 补证 when the certificate is lost or destroyed, 换证 when it is damaged or wrong.
REISSUE_KINDS = {
    "遗失补证": "BZ",
    "灭失补证": "BZ",
    "破损换证": "HZ",
    "污损换证": "HZ",
    "填制错误换证": "HZ",
}


@dataclass(frozen=True)
class Service:
    """One item as the centre knows it: an inquiry type or a business type, and its parameters."""

    kind: str  # "inquiry" (answered at once) or "case" (accepted now, decided later)
    code: str  # inquiryType or businessType
    params: Mapping[str, str]
    attachments: Mapping[str, str] = field(default_factory=dict)

    def business_type(self, materials: Mapping[str, Any]) -> str:
        """The business type; title reissue is 补证 or 换证 depending on the reason."""
        if self.code == "BZHZ":
            return REISSUE_KINDS.get(str(materials.get("reason")), "BZ")
        return self.code

    def payload(self, request: IntakeRequest, serial: str) -> dict[str, Any]:
        """The JSON body of an inquiry or a case submission."""
        materials = request.materials
        params: dict[str, Any] = {}
        for material, name in self.params.items():
            value = materials.get(material)
            if value in (None, ""):
                continue
            params[name] = QUERY_SCOPES.get(value, value) if name == "cxfw" else value
        applicant = request.applicant
        body: dict[str, Any] = {
            "externalSerial": serial,
            "applicant": {
                "qlrmc": applicant.name,
                "zjzl": ID_KINDS.get(applicant.id_type, "99"),
                "zjh": applicant.id_number,
                "qlrlx": HOLDER_KINDS[applicant.kind],
            },
            "params": params,
        }
        if self.kind == "inquiry":
            body["inquiryType"] = self.code
            return body
        body["businessType"] = self.business_type(materials)
        body["attachments"] = [
            {
                "fjlb": category,
                "wjmc": value.get("filename") or f"{material}.bin",
                "wjlx": value["media_type"],
                "nr": value["content_base64"],
            }
            for material, category in self.attachments.items()
            if isinstance(value := materials.get(material), Mapping) and "content_base64" in value
        ]
        if request.pledge is not None:
            pledge = request.pledge
            body["commitment"] = {
                "tdcl": list(pledge.replaces),
                "cnnr": pledge.statement,
                "cnr": pledge.signed_by,
                "cnsj": pledge.signed_at,
            }
        return body


SERVICES: dict[str, Service] = {
    "property.registration-query": Service(
        "inquiry", "DJXX", {"query_scope": "cxfw", "unit_number": "bdcdyh", "purpose": "cxmd"}
    ),
    "property.holdings-query": Service("inquiry", "QSZK", {"purpose": "cxmd", "include_cancelled": "hlzx"}),
    "property.title-reissue": Service(
        "case",
        "BZHZ",
        {"certificate_no": "bdcqzh", "reason": "bzyy"},
        attachments={"loss_statement": "YSSM"},
    ),
    "property.mortgage-registration": Service(
        "case",
        "DYSC",
        {
            "certificate_no": "bdcqzh",
            "mortgagee_name": "dyqr",
            "mortgagee_credit_code": "dyqrzjh",
            "mortgage_method": "dyfs",
            "secured_amount": "bdbzzqse",
            "debt_start": "zwlxqssj",
            "debt_end": "zwlxjssj",
        },
        attachments={"mortgage_contract": "DYHT"},
    ),
    "property.advance-notice": Service(
        "case",
        "YGDJ",
        {
            "filing_contract_no": "wqbah",
            "developer_name": "ywr",
            "developer_credit_code": "ywrzjh",
            "location": "zl",
            "price": "jyjg",
        },
        attachments={"purchase_contract": "GFHT"},
    ),
    "property.change-registration": Service(
        "case",
        "BGDJ",
        {"certificate_no": "bdcqzh", "change_kind": "bglx", "new_value": "bghnr"},
        attachments={"change_proof": "BGZM"},
    ),
    "property.mortgage-cancellation": Service(
        "case",
        "DYZX",
        {
            "proof_no": "bdcdjzmh",
            "mortgagee_name": "dyqr",
            "mortgagee_credit_code": "dyqrzjh",
            "cancel_reason": "zxyy",
        },
        attachments={"discharge_proof": "ZQXM"},
    ),
}

# The centre's field names in answers, and what the result document calls them.
FIELD_NAMES: dict[str, str] = {
    "cxbh": "inquiry_no",  # 查询编号
    "cxsj": "queried_at",  # 查询时间
    "cxmd": "purpose",  # 查询目的
    "qlr": "right_holder",  # 权利人
    "bdcdyh": "unit_number",  # 不动产单元号
    "bdcqzh": "certificate_no",  # 不动产权证书号
    "zl": "location",  # 坐落
    "qllx": "right_type",  # 权利类型
    "yt": "use",  # 用途
    "mj": "floor_area",  # 建筑面积（平方米）
    "qlxz": "right_nature",  # 权利性质
    "gyfs": "co_ownership",  # 共有方式
    "djsj": "registered_on",  # 登记时间
    "dyzt": "mortgage_status",  # 抵押状态
    "cfzt": "seizure_status",  # 查封状态
    "cfjg": "seizing_authority",  # 查封机关
    "cfwh": "seizure_docket",  # 查封文号
    "jls": "record_count",  # 记录数
    "jl": "records",  # 登记记录
    "sm": "statement",  # 说明
    "yzsh": "original_certificate_no",  # 原证书号
    "bzyy": "reason",  # 补换证原因
    "gg": "public_notice",  # 公告情况
    "dyqr": "mortgagee",  # 抵押权人
    "dyfs": "mortgage_method",  # 抵押方式
    "bdbzzqse": "secured_amount",  # 被担保主债权数额（元）
    "zwlxqx": "debt_term",  # 债务履行期限
    "ygdjzl": "notice_kind",  # 预告登记种类
    "ywr": "obligor",  # 义务人
    "jyjg": "price",  # 交易价格（元）
    "bglx": "change_kind",  # 变更类型
    "bghnr": "new_value",  # 变更后内容
    "zxyy": "cancellation_reason",  # 注销原因
    "yzmh": "cancelled_proof_no",  # 注销的登记证明号
    "cnjl": "commitment",  # 告知承诺记录
}


def readable(value: Any) -> Any:
    """Rename the centre's keys (recursively); unknown keys are kept as they are."""
    if isinstance(value, Mapping):
        return {FIELD_NAMES.get(k, k): readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [readable(v) for v in value]
    return value
