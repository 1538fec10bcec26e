"""Callers: the intake systems allowed to use the gateway, and how they prove it.

Authentication sits behind one seam, :class:`Authenticator`, so signed
requests or mutual TLS can be added without touching the router. Today's
implementation checks an API key against the SHA-256 digests in the
configuration; the gateway never stores a key itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from gateway.catalogue.items import Item, matches_any
from gateway.config import CallerConfig, Office, Settings
from gateway.problems import FORBIDDEN, UNAUTHENTICATED, ProblemError


@dataclass(frozen=True)
class Caller:
    """An authenticated intake system, with the office it sits in."""

    id: str
    name: str
    office: Office
    channel: str
    items: tuple[str, ...]
    callback_secret: str = ""
    callback_prefixes: tuple[str, ...] = ()


def hash_api_key(key: str) -> str:
    """The digest kept in configuration for an API key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A fresh random API key and its digest."""
    key = "ow_" + secrets.token_urlsafe(32)
    return key, hash_api_key(key)


class Authenticator(Protocol):
    """Turns an HTTP request into a :class:`Caller`, or raises a 401 problem."""

    def authenticate(self, request: web.Request) -> Caller: ...


class ApiKeyAuthenticator:
    """Accepts ``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``."""

    def __init__(self, callers: Iterable[CallerConfig], settings: Settings) -> None:
        self._by_digest: dict[str, Caller] = {}
        for c in callers:
            office = settings.office(c.office)
            assert office is not None  # checked when the configuration was loaded
            self._by_digest[c.api_key_sha256] = Caller(
                c.id, c.name, office, c.channel, c.items, c.callback_secret, c.callback_prefixes
            )

    def authenticate(self, request: web.Request) -> Caller:
        key = request.headers.get("X-Api-Key")
        auth = request.headers.get("Authorization", "")
        if key is None and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if not key:
            raise ProblemError(
                UNAUTHENTICATED,
                "Send the API key as 'Authorization: Bearer <key>'.",
                "请在 Authorization 头中以 Bearer 方式提供 API 密钥。",
                headers={"WWW-Authenticate": 'Bearer realm="onewindow"'},
            )
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


def authorise(caller: Caller, item: Item, *, office: str, channel: str) -> None:
    """Raise a 403 problem unless ``caller`` may request ``item`` from ``office`` over ``channel``."""
    reasons: list[tuple[str, str]] = []
    if office != caller.office.code:
        reasons.append(
            (
                f"this caller belongs to office {caller.office.code}, not {office}",
                f"该终端隶属于 {caller.office.code}，不能代表 {office} 受理",
            )
        )
    if channel != caller.channel:
        reasons.append(
            (
                f"this caller is registered for channel {caller.channel!r}, not {channel!r}",
                f"该终端登记的渠道为 {caller.channel}，不是 {channel}",
            )
        )
    if not matches_any(item.code, caller.items):
        reasons.append((f"this caller may not request {item.code}", f"该终端无权办理事项 {item.code}"))
    if caller.office.level not in item.office_levels:
        reasons.append(
            (
                f"{item.code} cannot be accepted at a {caller.office.level} office",
                f"{caller.office.name}（{caller.office.level}）不能受理该事项",
            )
        )
    if channel not in item.channels:
        reasons.append(
            (f"{item.code} cannot be requested over channel {channel!r}", f"该事项不能通过 {channel} 渠道办理")
        )
    if reasons:
        raise ProblemError(
            FORBIDDEN,
            "; ".join(r[0] for r in reasons) + ".",
            "；".join(r[1] for r in reasons) + "。",
            item=item.code,
            caller=caller.id,
        )


def may_read(caller: Caller, record_caller_id: str, record_office: str, record_item: str) -> bool:
    """Whether ``caller`` may see a request: its own, or one of its office for an item it may handle itself.

    A partner outlet in a town centre must not read the window's results for
    items it may not request (they carry the applicant's identity).
    """
    if record_caller_id == caller.id:
        return True
    return record_office == caller.office.code and matches_any(record_item, caller.items)
