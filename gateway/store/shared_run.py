"""One run of a flush at a time, shared by everyone waiting for it: the heart of group commit.

Both stores make writes durable the same way: whoever needs durability
joins the flush under way or starts one, and everyone who asks while it
runs is served by the next. Each store keeps its own count of what a run
covers and its own failure; this is only the sharing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class SharedRun:
    """Runs of ``work``, one at a time, each awaited by every caller of :meth:`join` meanwhile."""

    __slots__ = ("_running", "_work")

    def __init__(self, work: Callable[[], Awaitable[None]]) -> None:
        self._work = work
        self._running: asyncio.Future[None] | None = None

    async def join(self) -> None:
        """Wait for the run under way, or start one; its failure is raised to every waiter.

        Shielded: a waiter that is cancelled leaves the run to the others.
        """
        if self._running is None:
            self._running = asyncio.ensure_future(self._run())
        await asyncio.shield(self._running)

    async def _run(self) -> None:
        try:
            await self._work()
        finally:
            self._running = None
