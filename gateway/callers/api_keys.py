"""Bearer API keys: checked against the SHA-256 digests in the configuration; the gateway never stores a key.

Only where the district allows them (``[authentication] allow_api_key``):
anyone who sees one request can replay its key for good, so a new district
has callers sign their requests instead (:mod:`gateway.callers.signatures`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from aiohttp import web

from gateway.callers.model import Caller, caller_of
from gateway.config import CallerConfig, Settings
from gateway.problems import UNAUTHENTICATED, ProblemError


def hash_api_key(key: str) -> str:
    """The digest kept in configuration for an API key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A fresh random API key and its digest."""
    key = "ow_" + secrets.token_urlsafe(32)
    return key, hash_api_key(key)


def presented_key(request: web.Request) -> str | None:
    """The key of ``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``; None when neither is sent."""
    key = request.headers.get("X-Api-Key")
    auth = request.headers.get("Authorization", "")
    if key is None and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    return key


class ApiKeyMethod:
    """Accepts ``Authorization: Bearer <key>`` or ``X-Api-Key: <key>`` where the district allows API keys."""

    name = "api_key"

    def __init__(self, callers: Iterable[CallerConfig], settings: Settings) -> None:
        self.allowed = settings.authentication.allow_api_key
        self._by_digest: dict[str, Caller] = {}
        for c in callers:
            caller = caller_of(c, settings)
            for digest in c.api_key_sha256:  # two while the caller moves to a new key
                self._by_digest[digest] = caller

    async def authenticate(self, request: web.Request, body: bytes) -> Caller | None:
        key = presented_key(request)
        if key is None:
            return None
        if not self.allowed:
            raise ProblemError(
                UNAUTHENTICATED,
                "This district does not accept API keys: sign the request (RFC 9421, see docs/api.md).",
                "本区不接受 API 密钥认证，请对请求签名（RFC 9421）。",
                headers={"WWW-Authenticate": 'Signature realm="onewindow"'},
            )
        if not (key.isascii() and key.isprintable()):  # no key is anything else; bytes that are not UTF-8 neither
            key = ""
        digest = hash_api_key(key)
        for known, caller in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return caller
        raise ProblemError(
            UNAUTHENTICATED,
            "The API key is not valid.",
            "API 密钥无效。",
            headers={"WWW-Authenticate": 'Bearer realm="onewindow", error="invalid_token"'},
        )
