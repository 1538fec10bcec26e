"""The housing fund adapter: Onewindow requests in, the centre's GBK form transactions out.

Each catalogue item is one transaction code (``txcode``) of the centre's
legacy interface (see :mod:`plugins.housing_fund.wire` for the format and
the MD5 signature). Submissions carry the gateway's request id as ``lsh``
(流水号), which the centre uses to act on a transaction once. The answer's
own status codes decide the outcome:

====== ============================================ =========================
code   meaning                                      becomes
====== ============================================ =========================
0000   交易成功                                      Completed
1xxx   business refusal (no account, open loan…)    Rejected, with RETMSG
7xxx   malformed request, unknown transaction       AgencyRejectedCall
8xxx   signature / partner code / clock refused     AgencyAuthError
9xxx   system down, end-of-day batch, busy          AgencyUnavailable
====== ============================================ =========================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.contract import (
    AgencyAuthError,
    AgencyCall,
    AgencyIdentity,
    AgencyProtocolError,
    AgencyRejectedCall,
    AgencyUnavailable,
    Completed,
    Health,
    IntakeRequest,
    Outcome,
    Reason,
    Rejected,
)
from plugins.housing_fund import wire
from plugins.housing_fund.fields import document_of

CATALOGUE = Path(__file__).with_name("catalogue.toml")
ENDPOINT = "gjj/interface.do"
ECHO_TXCODE = "9000"
Converter = Callable[[Any], str]


def _text(value: Any) -> str:
    return str(value).strip()


def _flag(value: Any) -> str:
    return "1" if value else "0"


def _amount(value: Any) -> str:
    return f"{float(value):.2f}"


def _compact(value: Any) -> str:
    """``2025-03-01`` -> ``20250301``, ``2025-12`` -> ``202512``: the centre's date formats."""
    return str(value).replace("-", "")


@dataclass(frozen=True)
class Transaction:
    """How one item maps onto a transaction: its code, form fields and the answer's reference."""

    txcode: str
    fields: Mapping[str, tuple[str, Converter]]
    attachments: Mapping[str, str] = field(default_factory=dict)
    reference_field: str | None = None
    acts: bool = False

    def form(self, materials: Mapping[str, Any]) -> dict[str, str]:
        """The item's own form fields, attachments as ``fjlx/fjmc/fjnr<n>`` triples."""
        out: dict[str, str] = {}
        for material, (name, convert) in self.fields.items():
            if materials.get(material) not in (None, ""):
                out[name] = convert(materials[material])
        count = 0
        for material, kind in self.attachments.items():
            value = materials.get(material)
            if not isinstance(value, Mapping) or "content_base64" not in value:
                continue
            count += 1
            out[f"fjlx{count}"] = kind
            out[f"fjmc{count}"] = str(value.get("filename") or f"{material}.bin")
            out[f"fjnr{count}"] = value["content_base64"]
        if count:
            out["fjsl"] = str(count)
        return out


TRANSACTIONS: dict[str, Transaction] = {
    "housing_fund.account-query": Transaction("2001", {"include_details": ("mxbz", _flag), "months": ("mxys", _text)}),
    "housing_fund.loan-record-query": Transaction("2002", {"loan_status": ("dkzt", _text)}),
    "housing_fund.employer-deposit-query": Transaction("2003", {"year_month": ("cxny", _compact)}),
    "housing_fund.deposit-certificate": Transaction(
        "1101",
        {"purpose": ("zmyt", _text), "months": ("zmys", _text)},
        reference_field="ZMBH",
        acts=True,
    ),
    "housing_fund.rent-withdrawal": Transaction(
        "1201",
        {
            "monthly_rent": ("yzj", _amount),
            "lease_start": ("zlqsrq", _compact),
            "lease_end": ("zljzrq", _compact),
            "bank_card": ("skkh", _text),
        },
        attachments={"lease_contract": "ZLHT", "no_house_proof": "WFZM"},
        reference_field="TQDH",
        acts=True,
    ),
    "housing_fund.employer-registration": Transaction(
        "1301",
        {
            "legal_rep_name": ("fddbr", _text),
            "legal_rep_id": ("fddbrzjhm", _text),
            "contact_phone": ("lxdh", _text),
            "deposit_ratio": ("jcbl", _text),
            "employee_count": ("jcrs", _text),
            "first_month": ("scjcny", _compact),
            "social_insurance_no": ("sbdwbh", _text),
        },
        attachments={"business_licence": "YYZZ"},
        reference_field="DWZH",
        acts=True,
    ),
    "housing_fund.account-transfer": Transaction(
        "1401",
        {
            "from_centre": ("zczx", _text),
            "from_account": ("ygrzh", _text),
            "contact_phone": ("lxdh", _text),
        },
        reference_field="ZYDH",
        acts=True,
    ),
}

