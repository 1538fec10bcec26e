"""The medical insurance bureau adapter: Onewindow requests in, its JSON API out.

Every API call carries an OAuth 2.0 bearer token from :mod:`.oauth`. A
token the API refuses with 401 ``invalid_token`` is renewed once and the
call repeated once, so a request never fails because a token expired or
was revoked; a second refusal means our client is not allowed at all
(:class:`AgencyAuthError`).

The bureau's envelope is ``{"errcode", "errmsg", "biz_no", "data"}``:

- ``0``        -> :class:`Completed` with ``data``; ``biz_no`` is the reference
- ``2xxxx``    -> :class:`Rejected` (business refusal), ``data.reasons`` when given
- ``1xxxx``    -> :class:`AgencyRejectedCall` (our parameters)
- ``4xxxx``    -> :class:`AgencyAuthError` (after the one renewal)
- ``5xxxx`` / HTTP 5xx -> :class:`AgencyUnavailable`, honouring ``Retry-After``

Submissions carry the gateway's request id as ``serial_no``, on which the
bureau deduplicates.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.contract import (
    AgencyAuthError,
    AgencyCall,
    AgencyIdentity,
    AgencyProtocolError,
    AgencyRejectedCall,
    AgencyUnavailable,
    Applicant,
    Completed,
    Health,
    IntakeRequest,
    Outcome,
    Reason,
    Rejected,
)
from plugins.medical.oauth import DEFAULT_REFRESH_MARGIN_S, TOKEN_PATH, TokenSource

CATALOGUE = Path(__file__).with_name("catalogue.toml")
# item code -> (API path under api/v1, is it a submission the bureau acts on?)
SERVICES: dict[str, tuple[str, bool]] = {
    "medical.resident-enrolment": ("insured/enrolments", True),
    "medical.offsite-care-filing": ("offsite-care/filings", True),
    "medical.contribution-record": ("contributions/query", False),
    "medical.insurance-certificate": ("insured/certificates/query", False),
    "medical.chronic-disease-qualification": ("chronic-disease/qualifications", True),
    "medical.newborn-enrolment": ("newborns/enrolments", True),
}
_BEARER_ERROR = re.compile(r'error="([^"]*)"')


@dataclass(frozen=True)
class _Answer:
    status: int
    challenge: str  # WWW-Authenticate
    retry_after: str
    raw: bytes


def bearer_error(challenge: str) -> str | None:
    """The ``error`` parameter of a ``WWW-Authenticate: Bearer …`` challenge (RFC 6750 §3)."""
    if not challenge.strip().lower().startswith("bearer"):
        return None
    found = _BEARER_ERROR.search(challenge)
    return found.group(1) if found else None


def _seconds(value: str) -> float | None:
    try:
        return float(value) if value.strip() else None
    except ValueError:
        return None  # an HTTP date: the core's own backoff applies


def _holder(applicant: Applicant) -> dict[str, Any]:
    """The insured person (``psn``, certificate type 01 = resident ID) or employer (``emp``)."""
    if applicant.kind == "organisation":
        return {"emp": {"uscc": applicant.id_number, "emp_name": applicant.name}}
    return {"psn": {"psn_cert_type": "01", "certno": applicant.id_number, "psn_name": applicant.name}}


def _biz(materials: Mapping[str, Any]) -> dict[str, Any]:
    """Materials as the bureau names them; attachments as ``{file_name, file_type, file_data}``."""
    biz: dict[str, Any] = {}
    for name, value in materials.items():
        if isinstance(value, Mapping) and "content_base64" in value:
            value = {
                "file_name": value.get("filename") or name,
                "file_type": value["media_type"],
                "file_data": value["content_base64"],
            }
        biz[name] = value
    return biz


def request_body(request: IntakeRequest, serial: str) -> dict[str, Any]:
    """The JSON body of a service call for ``request``."""
    body: dict[str, Any] = {"serial_no": serial, **_holder(request.applicant), "biz": _biz(request.materials)}
    if request.pledge is not None:
        body["commitment"] = {
            "replaces": list(request.pledge.replaces),
            "statement": request.pledge.statement,
            "signed_by": request.pledge.signed_by,
            "signed_at": request.pledge.signed_at,
        }
    body["acceptance"] = {"office": request.office, "operator": request.operator, "channel": request.channel}
    return body


def read_envelope(answer: _Answer) -> dict[str, Any]:
    """The bureau's envelope when it is a success or a business refusal; raises for the rest."""
    try:
        envelope = json.loads(answer.raw.decode("utf-8"))
        errcode = envelope["errcode"]
        if isinstance(errcode, bool) or not isinstance(errcode, int):
            raise TypeError("errcode is not an integer")
    except (ValueError, KeyError, TypeError) as exc:
        if answer.status >= 500:
            raise AgencyUnavailable(
                f"medical insurance bureau answered HTTP {answer.status}", retry_after=_seconds(answer.retry_after)
            ) from None
        raise AgencyProtocolError(f"medical insurance answer is not its JSON envelope: {exc}") from None
    said = f"{errcode} {envelope.get('errmsg', '')}".strip()
    if answer.status >= 500 or errcode >= 50000:
        raise AgencyUnavailable(
            f"medical insurance bureau is unavailable: {said}", retry_after=_seconds(answer.retry_after)
        )
    if answer.status in (401, 403) or 40000 <= errcode < 50000:
        raise AgencyAuthError(f"medical insurance bureau refused our access token: {said}")
    if 10000 <= errcode < 20000 or answer.status >= 400:
        raise AgencyRejectedCall(f"medical insurance bureau refused the call: {said}")
    if errcode != 0 and not 20000 <= errcode < 30000:
        raise AgencyProtocolError(f"medical insurance bureau answered an unknown errcode: {said}")
    return envelope


