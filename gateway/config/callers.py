"""The ``[[offices]]`` and ``[[callers]]`` tables: who may call the gateway, from which office.

Each caller's settings are checked when the configuration loads, so a typo
stops the start with a message naming the key: an unknown key is refused
rather than ignored (a misspelt ``read_office_requests`` must not silently
leave a caller with less, or more, than the district meant), two callers may
not share a key (the key is what tells callers apart), and every callback
prefix is parsed the way callback URLs are
(:mod:`gateway.config.callback_urls`). Whether each ``items`` pattern
matches an installed item is checked at start-up, once the catalogue is
loaded (:mod:`gateway.startup`).

``methods`` lists how a caller may prove who it is: ``"signature"`` (RFC 9421
signed requests, with keys kept in the store: ``onewindow caller add-key``)
and ``"api_key"`` (a bearer key whose digest is configured here), the latter
only where ``[authentication] allow_api_key`` is on. Without ``methods``, a
caller may sign, and use its API key when it has one configured.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from gateway.catalogue.items import CHANNELS, OFFICE_LEVELS
from gateway.config.callback_urls import CallbackPrefix, parse_callback_prefix
from gateway.config.limits import RateLimit, parse_caller_limits
from gateway.config.values import get_value, refuse_unknown, shown
from gateway.errors import ConfigError, UnsafeCallbackUrl

_OFFICE_CODE = re.compile(r"^\d{12}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

#: How a caller may authenticate, as ``methods`` names them (gateway.callers implements each).
AUTH_METHODS = ("mtls", "signature", "api_key")


@dataclass(frozen=True)
class Office:
    """A service centre or station that accepts requests (the 首问 office)."""

    code: str
    name: str
    level: str


@dataclass(frozen=True)
class CallerConfig:
    """An intake system allowed to call the gateway."""

    id: str
    name: str
    office: str
    channel: str
    items: tuple[str, ...]
    api_key_sha256: tuple[str, ...]  # one digest, or two while a key is being replaced; none without "api_key"
    callback_secret: str = ""
    callback_prefixes: tuple[CallbackPrefix, ...] = ()
    read_office_requests: bool = False  # may read its office's requests for items it may request itself
    methods: tuple[str, ...] = ("signature",)  # how it may authenticate (AUTH_METHODS)
    rate_limit: RateLimit | None = None  # at most this many requests in any window (gateway.config.limits)
    max_concurrent: int = 0  # intake calls in flight at once; 0 = no limit


CALLER_KEYS = frozenset(f.name for f in fields(CallerConfig))
OFFICE_KEYS = frozenset(f.name for f in fields(Office))


def parse_offices(rows: Any) -> dict[str, Office]:
    """``[[offices]]`` by code."""
    if not isinstance(rows, list):
        raise ConfigError("offices: must be a list of [[offices]] tables")
    out: dict[str, Office] = {}
    for i, row in enumerate(rows):
        where = f"offices[{i}]"
        if not isinstance(row, Mapping):
            raise ConfigError(f"{where}: must be a table")
        refuse_unknown(row, OFFICE_KEYS, where)
        code = get_value(row, "code", str, where)
        if not _OFFICE_CODE.match(code):
            raise ConfigError(f"{where}.code: must be a 12-digit administrative division code")
        level = get_value(row, "level", str, where)
        if level not in OFFICE_LEVELS:
            raise ConfigError(f"{where}.level: must be one of {', '.join(OFFICE_LEVELS)}")
        if code in out:
            raise ConfigError(f"{where}.code: office {code} is declared twice")
        out[code] = Office(code=code, name=get_value(row, "name", str, where), level=level)
    return out


def parse_callers(rows: Any, offices: Mapping[str, Office], *, allow_api_key: bool = True) -> tuple[CallerConfig, ...]:
    """``[[callers]]``, each checked against the declared offices and the district's ``allow_api_key``."""
    if not isinstance(rows, list):
        raise ConfigError("callers: must be a list of [[callers]] tables")
    out: list[CallerConfig] = []
    seen: dict[str, str] = {}  # id -> where
    keys: dict[str, str] = {}  # key digest -> where
    for i, row in enumerate(rows):
        where = f"callers[{i}]"
        if not isinstance(row, Mapping):
            raise ConfigError(f"{where}: must be a table")
        refuse_unknown(row, CALLER_KEYS, where)
        caller = _caller(row, where, offices, allow_api_key)
        if caller.id in seen:
            raise ConfigError(f"{where}.id: caller {caller.id!r} is declared twice (also {seen[caller.id]})")
        for digest in caller.api_key_sha256:
            if digest in keys:
                # the key alone says who is calling: two callers with one key are one caller with two configurations
                raise ConfigError(
                    f"{where}.api_key_sha256: the same key digest as {keys[digest]}: "
                    "every caller needs a key of its own ('onewindow caller new-key')"
                )
            keys[digest] = f"{where} ({caller.id})"
        seen[caller.id] = where
        out.append(caller)
    return tuple(out)


