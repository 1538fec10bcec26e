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

from gateway.catalogue.items import Catalogue, Item, matches_any
from gateway.config import CallbackPrefix, CallbackTarget, CallerConfig, Office, Settings, allowed
from gateway.problems import FORBIDDEN, UNAUTHENTICATED, ProblemError, echo
from gateway.store import RequestRecord


@dataclass(frozen=True)
class Caller:
    """An authenticated intake system, with the office it sits in."""

    id: str
    name: str
    office: Office
    channel: str
    items: tuple[str, ...]
    callback_secret: str = ""
    callback_prefixes: tuple[CallbackPrefix, ...] = ()
    read_office_requests: bool = False

    def may_call_back(self, target: CallbackTarget) -> bool:
        """Whether results may be POSTed to ``target``: signed (a secret) and under a configured prefix."""
        return bool(self.callback_secret) and allowed(target, self.callback_prefixes)


def hash_api_key(key: str) -> str:
    """The digest kept in configuration for an API key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A fresh random API key and its digest."""
    key = "ow_" + secrets.token_urlsafe(32)
    return key, hash_api_key(key)


def caller_of(config: CallerConfig, settings: Settings) -> Caller:
    """The caller a configuration entry describes, in its office."""
    office = settings.office(config.office)
    assert office is not None  # checked when the configuration was loaded
    return Caller(
        config.id,
        config.name,
        office,
        config.channel,
        config.items,
        config.callback_secret,
        config.callback_prefixes,
        config.read_office_requests,
    )


def caller_by_id(settings: Settings, caller_id: str) -> Caller | None:
    """The configured caller ``caller_id`` (work done later on its behalf, such as a bundle's next step)."""
    config = next((c for c in settings.callers if c.id == caller_id), None)
    return None if config is None else caller_of(config, settings)


class Authenticator(Protocol):
    """Turns an HTTP request into a :class:`Caller`, or raises a 401 problem."""

    def authenticate(self, request: web.Request) -> Caller: ...


class ApiKeyAuthenticator:
    """Accepts ``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``."""

    def __init__(self, callers: Iterable[CallerConfig], settings: Settings) -> None:
        self._by_digest: dict[str, Caller] = {}
        for c in callers:
            caller = caller_of(c, settings)
            for digest in c.api_key_sha256:  # two while the caller moves to a new key
                self._by_digest[digest] = caller

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


def _refusals(caller: Caller, item: Item, *, office: str, channel: str) -> list[tuple[str, str]]:
    """Why ``caller`` may not request ``item`` from ``office`` over ``channel`` (English, Chinese); empty if it may."""
    reasons: list[tuple[str, str]] = []
    if office != caller.office.code:
        reasons.append(
            (
                f"this caller belongs to office {caller.office.code}, not {echo(office)}",
                f"该终端隶属于 {caller.office.code}，不能代表 {echo(office)} 受理",
            )
        )
    if channel != caller.channel:
        reasons.append(
            (
                f"this caller is registered for channel '{caller.channel}', not '{echo(channel)}'",
                f"该终端登记的渠道为 {caller.channel}，不是 {echo(channel)}",
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
            (
                f"{item.code} cannot be requested over channel '{echo(channel)}'",
                f"该事项不能通过 {echo(channel)} 渠道办理",
            )
        )
    return reasons


def authorise(caller: Caller, item: Item, *, office: str, channel: str) -> None:
    """Raise a 403 problem unless ``caller`` may request ``item`` from ``office`` over ``channel``."""
    reasons = _refusals(caller, item, office=office, channel=channel)
    if reasons:
        raise ProblemError(
            FORBIDDEN,
            "; ".join(r[0] for r in reasons) + ".",
            "；".join(r[1] for r in reasons) + "。",
            item=item.code,
            caller=caller.id,
        )


def may_read(caller: Caller, record: RequestRecord, catalogue: Catalogue) -> bool:
    """Whether ``caller`` may see ``record``: the request it made itself, and nothing else -- unless
    the district set ``read_office_requests`` for it, which adds its office's requests for items it
    could have requested itself (its item list, its channel, its office level).

    A result names the applicant: a bank outlet sharing the town centre's
    office must not read the window's tax records, nor a kiosk a clearance
    certificate its channel may not even request.
    """
    if record.caller_id == caller.id:
        return True
    item = catalogue.get(record.item)
    if not caller.read_office_requests or item is None or record.office != caller.office.code:
        return False
    return not _refusals(caller, item, office=record.office, channel=caller.channel)
