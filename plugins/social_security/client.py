"""The HRSS bureau adapter: Onewindow requests in, SOAP 1.1 calls to its public web service out.

Every envelope carries a fresh WS-Security UsernameToken, so the password
never crosses the extranet: only Base64(SHA-1(nonce + created + password)).
Submissions carry the gateway's request id as ``<si:businessSerial>``, on
which the bureau deduplicates.

The bureau answers every error with a SOAP Fault (HTTP 500); the fault is
classified by the bureau's detail code first, because a business refusal
and a broken request are both ``soap:Client``:

- ``AUTH-*``      -> :class:`AgencyAuthError` (our credentials or clock)
- ``BIZ-*``       -> :class:`Rejected`, one :class:`Reason` per ``<si:reason>``
- ``soap:Server`` -> :class:`AgencyUnavailable`, passing on ``<si:retryAfter>``
- other Client    -> :class:`AgencyRejectedCall` (we sent something wrong)
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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
from plugins.social_security.soap import (
    BASE64_BINARY,
    CONTENT_TYPE,
    PASSWORD_DIGEST,
    SERVICE_PATH,
    SOAP_ENV,
    WSSE,
    WSU,
    UnsafeXml,
    add,
    local_name,
    parse_xml,
    qn,
    si,
    soap_action,
    to_bytes,
)

CATALOGUE = Path(__file__).with_name("catalogue.toml")


@dataclass(frozen=True)
class Operation:
    """One WSDL operation and how an item's materials map onto its body elements."""

    name: str
    elements: Mapping[str, str]  # material name -> element name


OPERATIONS: dict[str, Operation] = {
    "social_security.payment-certificate": Operation(
        "issuePaymentCertificate",
        {
            "start_month": "startMonth",
            "end_month": "endMonth",
            "insurance_type": "insuranceType",
            "purpose": "purpose",
        },
    ),
    "social_security.resident-pension-enrolment": Operation(
        "enrolResidentPension",
        {
            "contribution_grade": "contributionGrade",
            "household_register": "householdRegister",
            "contact_phone": "contactPhone",
        },
    ),
    "social_security.pension-eligibility": Operation(
        "confirmPensionEligibility",
        {
            "verification_method": "verificationMethod",
            "residence": "residence",
            "contact_phone": "contactPhone",
        },
    ),
    "social_security.unemployment-registration": Operation(
        "registerUnemployment",
        {
            "last_employer": "lastEmployer",
            "separation_date": "separationDate",
            "separation_reason": "separationReason",
            "separation_proof": "separationProof",
            "job_intent": "jobIntent",
            "contact_phone": "contactPhone",
        },
    ),
    "social_security.employment-certificate": Operation(
        "issueEmploymentCertificate",
        {
            "employment_status": "employmentStatus",
            "education": "education",
            "photo": "photo",
            "contact_phone": "contactPhone",
        },
    ),
    "social_security.flexible-employment-enrolment": Operation(
        "enrolFlexibleWorker",
        {
            "insurance_scope": "insuranceScope",
            "base_ratio": "baseRatio",
            "start_month": "startMonth",
            "contact_phone": "contactPhone",
        },
    ),
    "social_security.card-loss-report": Operation(
        "reportCardLoss", {"loss_kind": "lossKind", "contact_phone": "contactPhone"}
    ),
    "social_security.employer-registration": Operation(
        "registerEmployer",
        {
            "legal_rep_name": "legalRepName",
            "legal_rep_id": "legalRepId",
            "business_address": "address",
            "tax_registration_no": "taxRegistrationNo",
            "employee_count": "employeeCount",
            "contact_phone": "contactPhone",
        },
    ),
    "social_security.card-application": Operation(
        "applyCard",
        {
            "holder_id_number": "holderIdNumber",
            "holder_name": "holderName",
            "medical_insurance_no": "medicalInsuranceNo",
            "delivery": "delivery",
            "contact_phone": "contactPhone",
        },
    ),
}
_ID_TYPES = {"person": "resident_id", "organisation": "credit_code"}


@dataclass(frozen=True)
class Fault:
    """A SOAP Fault as the bureau fills it in."""

    kind: str  # faultcode's local part: Client, Server, VersionMismatch, MustUnderstand
    message: str
    code: str
    reasons: tuple[Reason, ...]
    retry_after: float | None


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """PasswordDigest of the WS-Security UsernameToken profile 1.0."""
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()