def _dict(value: Any) -> dict[str, Any]:
    """``value`` when the bureau sent an object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _rejection(envelope: dict[str, Any]) -> Rejected:
    data = _dict(envelope.get("data"))
    listed = data.get("reasons")
    listed = listed if isinstance(listed, list) else []
    reasons = tuple(
        Reason(f"medical.{r.get('code', envelope['errcode'])}", str(r.get("msg", "")))
        for r in listed
        if isinstance(r, dict)
    )
    fallback = (Reason(f"medical.{envelope['errcode']}", str(envelope.get("errmsg", ""))),)
    return Rejected(reasons or fallback, reference=envelope.get("biz_no"))


class MedicalAgency:
    """Adapter for the medical insurance bureau's service API v1."""

    code = "medical"
    catalogue = CATALOGUE
    required_secrets = ("client_id", "client_secret")

    def __init__(self, identity: AgencyIdentity) -> None:
        self.identity = identity  # the district's, from [agencies.medical]
        self._token_sources: dict[tuple[str, str, str], TokenSource] = {}

    def token_source(self, call: AgencyCall) -> TokenSource:
        """The token source of this call's credentials (one per token URL and client)."""
        url = call.url(str(call.options.get("token_path", TOKEN_PATH)))
        secret = hashlib.sha256(call.secrets["client_secret"].encode()).hexdigest()
        key = (url, call.secrets["client_id"], secret)
        source = self._token_sources.get(key)
        if source is None:
            margin = float(call.options.get("token_refresh_margin_s", DEFAULT_REFRESH_MARGIN_S))
            source = self._token_sources[key] = TokenSource(url, margin)
        return source

    async def _send(self, call: AgencyCall, method: str, path: str, body: bytes | None, token: str) -> _Answer:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        async with call.session.request(method, call.url(path), data=body, headers=headers) as response:
            return _Answer(
                status=response.status,
                challenge=response.headers.get("WWW-Authenticate", ""),
                retry_after=response.headers.get("Retry-After", ""),
                raw=await response.read(),
            )

    async def _call(self, call: AgencyCall, method: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        """One API call, renewing the token once if the API says it is invalid."""
        body = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        tokens = self.token_source(call)
        token = await tokens.bearer(call)
        answer = await self._send(call, method, path, body, token)
        if answer.status == 401 and bearer_error(answer.challenge) == "invalid_token":
            call.log.info("medical.token_refused", action="renew once and repeat the call")
            token = await tokens.renew(call, stale=token)
            answer = await self._send(call, method, path, body, token)
        return read_envelope(answer)

    async def submit(self, request: IntakeRequest, call: AgencyCall) -> Outcome:
        path, _acts = SERVICES[request.item]
        call.log.info("medical.submit", service=path)
        envelope = await self._call(call, "POST", f"api/v1/{path}", request_body(request, call.dedupe_key))
        if envelope["errcode"] != 0:
            return _rejection(envelope)
        data = envelope.get("data")
        if not isinstance(data, dict) or not envelope.get("biz_no"):
            raise AgencyProtocolError("medical insurance bureau answered success without data or biz_no")
        return Completed(document=data, reference=str(envelope["biz_no"]))

    async def poll(self, ticket: str, call: AgencyCall) -> Outcome:
        raise AgencyProtocolError("the medical insurance bureau answers at once; it has no tickets to poll")

    async def health(self, call: AgencyCall) -> Health:
        envelope = await self._call(call, "GET", "api/v1/ping", None)
        data = _dict(envelope.get("data"))
        return Health(ok=envelope["errcode"] == 0, detail=str(data.get("version", "")))
