"""The registration centre adapter: inquiries answered at once, registrations decided later.

The centre's external service interface (不动产登记信息管理平台对外服务接口):

* JSON over HTTP under ``/bdc/api/v1``; every call carries the partner id
  ``X-BDC-Client`` (``options.client_id``) and the API token ``X-BDC-Token``
  (``secrets.api_token``).
* Every answer is the envelope ``{"success", "code", "message", "result",
  "traceId"}``. ``code`` families: ``00000`` success; ``A…`` token or
  permission refused (AgencyAuthError); ``P…`` bad parameters or unknown case
  (AgencyRejectedCall); ``B…`` business refusal (Rejected); ``S…`` system down
  (AgencyUnavailable, with ``retryAfterSeconds``).
* ``POST /inquiries`` answers a query at once. ``POST /cases`` accepts a
  registration and answers its case number (受理编号) with
  ``estimatedWaitSeconds``; ``GET /cases/{caseNo}`` answers ``ACCEPTED`` /
  ``REVIEWING`` (with a fresh estimate) until the decision: ``APPROVED``
  (certificate or registration-proof number) or ``REJECTED`` (reasons).
* ``externalSerial`` is the gateway's request id: a resubmission returns the
  same case, never a second one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

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
    Pending,
    Reason,
    Rejected,
)
from plugins.property.services import SERVICES, readable

CATALOGUE = Path(__file__).with_name("catalogue.toml")
API = "bdc/api/v1"
UNDER_REVIEW = {"ACCEPTED", "REVIEWING"}
MIN_POLL_AFTER_S = 0.1
DEFAULT_POLL_AFTER_S = 600.0


class BusinessRefusal(Exception):
    """A ``B…`` answer: the centre refused the applicant, not the call."""

    def __init__(self, reason: Reason, trace_id: str | None) -> None:
        super().__init__(reason.message_zh)
        self.reason = reason
        self.trace_id = trace_id


def _retry_after(envelope: dict[str, Any], header: str | None) -> float | None:
    value = envelope.get("retryAfterSeconds", header)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _poll_after(result: dict[str, Any], call: AgencyCall) -> float:
    """Seconds until asking again: the centre's estimate, else the configured default."""
    estimate = result.get("estimatedWaitSeconds")
    if isinstance(estimate, bool) or not isinstance(estimate, int | float) or estimate < 0:
        return float(call.options.get("default_poll_after_s", DEFAULT_POLL_AFTER_S))
    return max(float(estimate), MIN_POLL_AFTER_S)


def _case_outcome(result: Any, call: AgencyCall) -> Outcome:
    """Translate a case's state into an outcome: still under review, approved or rejected.

    The case must be of the business the request asked for (``call.request``
    is there on polls too): a ticket mixed up with another applicant's case
    must never have that case's certificate sealed under this request.
    """
    if not isinstance(result, dict) or not isinstance(result.get("caseNo"), str) or not result["caseNo"]:
        raise AgencyProtocolError("registration centre answered a case without a case number")
    case_no, status = result["caseNo"], result.get("status")
    service = SERVICES.get(call.request.item) if call.request is not None else None
    if service is not None and call.request is not None:
        expected = service.business_type(call.request.materials)
        if result.get("businessType") != expected:
            raise AgencyProtocolError(
                f"case {case_no} is a {result.get('businessType')!r} case, "
                f"but {call.request.item} is business {expected!r}"
            )
    if status in UNDER_REVIEW:
        return Pending(
            ticket=case_no,
            poll_after=_poll_after(result, call),
            message=f"{result.get('statusText') or '审核中'}（受理编号 {case_no}）",
            reference=case_no,
        )
    if status == "APPROVED":
        reference = result.get("certificateNo") or result.get("registerNo")
        if not reference:
            raise AgencyProtocolError(f"case {case_no} is approved but carries no certificate number")
        document = {
            "case_no": case_no,
            "business": result.get("businessName"),
            "status": result.get("statusText"),
            "decided_at": result.get("decidedAt"),
            "certificate_no": result.get("certificateNo"),
            "certificate_kind": result.get("certificateKind"),
            "register_no": result.get("registerNo"),
            "unit_number": result.get("bdcdyh"),
            "location": result.get("zl"),
            "right_holder": result.get("qlr"),
            "details": readable(result.get("details") or {}),
        }
        return Completed(document={k: v for k, v in document.items() if v is not None}, reference=reference)
    if status == "REJECTED":
        reasons = tuple(
            Reason(f"property.{r.get('code')}", str(r.get("text", "")))
            for r in result.get("reasons") or []
            if isinstance(r, dict) and r.get("code")
        )
        if not reasons:
            raise AgencyProtocolError(f"case {case_no} is rejected but the centre gave no reasons")
        return Rejected(reasons, reference=case_no)
    raise AgencyProtocolError(f"case {case_no} has a status the plugin does not know: {status!r}")


