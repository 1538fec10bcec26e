"""The tax bureau adapter: Onewindow requests in, the bureau's v2 API out.

The bureau signs nothing back but requires every call signed: HMAC-SHA256
over method, path, timestamp, a fresh nonce and the body's SHA-256, keyed
with the app secret. Submissions carry the gateway's request id as
``X-Request-Serial``, which the bureau uses to deduplicate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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

CATALOGUE = Path(__file__).with_name("catalogue.toml")
# item code -> (service path, is it a submission the bureau acts on?)
SERVICES: dict[str, tuple[str, bool]] = {
    "tax.payment-record": ("payment-records/query", False),
    "tax.income-record": ("income-records/query", False),
    "tax.credit-grade": ("credit-grades/query", False),
    "tax.clearance-certificate": ("clearance-certificates", True),
    "tax.individual-invoice": ("invoices/issue", True),
    "tax.business-registration": ("registrations", True),
    "tax.deed-tax-filing": ("deed-tax/filings", True),
}
_AUTH_CODES = {"1001", "1002", "1003", "1004"}
_CALL_CODES = {"3001", "3002"}


def signature(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """HMAC-SHA256 (base64) over "METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nhex(sha256(body))", as the bureau's spec says."""
    message = f"{method}\n{path}\n{timestamp}\n{nonce}\n{hashlib.sha256(body).hexdigest()}"
    return base64.b64encode(hmac.digest(secret.encode(), message.encode(), "sha256")).decode()


def _params(request: IntakeRequest) -> dict[str, Any]:
    """Materials as the bureau wants them: attachments as {media_type, filename, content}."""
    params: dict[str, Any] = {}
    for name, value in request.materials.items():
        if isinstance(value, dict) and "content_base64" in value:
            value = {
                "media_type": value["media_type"],
                "filename": value.get("filename", name),
                "content": value["content_base64"],
            }
        params[name] = value
    return params


class TaxAgency:
    """Adapter for the tax bureau's external service interface v2."""

    code = "tax"
    catalogue = CATALOGUE
    required_secrets = ("app_key", "app_secret")

    def __init__(self, identity: AgencyIdentity) -> None:
        self.identity = identity  # the district's, from [agencies.tax]

    async def _post(
        self, call: AgencyCall, path: str, payload: dict[str, Any] | None, *, serial: str | None = None
    ) -> dict[str, Any]:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        timestamp = str(int(time.time() * 1000))
        nonce = secrets.token_hex(12)
        url = call.url(path)
        method = "GET" if payload is None else "POST"
        signed = signature(call.secrets["app_secret"], method, urlsplit(url).path, timestamp, nonce, body)
        headers = {
            "X-App-Key": call.secrets["app_key"],
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Signature": signed,
            "Content-Type": "application/json",
        }
        if serial:
            headers["X-Request-Serial"] = serial
        async with call.session.request(method, url, data=body, headers=headers) as response:
            raw = await response.read()
            if response.status >= 500:
                raise AgencyUnavailable(f"tax bureau answered HTTP {response.status}")
            try:
                answer = json.loads(raw.decode("utf-8"))
                code = answer["code"]
            except (ValueError, KeyError, TypeError) as exc:
                raise AgencyProtocolError(f"tax bureau answer is not its JSON envelope: {exc}") from None
        if code in _AUTH_CODES:
            raise AgencyAuthError(f"tax bureau refused our signature: {code} {answer.get('message')}")
        if code in _CALL_CODES:
            raise AgencyRejectedCall(f"tax bureau refused the call: {code} {answer.get('message')}")
        if code == "9999":
            raise AgencyUnavailable(f"tax bureau is busy: {answer.get('message')}")
        return answer

    async def submit(self, request: IntakeRequest, call: AgencyCall) -> Outcome:
        path, acts = SERVICES[request.item]
        payload = {
            "taxpayer": {
                "id": request.applicant.id_number,
                "name": request.applicant.name,
                "kind": request.applicant.kind,
            },
            "params": _params(request),
        }
        call.log.info("tax.submit", service=path)
        answer = await self._post(call, f"api/v2/{path}", payload, serial=call.dedupe_key)
        if answer["code"] != "0000":
            return Rejected(
                (Reason(f"tax.{answer['code']}", str(answer.get("message", ""))),), reference=answer.get("trace_id")
            )
        data = answer.get("data")
        if not isinstance(data, dict):
            raise AgencyProtocolError("tax bureau answered success without data")
        reference = data.get("certificate_no") or data.get("voucher_no") or data.get("invoice_no")
        return Completed(document=data, reference=reference if acts or reference else None)

    async def poll(self, ticket: str, call: AgencyCall) -> Outcome:
        raise AgencyProtocolError("the tax bureau answers at once; it has no tickets to poll")

    async def health(self, call: AgencyCall) -> Health:
        answer = await self._post(call, "api/v2/ping", None)
        return Health(ok=answer["code"] == "0000", detail=str((answer.get("data") or {}).get("version", "")))