def security_header(username: str, password: str) -> ET.Element:
    """A ``wsse:Security`` header with a UsernameToken using a fresh nonce and the current time."""
    nonce = secrets.token_bytes(16)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    security = ET.Element(qn(WSSE, "Security"), {qn(SOAP_ENV, "mustUnderstand"): "1"})
    token = ET.SubElement(security, qn(WSSE, "UsernameToken"))
    ET.SubElement(token, qn(WSSE, "Username")).text = username
    ET.SubElement(token, qn(WSSE, "Password"), {"Type": PASSWORD_DIGEST}).text = password_digest(
        nonce, created, password
    )
    ET.SubElement(token, qn(WSSE, "Nonce"), {"EncodingType": BASE64_BINARY}).text = base64.b64encode(nonce).decode()
    ET.SubElement(token, qn(WSU, "Created")).text = created
    return security


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def operation_element(request: IntakeRequest, operation: Operation, serial: str) -> ET.Element:
    """The body element of ``operation`` for ``request``, in the bureau's namespace."""
    root = ET.Element(si(operation.name))
    add(root, "businessSerial", serial)
    holder = add(root, "applicant")
    add(holder, "idType", _ID_TYPES[request.applicant.kind])
    add(holder, "idNumber", request.applicant.id_number)
    add(holder, "name", request.applicant.name)
    for material, value in request.materials.items():
        if value is None or value == "":
            continue
        element = add(root, operation.elements[material])
        if isinstance(value, Mapping) and "content_base64" in value:
            element.set("mediaType", str(value["media_type"]))
            element.set("fileName", str(value.get("filename") or material))
            element.text = str(value["content_base64"])
        else:
            element.text = _value(value)
    if request.pledge is not None:
        commitment = add(root, "commitment")
        for material in request.pledge.replaces:
            add(commitment, "replaces", operation.elements.get(material, material))
        add(commitment, "statement", request.pledge.statement)
        add(commitment, "signedBy", request.pledge.signed_by)
        add(commitment, "signedAt", request.pledge.signed_at)
    acceptance = add(root, "acceptance")
    add(acceptance, "office", request.office)
    add(acceptance, "operator", request.operator)
    add(acceptance, "channel", request.channel)
    return root


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def as_document(element: ET.Element) -> Any:
    """``<si:return>`` as JSON data: ``<records><record>…`` becomes a list, names snake_case."""
    children = list(element)
    if not children:
        return (element.text or "").strip()
    names = [local_name(child.tag) for child in children]
    if len(set(names)) == 1 and local_name(element.tag) == names[0] + "s":
        return [as_document(child) for child in children]
    return {_snake(name): as_document(child) for name, child in zip(names, children, strict=True)}


def read_fault(fault: ET.Element) -> Fault:
    """The parts of a ``soap:Fault`` the adapter acts on."""
    code_text = fault.findtext("faultcode") or fault.findtext(qn(SOAP_ENV, "faultcode")) or ""
    message = (fault.findtext("faultstring") or fault.findtext(qn(SOAP_ENV, "faultstring")) or "").strip()
    kind = code_text.strip().rsplit(":", 1)[-1].split(".", 1)[0]
    detail = fault.find("detail")
    if detail is None:
        detail = fault.find(qn(SOAP_ENV, "detail"))
    detail = detail if detail is not None else ET.Element("detail")
    reasons = tuple(
        Reason(
            f"social_security.{r.findtext(si('code'), '').strip()}",
            r.findtext(si("message"), "").strip(),
        )
        for r in detail.iterfind(f"{si('reasons')}/{si('reason')}")
    )
    return Fault(
        kind=kind,
        message=message,
        code=detail.findtext(si("errorCode"), "").strip(),
        reasons=reasons,
        retry_after=_seconds(detail.findtext(si("retryAfter"))),
    )


def _seconds(text: str | None) -> float | None:
    try:
        return float(text) if text and text.strip() else None
    except ValueError:
        return None