_ENGLISH = {
    "1001": "No housing fund account is registered under this ID number",
    "1002": "The name does not match the ID number",
    "1203": "The applicant has an unsettled housing fund loan; rent withdrawal is not allowed",
    "1204": "Proof of owning no home is missing and no pledge was signed in its place",
}


class HousingFundAgency:
    """Adapter for the sub-centre's legacy form interface (``/gjj/interface.do``)."""

    code = "housing_fund"
    catalogue = CATALOGUE
    required_secrets = ("sign_key",)
    required_options = ("orgcode",)

    def __init__(self, identity: AgencyIdentity) -> None:
        self.identity = identity  # the district's, from [agencies.housing_fund]

    async def _transact(self, call: AgencyCall, txcode: str, fields: Mapping[str, str]) -> wire.Answer:
        orgcode, key = str(call.options["orgcode"]), call.secrets["sign_key"]
        form = {"txcode": txcode, "orgcode": orgcode, "timestamp": wire.timestamp(), **fields}
        form["sign"] = wire.signature(form, key)
        headers = {
            "Content-Type": f"application/x-www-form-urlencoded; charset={wire.CHARSET.upper()}",
            "Accept": "text/plain",
        }
        async with call.session.post(call.url(ENDPOINT), data=wire.encode_form(form), headers=headers) as response:
            raw = await response.read()
            if response.status >= 500:
                raise AgencyUnavailable(f"housing fund answered HTTP {response.status}")
            if response.status != 200:
                raise AgencyProtocolError(f"housing fund answered HTTP {response.status}")
        answer = wire.parse_answer(raw)
        family = answer.code[0]
        if family == "8":
            raise AgencyAuthError(f"housing fund refused our credentials: {answer.code} {answer.message}")
        if family == "7":
            raise AgencyRejectedCall(f"housing fund refused the call: {answer.code} {answer.message}")
        if family == "9":
            raise AgencyUnavailable(f"housing fund is not serving: {answer.code} {answer.message}")
        if answer.code != "0000" and family != "1":
            raise AgencyProtocolError(f"housing fund answered an undocumented code {answer.code}")
        return answer

    async def submit(self, request: IntakeRequest, call: AgencyCall) -> Outcome:
        transaction = TRANSACTIONS.get(request.item)
        if transaction is None:
            raise AgencyRejectedCall(f"housing fund has no transaction for {request.item}")
        applicant = request.applicant
        person = applicant.kind == "person"
        fields = {
            "lsh": call.dedupe_key,
            "zjlx": "01" if person else "10",
            "zjhm": applicant.id_number,
            ("xingming" if person else "dwmc"): applicant.name,
            **transaction.form(request.materials),
        }
        if request.pledge is not None:
            # 告知承诺: the centre records the signed commitment in place of the named proofs.
            fields |= {
                "cnbz": "1",
                "cnnr": request.pledge.statement,
                "cnsj": request.pledge.signed_at,
            }
        call.log.info("housing_fund.submit", item=request.item, txcode=transaction.txcode)
        answer = await self._transact(call, transaction.txcode, fields)
        if answer.code != "0000":
            reason = Reason(f"housing_fund.{answer.code}", answer.message, _ENGLISH.get(answer.code))
            return Rejected((reason,), reference=answer.serial)
        reference = answer.record.get(transaction.reference_field or "") or (
            answer.serial if transaction.acts else None
        )
        return Completed(document=document_of(transaction.txcode, answer), reference=reference)

    async def poll(self, ticket: str, call: AgencyCall) -> Outcome:
        raise AgencyProtocolError("the housing fund centre answers at once; it has no tickets to poll")

    async def health(self, call: AgencyCall) -> Health:
        answer = await self._transact(call, ECHO_TXCODE, {"lsh": call.dedupe_key})
        return Health(ok=answer.code == "0000", detail=answer.record.get("BBH", ""))
