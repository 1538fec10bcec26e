"""Events: every step of every request, told to whoever records it.

The router says what happened once (``accepted``, ``agency.attempt``,
``completed`` ...) and each :class:`EventSink` records it its own way: the
structured log always, the tamper-evident audit log when it is configured.
Events carry digests and identifiers, never raw personal data.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

from gateway.observability.logs import get_logger


def digest(payload: Any) -> str:
    """``sha256:<hex>`` of a JSON payload in a stable form (sorted keys, no spaces)."""
    data = (
        payload
        if isinstance(payload, bytes)
        else json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    )
    return "sha256:" + hashlib.sha256(data).hexdigest()


class EventSink(Protocol):
    """Something that records gateway events."""

    def record(self, kind: str, fields: Mapping[str, Any]) -> Awaitable[None] | None: ...


class LogSink:
    """Writes each event as one structlog JSON line (personal data masked)."""

    def __init__(self) -> None:
        self._log = get_logger(component="events")

    def record(self, kind: str, fields: Mapping[str, Any]) -> None:
        self._log.info(kind, **fields)


class Events:
    """Fans each event out to every sink, in order."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks: list[EventSink] = list(sinks)

    async def emit(self, kind: str, /, *, raw: Any = None, **fields: Any) -> None:
        """Record one event with every sink; an awaitable sink is awaited (durable first).

        ``raw`` is the unmasked payload (envelope, sealed result) the event's
        digest was taken of; only sinks that keep it encrypted (``keeps_raw``,
        the audit log) ever see it.
        """
        for sink in self.sinks:
            if raw is not None and getattr(sink, "keeps_raw", False):
                result = sink.record(kind, fields, raw=raw)  # type: ignore[call-arg]
            else:
                result = sink.record(kind, fields)
            if inspect.isawaitable(result):
                await result
