"""The submission ledger: a sandbox acts once per gateway request id.

Agencies deduplicate by the key the gateway sends; the ledger does the same
in every sandbox and counts what was really acted on, so tests can prove a
retried call was processed once. It remembers the most recent ``max_keys``
keys only: a sandbox serving a benchmark or a soak must not grow without
bound, and a gateway retries a request within minutes, not a million
requests later.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.sandbox.faults import FaultKnobs

MAX_KEYS = 100_000
MAX_REPEATED = 1_000  # keys acted on twice are a bug to report, not a list to grow


class SubmissionLedger:
    """Deduplicates submissions by the gateway's request id, over the most recent ``max_keys`` keys.

    The first submission under a key runs and its answer is kept; a repeat
    gets the kept answer and is counted as a duplicate, never acted on.
    ``effective`` counts how many times each remembered key was acted on;
    the totals in :meth:`stats` count every key since the last reset.
    """

    def __init__(self, knobs: FaultKnobs | None = None, *, max_keys: int = MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError("a ledger remembers at least one key")
        self.knobs = knobs
        self.max_keys = max_keys
        self._answers: OrderedDict[str, Any] = OrderedDict()
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # while a key is in use: its lock and users
        self.effective: OrderedDict[str, int] = OrderedDict()
        self.duplicates = 0
        self.effective_total = 0
        self.distinct_total = 0
        self.repeated: list[str] = []

    async def submit(self, key: str, act: Callable[[], Awaitable[Any] | Any]) -> Any:
        """Act once per ``key``; later calls return the first answer."""
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                if key in self._answers:
                    self.duplicates += 1
                    return self._answers[key]
                answer = act()
                if asyncio.iscoroutine(answer):
                    answer = await answer
                self._remember(key, answer)
        finally:
            users[0] -= 1
            if not users[0]:
                del self._locks[key]  # nobody else uses it: a lock per key ever seen would grow forever
        if self.knobs is not None and self.knobs.delay_after_submit_s > 0:
            await asyncio.sleep(self.knobs.delay_after_submit_s)
        return answer

    def _remember(self, key: str, answer: Any) -> None:
        count = self.effective.get(key, 0) + 1
        self._answers[key] = answer
        self.effective[key] = count
        self.effective_total += 1
        if count == 1:
            self.distinct_total += 1
        elif len(self.repeated) < MAX_REPEATED and key not in self.repeated:
            self.repeated.append(key)
        while len(self._answers) > self.max_keys:
            oldest, _ = self._answers.popitem(last=False)
            self.effective.pop(oldest, None)

    def answer(self, key: str) -> Any | None:
        """The stored answer for ``key``, if it was submitted (and is among the remembered keys)."""
        return self._answers.get(key)

    def seen(self, key: str) -> bool:
        """Whether a submission under ``key`` was already acted on (e.g. to answer "accepted" only once)."""
        return key in self.effective

    def stats(self) -> dict[str, Any]:
        """Counts for tests: effective submissions, duplicates, keys acted on twice."""
        return {
            "effective_submissions": self.effective_total,
            "distinct_keys": self.distinct_total,
            "duplicate_submissions": self.duplicates,
            "acted_more_than_once": sorted(self.repeated),
            "remembered_keys": len(self._answers),
        }

    def reset(self) -> None:
        """Forget every submission (for a fresh test)."""
        self._answers.clear()
        self._locks.clear()
        self.effective.clear()
        self.duplicates = self.effective_total = self.distinct_total = 0
        self.repeated.clear()