class SocialSecurityAgency:
    """Adapter for the HRSS bureau's public web service (SiPublicService)."""

    code = "social_security"
    catalogue = CATALOGUE
    required_secrets = ("username", "password")

    def __init__(self, identity: AgencyIdentity) -> None:
        self.identity = identity  # the district's, from [agencies.social_security]

    async def _invoke(self, call: AgencyCall, operation: str, payload: ET.Element) -> ET.Element | Fault:
        """Send one envelope; the ``<si:return>`` element of the answer, or its fault."""
        envelope = ET.Element(qn(SOAP_ENV, "Envelope"))
        ET.SubElement(envelope, qn(SOAP_ENV, "Header")).append(
            security_header(call.secrets["username"], call.secrets["password"])
        )
        ET.SubElement(envelope, qn(SOAP_ENV, "Body")).append(payload)
        headers = {"Content-Type": CONTENT_TYPE, "SOAPAction": soap_action(operation)}
        url = call.url(str(call.options.get("service_path", SERVICE_PATH)))
        async with call.session.post(url, data=to_bytes(envelope), headers=headers) as response:
            raw = await response.read()
            status = response.status
        try:
            root = parse_xml(raw)
        except (UnsafeXml, ET.ParseError) as exc:
            if status >= 500:
                raise AgencyUnavailable(f"HRSS bureau answered HTTP {status} without a SOAP envelope") from None
            raise AgencyProtocolError(f"HRSS bureau answer is not usable XML: {exc}") from None
        body = root.find(qn(SOAP_ENV, "Body"))
        if root.tag != qn(SOAP_ENV, "Envelope") or body is None or len(body) == 0:
            if status >= 500:
                raise AgencyUnavailable(f"HRSS bureau answered HTTP {status} without a SOAP envelope")
            raise AgencyProtocolError("HRSS bureau answer is not a SOAP 1.1 envelope with a body")
        if body[0].tag == qn(SOAP_ENV, "Fault"):
            return read_fault(body[0])
        result = body[0].find(si("return"))
        if status != 200 or body[0].tag != si(f"{operation}Response") or result is None:
            raise AgencyProtocolError(
                f"HRSS bureau answered HTTP {status} with {local_name(body[0].tag)!r}, not {operation}Response/return"
            )
        return result

    @staticmethod
    def _refusal(fault: Fault) -> Rejected:
        """A business fault as a :class:`Rejected`; raises for every other fault."""
        said = f"{fault.code or fault.kind} {fault.message}".strip()
        if fault.code.startswith("AUTH-"):
            raise AgencyAuthError(f"HRSS bureau refused our security token: {said}")
        if fault.code.startswith("BIZ-"):
            reasons = fault.reasons or (Reason(f"social_security.{fault.code}", fault.message),)
            return Rejected(reasons)
        if fault.kind == "Server":
            raise AgencyUnavailable(f"HRSS bureau is unavailable: {said}", retry_after=fault.retry_after)
        if fault.kind in ("Client", "VersionMismatch", "MustUnderstand"):
            raise AgencyRejectedCall(f"HRSS bureau refused the call: {said}")
        raise AgencyProtocolError(f"HRSS bureau sent a fault with an unknown faultcode: {said}")

    async def submit(self, request: IntakeRequest, call: AgencyCall) -> Outcome:
        operation = OPERATIONS[request.item]
        call.log.info("social_security.submit", operation=operation.name)
        answer = await self._invoke(call, operation.name, operation_element(request, operation, call.dedupe_key))
        if isinstance(answer, Fault):
            return self._refusal(answer)
        document = as_document(answer)
        if not isinstance(document, dict) or not document.get("business_no"):
            raise AgencyProtocolError("HRSS bureau answered without a business number")
        return Completed(document=document, reference=str(document["business_no"]))

    async def poll(self, ticket: str, call: AgencyCall) -> Outcome:
        raise AgencyProtocolError("the HRSS bureau answers every operation at once; it has no tickets to poll")

    async def health(self, call: AgencyCall) -> Health:
        answer = await self._invoke(call, "getServiceStatus", ET.Element(si("getServiceStatus")))
        if isinstance(answer, Fault):
            self._refusal(answer)
            raise AgencyProtocolError(f"HRSS bureau answered its status check with {answer.code}")
        status = answer.findtext(si("status"), "").strip()
        return Health(ok=status == "NORMAL", detail=answer.findtext(si("version"), "").strip())