class PropertyAgency:
    """Adapter for the registration centre's JSON interface (``/bdc/api/v1``)."""

    code = "property"
    catalogue = CATALOGUE
    required_secrets = ("api_token",)
    required_options = ("client_id",)

    def __init__(self, identity: AgencyIdentity) -> None:
        self.identity = identity  # the district's, from [agencies.property]

    async def _call(self, call: AgencyCall, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        headers = {
            "X-BDC-Client": str(call.options["client_id"]),
            "X-BDC-Token": call.secrets["api_token"],
            "Accept": "application/json",
        }
        async with call.session.request(method, call.url(f"{API}/{path}"), json=payload, headers=headers) as response:
            raw = await response.read()
            status, retry_header = response.status, response.headers.get("Retry-After")
        try:
            envelope = json.loads(raw.decode("utf-8"))
            success, code = envelope["success"], str(envelope.get("code", ""))
        except (ValueError, KeyError, TypeError):
            if status >= 500:
                raise AgencyUnavailable(f"registration centre answered HTTP {status}") from None
            raise AgencyProtocolError(f"registration centre answered HTTP {status} without its JSON envelope") from None
        if success is True:
            return envelope.get("result")
        message = str(envelope.get("message", ""))
        family = code[:1]
        if family == "A":
            raise AgencyAuthError(f"registration centre refused our token: {code} {message}")
        if family == "P":
            raise AgencyRejectedCall(f"registration centre refused the call: {code} {message}")
        if family == "S" or status >= 500:
            raise AgencyUnavailable(
                f"registration centre is not serving: {code} {message}",
                retry_after=_retry_after(envelope, retry_header),
            )
        if family == "B":
            raise BusinessRefusal(Reason(f"property.{code}", message), envelope.get("traceId"))
        raise AgencyProtocolError(f"registration centre answered an undocumented code {code!r}")

    async def submit(self, request: IntakeRequest, call: AgencyCall) -> Outcome:
        service = SERVICES.get(request.item)
        if service is None:
            raise AgencyRejectedCall(f"the registration centre has no service for {request.item}")
        call.log.info("property.submit", item=request.item, service=service.code)
        payload = service.payload(request, call.dedupe_key)
        try:
            if service.kind == "inquiry":
                result = await self._call(call, "POST", "inquiries", payload)
                if not isinstance(result, dict):
                    raise AgencyProtocolError("registration centre answered an inquiry without a result")
                return Completed(document=readable(result), reference=result.get("cxbh"))
            return _case_outcome(await self._call(call, "POST", "cases", payload), call)
        except BusinessRefusal as refusal:
            return Rejected((refusal.reason,), reference=refusal.trace_id)

    async def poll(self, ticket: str, call: AgencyCall) -> Outcome:
        call.log.info("property.poll", case_no=ticket)
        try:
            return _case_outcome(await self._call(call, "GET", f"cases/{quote(ticket, safe='')}"), call)
        except BusinessRefusal as refusal:
            return Rejected((refusal.reason,), reference=ticket)

    async def health(self, call: AgencyCall) -> Health:
        result = await self._call(call, "GET", "system/status")
        if not isinstance(result, dict):
            raise AgencyProtocolError("registration centre answered its status without a result")
        return Health(ok=result.get("status") == "UP", detail=str(result.get("version", "")))
