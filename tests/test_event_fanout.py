"""Events reach every sink in order, and ``emit`` returns only once each awaitable sink's record is done."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from gateway.observability.events import Event, Events


class Recording:
    """A sink that records at once and returns nothing (as the log and the metrics do)."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def record(self, kind: str, fields: Mapping[str, Any]) -> None:
        self.seen.append(f"recorded {kind}")


class Durable:
    """A sink whose record is done only when the test says so (as the audit log's commit)."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen
        self.pending: list[asyncio.Future[None]] = []

    def record(self, kind: str, fields: Mapping[str, Any]) -> asyncio.Future[None]:
        self.seen.append(f"queued {kind}")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        return future


async def _finish_after(sink: Durable, seen: list[str], count: int) -> None:
    async with asyncio.timeout(10):  # a sink never called fails the test rather than hanging it
        while len(sink.pending) < count:
            await asyncio.sleep(0)
    for _ in range(3):  # a few turns in which a caller that did not wait would have gone on
        await asyncio.sleep(0)
    seen.append("committed")
    for future in sink.pending:
        future.set_result(None)


async def test_emit_waits_for_an_awaitable_sink_and_passes_over_one_that_returns_nothing() -> None:
    seen: list[str] = []
    durable = Durable(seen)
    events = Events(Recording(seen), durable)
    finisher = asyncio.create_task(_finish_after(durable, seen, 1))
    async with asyncio.timeout(10):
        await events.emit("request.accepted", request_id="R1")
    seen.append("emit returned")
    await finisher
    assert seen == ["recorded request.accepted", "queued request.accepted", "committed", "emit returned"]


async def test_emit_all_queues_every_event_with_every_sink_then_waits_for_them_all() -> None:
    seen: list[str] = []
    durable = Durable(seen)
    events = Events(durable, Recording(seen))
    finisher = asyncio.create_task(_finish_after(durable, seen, 2))
    async with asyncio.timeout(10):
        await events.emit_all(Event("result.sealed", {"request_id": "R1"}), Event("request.completed", {}))
    seen.append("emit_all returned")
    await finisher
    assert seen == [
        "queued result.sealed",
        "recorded result.sealed",
        "queued request.completed",
        "recorded request.completed",
        "committed",
        "emit_all returned",
    ]
