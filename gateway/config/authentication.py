"""The ``[authentication]`` section: how callers may prove who they are, district-wide.

A bearer API key can be replayed by anyone who sees one request (a proxy
log, a mirrored port), so a new district accepts signed requests (RFC 9421)
only: ``allow_api_key`` is off in the defaults and on in the sample
district. ``max_skew_seconds`` bounds how far a signature's ``created``
may be from the gateway's clock; a nonce is remembered for
``nonce_lifetime_seconds``, which must cover the whole window a signature
is accepted in (twice the skew), or a replay after the nonce was forgotten
would pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from gateway.config.values import refuse_unknown


@dataclass(frozen=True)
class AuthenticationSettings:
    """District-wide rules of caller authentication."""

    allow_api_key: bool = False  # accept Authorization: Bearer <key> from callers that list "api_key"
    max_skew_seconds: int = 300  # a signature's `created` may differ this much from the gateway's clock
    nonce_lifetime_seconds: int = 600  # how long a signature's nonce is remembered (>= 2 * max_skew_seconds)


AUTHENTICATION_KEYS = frozenset(f.name for f in fields(AuthenticationSettings))


def _seconds(table: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"authentication.{key}: a whole number of seconds from {low} to {high}, not {value!r}")
    return value


def parse_authentication_settings(table: Any) -> AuthenticationSettings:
    """``[authentication]`` as :class:`AuthenticationSettings`; ``ValueError`` naming the key when wrong."""
    if not isinstance(table, Mapping):
        raise ValueError("authentication: must be a table")
    refuse_unknown(table, AUTHENTICATION_KEYS, "authentication")
    allow = table.get("allow_api_key", False)
    if not isinstance(allow, bool):
        raise ValueError(f"authentication.allow_api_key: true or false, not {allow!r}")
    skew = _seconds(table, "max_skew_seconds", AuthenticationSettings.max_skew_seconds, 1, 3600)
    lifetime = _seconds(table, "nonce_lifetime_seconds", AuthenticationSettings.nonce_lifetime_seconds, 2, 86400)
    if lifetime < 2 * skew:
        raise ValueError(
            f"authentication.nonce_lifetime_seconds: {lifetime} is shorter than twice max_skew_seconds ({2 * skew}): "
            "a signature would still be accepted after its nonce was forgotten, and could be replayed"
        )
    return AuthenticationSettings(allow_api_key=allow, max_skew_seconds=skew, nonce_lifetime_seconds=lifetime)