def _methods(row: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """``methods``: how the caller may authenticate.

    By default a client certificate the district issued it (only where the
    gateway asks for them) and signing, plus its API key when it has one.
    """
    value = row.get("methods")
    if value is None:
        return ("mtls", "signature", "api_key") if row.get("api_key_sha256") is not None else ("mtls", "signature")
    if not isinstance(value, list) or not value or not all(isinstance(m, str) for m in value):
        raise ConfigError(f"{where}.methods: a non-empty list of {', '.join(AUTH_METHODS)}")
    for method in value:
        if method not in AUTH_METHODS:
            raise ConfigError(f"{where}.methods: {shown(method)} is not one of {', '.join(AUTH_METHODS)}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where}.methods: lists a method twice")
    if "api_key" in value and row.get("api_key_sha256") is None:
        raise ConfigError(f"{where}.methods: lists api_key, but the caller has no api_key_sha256")
    if "api_key" not in value and row.get("api_key_sha256") is not None:
        raise ConfigError(f"{where}.api_key_sha256: the caller's methods do not include api_key: remove the digest")
    return tuple(value)


def _key_digests(row: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """``api_key_sha256``: one digest, or a list of two while the caller moves to a new key; none for a signer."""
    value = row.get("api_key_sha256")
    if value is None:
        return ()
    listed = [value] if isinstance(value, str) else value
    if not isinstance(listed, list) or not 1 <= len(listed) <= 2 or not all(isinstance(d, str) for d in listed):
        raise ConfigError(
            f"{where}.api_key_sha256: one key digest, or a list of two while a key is replaced (docs/operations.md)"
        )
    digests = tuple(d.lower() for d in listed)
    if not all(_SHA256.match(d) for d in digests):
        raise ConfigError(f"{where}.api_key_sha256: must be 64 hex characters (see 'onewindow caller new-key')")
    if len(set(digests)) != len(digests):
        raise ConfigError(f"{where}.api_key_sha256: lists the same digest twice")
    return digests


def _caller(row: Mapping[str, Any], where: str, offices: Mapping[str, Office], allow_api_key: bool) -> CallerConfig:
    caller_id = get_value(row, "id", str, where)
    office = get_value(row, "office", str, where)
    if office not in offices:
        raise ConfigError(f"{where}.office: {office!r} is not a declared office")
    channel = get_value(row, "channel", str, where)
    if channel not in CHANNELS:
        raise ConfigError(f"{where}.channel: must be one of {', '.join(CHANNELS)}")
    items = get_value(row, "items", list, where)
    if not items or not all(isinstance(p, str) and p for p in items):
        raise ConfigError(f"{where}.items: must be a non-empty list of item codes or patterns")
    digests = _key_digests(row, where)
    methods = _methods(row, where)
    if "api_key" in methods and not allow_api_key:
        raise ConfigError(
            f"{where}.api_key_sha256: this district does not accept API keys ([authentication] allow_api_key = "
            "false): give the caller a signing key ('onewindow caller add-key') and remove the digest"
        )
    rate_limit, max_concurrent = parse_caller_limits(row, where)
    return CallerConfig(
        id=caller_id,
        name=get_value(row, "name", str, where, caller_id),
        office=office,
        channel=channel,
        items=tuple(items),
        api_key_sha256=digests,
        callback_secret=get_value(row, "callback_secret", str, where, ""),
        callback_prefixes=_callback_prefixes(row, where),
        read_office_requests=get_value(row, "read_office_requests", bool, where, False),
        methods=methods,
        rate_limit=rate_limit,
        max_concurrent=max_concurrent,
    )


def _callback_prefixes(row: Mapping[str, Any], where: str) -> tuple[CallbackPrefix, ...]:
    prefixes: list[CallbackPrefix] = []
    for text in get_value(row, "callback_prefixes", list, where, []):
        if not isinstance(text, str):
            raise ConfigError(f"{where}.callback_prefixes: {text!r} is not a string")
        try:
            prefixes.append(parse_callback_prefix(text))
        except UnsafeCallbackUrl as exc:
            raise ConfigError(
                f"{where}.callback_prefixes: {text[:80]!r} {exc} "
                "(a prefix is scheme://host[:port or :*]/path/, e.g. 'https://window.example/onewindow/')"
            ) from None
    if prefixes and not row.get("callback_secret"):
        raise ConfigError(f"{where}.callback_prefixes: callbacks are signed, so a callback_secret is needed too")
    return tuple(prefixes)
