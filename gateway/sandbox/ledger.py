"""The submission ledger: a sandbox acts once per gateway request id.

Agencies deduplicate by the key the gateway sends; the ledger does the same
in every sandbox and counts what was really acted on, so tests can prove a
retried call was processed once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.sandbox.faults import FaultKnobs


class SubmissionLedger:
    """Deduplicates submissions by the gateway's request id.

    The first submission under a key runs and its answer is kept; a repeat
    gets the kept answer and is counted as a duplicate, never acted on.
    ``effective`` counts how many times each key was really acted on, so a
    test can prove a retried call was processed once.
    """

    def __init__(self, knobs: FaultKnobs | None = None) -> None:
        self.knobs = knobs
        self._answers: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.effective: dict[str, int] = {}
        self.duplicates = 0

    async def submit(self, key: str, act: Callable[[], Awaitable[Any] | Any]) -> Any:
        """Act once per ``key``; later calls return the first answer."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._answers:
                self.duplicates += 1
                return self._answers[key]
            answer = act()
            if asyncio.iscoroutine(answer):
                answer = await answer
            self._answers[key] = answer
            self.effective[key] = self.effective.get(key, 0) + 1
        if self.knobs is not None and self.knobs.delay_after_submit_s > 0:
            await asyncio.sleep(self.knobs.delay_after_submit_s)
        return answer

    def answer(self, key: str) -> Any | None:
        """The stored answer for ``key``, if it was submitted."""
        return self._answers.get(key)

    def seen(self, key: str) -> bool:
        """Whether a submission under ``key`` was already acted on (e.g. to answer "accepted" only once)."""
        return key in self.effective

    def stats(self) -> dict[str, Any]:
        """Counts for tests: effective submissions, duplicates, keys acted on twice."""
        return {
            "effective_submissions": sum(self.effective.values()),
            "distinct_keys": len(self.effective),
            "duplicate_submissions": self.duplicates,
            "acted_more_than_once": sorted(k for k, n in self.effective.items() if n > 1),
        }

    def reset(self) -> None:
        """Forget every submission (for a fresh test)."""
        self._answers.clear()
        self._locks.clear()
        self.effective.clear()
        self.duplicates = 0
