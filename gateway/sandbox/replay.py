"""Replay windows: the nonces a sandbox has seen lately, kept in bounded memory.

Agencies refuse a signed call whose nonce they saw within their clock-skew
window. Kept as a plain dict scanned on every call, the list grows with the
request rate and each call pays for all the others; here nonces sit in
arrival order, so the expired ones are dropped from the front in amortised
constant time, and at most ``max_entries`` are kept whatever the rate (the
oldest go first: a replay older than that many calls is no longer caught).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

MAX_NONCES = 100_000


class ReplayWindow:
    """Nonces seen in the last ``window_s`` seconds, at most ``max_entries`` of them."""

    def __init__(
        self, window_s: float, *, max_entries: int = MAX_NONCES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("a replay window keeps at least one nonce")
        self.window_s = window_s
        self.max_entries = max_entries
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def replayed(self, nonce: str) -> bool:
        """True when ``nonce`` was seen within the window; otherwise remember it and return False."""
        now = self._clock()
        while self._seen:
            oldest, stamp = next(iter(self._seen.items()))
            if now - stamp <= self.window_s and len(self._seen) < self.max_entries:
                break
            del self._seen[oldest]
        if nonce in self._seen:
            return True
        self._seen[nonce] = now
        return False

    def __len__(self) -> int:
        return len(self._seen)

    def clear(self) -> None:
        self._seen.clear()
