"""OAuth 2.0 client credentials (RFC 6749 §4.4) for the medical insurance bureau's API.

A :class:`TokenSource` holds one client's current access token and renews
it shortly before it expires, so calls normally never meet an expired
token. Renewal is serialised by an ``asyncio.Lock``: twenty calls that find
the token stale cause one request to the token endpoint, not twenty. A call
whose token the API refused (401 ``invalid_token``, e.g. revoked early)
asks to renew *that* token; if another call already replaced it, the new
one is reused, so concurrent refusals also share one renewal.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass
from urllib.parse import quote_plus

from gateway.contract import (
    AgencyAuthError,
    AgencyCall,
    AgencyProtocolError,
    AgencyRejectedCall,
    AgencyUnavailable,
)

TOKEN_PATH = "oauth/token"
DEFAULT_REFRESH_MARGIN_S = 60.0
# Never renew earlier than this share of a token's lifetime before it ends.
MAX_MARGIN_SHARE = 0.2
_CLIENT_ERRORS = {"invalid_client", "unauthorized_client"}


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and, in ``time.monotonic()`` terms, when to renew it and when it dies."""

    value: str
    renew_at: float
    expires_at: float

    def fresh(self, now: float) -> bool:
        return now < self.renew_at

    def alive(self, now: float) -> bool:
        return now < self.expires_at


def basic_credentials(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` value of RFC 6749 §2.3.1: both parts form-encoded, then Basic."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


class TokenSource:
    """The access token of one client at one token endpoint, shared by every call."""

    def __init__(self, token_url: str, refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S) -> None:
        self.token_url = token_url
        self.refresh_margin_s = refresh_margin_s
        self.obtained = 0
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()

    async def bearer(self, call: AgencyCall) -> str:
        """A token to send now: the cached one while fresh, else a renewed one.

        If renewing fails because the bureau is down but the cached token
        has not expired yet, the cached token is used rather than failing.
        """
        token = self._token
        if token is not None and token.fresh(time.monotonic()):
            return token.value
        try:
            return await self.renew(call, stale=None if token is None else token.value)
        except AgencyUnavailable:
            if token is not None and token.alive(time.monotonic()):
                call.log.warning("medical.token_renewal_failed", using="current token until it expires")
                return token.value
            raise

    async def renew(self, call: AgencyCall, *, stale: str | None) -> str:
        """Replace the token ``stale`` (one renewal at a time; a newer token is reused)."""
        async with self._lock:
            token = self._token
            if token is not None and token.value != stale and token.fresh(time.monotonic()):
                return token.value
            self._token = await self._request(call)
            self.obtained += 1
            call.log.info("medical.token_obtained", obtained=self.obtained)
            return self._token.value

    async def _request(self, call: AgencyCall) -> AccessToken:
        sent = time.monotonic()
        headers = {
            "Authorization": basic_credentials(call.secrets["client_id"], call.secrets["client_secret"]),
            "Accept": "application/json",
        }
        form = {"grant_type": "client_credentials"}
        async with call.session.post(self.token_url, data=form, headers=headers) as response:
            raw = await response.read()
            status = response.status
            retry_after = response.headers.get("Retry-After", "")
        if status >= 500:
            raise AgencyUnavailable(
                f"medical insurance token endpoint answered HTTP {status}",
                retry_after=float(retry_after) if retry_after.isdigit() else None,
            )
        try:
            answer = json.loads(raw.decode("utf-8"))
            if not isinstance(answer, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise AgencyProtocolError(f"token endpoint answer is not JSON: {exc}") from None
        if status != 200:
            said = f"{answer.get('error')}: {answer.get('error_description', '')}"
            if answer.get("error") in _CLIENT_ERRORS:
                raise AgencyAuthError(f"medical insurance bureau refused our client credentials ({said})")
            raise AgencyRejectedCall(f"medical insurance token endpoint refused the request ({said})")
        value, kind, lifetime = answer.get("access_token"), answer.get("token_type"), answer.get("expires_in")
        if not isinstance(value, str) or not value or str(kind).lower() != "bearer":
            raise AgencyProtocolError("token endpoint answered without a bearer access_token")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            raise AgencyProtocolError(f"token endpoint answered an unusable expires_in: {lifetime!r}")
        margin = min(self.refresh_margin_s, lifetime * MAX_MARGIN_SHARE)
        return AccessToken(value, renew_at=sent + lifetime - margin, expires_at=sent + lifetime)
