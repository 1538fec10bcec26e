"""Events: every step of every request, told to whoever records it.

The router says what happened once (``accepted``, ``agency.attempt``,
``completed`` ...) and each :class:`EventSink` records it its own way: the
structured log always, the tamper-evident audit log when it is configured.
Events carry keyed digests and identifiers, never raw personal data.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.observability.logs import get_logger
from signing.jose.jcs import sorted_json


def stable_json(payload: Any) -> bytes:
    """A JSON payload in the gateway's stable form: sorted keys, no spaces, UTF-8 (bytes pass as they are)."""
    if isinstance(payload, bytes):
        return payload
    return sorted_json(payload)  # json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False), faster


def digest(payload: Any) -> str:
    """``sha256:<hex>`` of a payload's stable form -- for comparing bodies in the store, never for a log.

    A plain digest of an envelope links equal requests and lets anyone
    confirm a guessed one: what events carry is :class:`PayloadDigests`.
    """
    return "sha256:" + hashlib.sha256(stable_json(payload)).hexdigest()


class PayloadDigests:
    """Keyed digests of the payloads events refer to (envelope, result, reasons).

    ``hmac-sha256:<hex>`` of ``"onewindow-payload-digest/v1\n" || request id || "\n" ||
    stable JSON``, keyed with the district audit secret's digest key: equal
    envelopes of two requests differ in the log, and only the secret's
    holder can check one against a payload. Without a key (the audit log
    switched off) there is no digest: events leave the field out.
    """

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key

    def __call__(self, payload: Any, *, request_id: str | None) -> str | None:
        if self._key is None:
            return None
        message = b"onewindow-payload-digest/v1\n" + (request_id or "").encode("utf-8") + b"\n" + stable_json(payload)
        return "hmac-sha256:" + hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"PayloadDigests(keyed={self._key is not None})"


class EventSink(Protocol):
    """Something that records gateway events."""

    def record(self, kind: str, fields: Mapping[str, Any]) -> Awaitable[None] | None: ...


class LogSink:
    """Writes each event as one structlog JSON line (personal data masked)."""

    def __init__(self) -> None:
        self._log = get_logger(component="events")

    def record(self, kind: str, fields: Mapping[str, Any]) -> None:
        self._log.info(kind, **fields)


@dataclass(frozen=True)
class Event:
    """One event for :meth:`Events.emit_all`: what :meth:`Events.emit` takes, as one value."""

    kind: str
    fields: Mapping[str, Any]
    raw: Any = None
    raw_digest: str | None = None


def _record(sink: EventSink, kind: str, fields: Mapping[str, Any], raw: Any, raw_digest: str | None) -> Any:
    """One sink's record of one event: the raw payload only to a sink that keeps it encrypted."""
    if raw is not None and getattr(sink, "keeps_raw", False):
        return sink.record(kind, fields, raw=raw, raw_digest=raw_digest)  # type: ignore[call-arg]
    return sink.record(kind, fields)


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Events:
    """Fans each event out to every sink, in order."""

    def __init__(self, *sinks: EventSink, digests: PayloadDigests | None = None) -> None:
        self.sinks: list[EventSink] = list(sinks)
        self.digests = digests or PayloadDigests()

    def digest(self, payload: Any, *, request_id: str | None) -> str | None:
        """The keyed digest of a payload an event refers to (see :class:`PayloadDigests`)."""
        return self.digests(payload, request_id=request_id)

    async def emit_all(self, *events: Event) -> None:
        """Record several events, in order, as :meth:`emit` would, and wait for them together.

        Each sink records every event before any is awaited, so the audit log
        commits them in one batch: one wait instead of one per event. The
        first failure is raised (the events after it failed with it).
        """
        pending = [
            result
            for event in events
            for sink in self.sinks
            if (result := _record(sink, event.kind, event.fields, event.raw, event.raw_digest)) is not None
        ]
        try:
            for result in pending:
                await result
        finally:
            for result in pending:  # a failure further on is the same one: never left unretrieved
                if isinstance(result, asyncio.Future):
                    result.add_done_callback(_retrieved)

    async def emit(self, kind: str, /, *, raw: Any = None, raw_digest: str | None = None, **fields: Any) -> None:
        """Record one event with every sink; an awaitable sink is awaited (durable first).

        ``raw`` is the unmasked payload (envelope, sealed result) the event's
        digest was taken of; only sinks that keep it encrypted (``keeps_raw``,
        the audit log) ever see it. ``raw_digest``, when the caller took it
        already (:meth:`digest` of ``raw``), spares the sink taking it again.
        """
        for sink in self.sinks:
            result = _record(sink, kind, fields, raw, raw_digest)
            if result is not None:  # the protocol: an awaitable or nothing (a test on None costs no ABC check)
                await result
