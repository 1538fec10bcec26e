"""Per-caller limits (``rate_limit``, ``max_concurrent`` in ``[[callers]]``): how much one intake system may ask.

``rate_limit = "120/minute"`` lets a caller make at most 120 requests in any
60 seconds (a sliding window, held in the store so every instance and worker
counts together); ``max_concurrent = 8`` lets it have at most 8 intake calls
in flight at once. Leaving a key out sets no limit of that kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.config.values import get_value, shown
from gateway.errors import ConfigError

_UNITS = {"s": 1, "second": 1, "m": 60, "minute": 60, "h": 3600, "hour": 3600}
_RATE = re.compile(r"^\s*(\d{1,7})\s*/\s*(\d{0,5})\s*(s|second|m|minute|h|hour)s?\s*$")
MAX_WINDOW_S = 86_400


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` requests in any ``window_s`` seconds."""

    count: int
    window_s: int
    text: str

    def __str__(self) -> str:
        return self.text


def parse_rate_limit(text: str, where: str) -> RateLimit:
    """``"120/minute"``, ``"10/second"``, ``"5000/hour"``, ``"30/10s"`` as a :class:`RateLimit`."""
    match = _RATE.match(text)
    if not match:
        raise ConfigError(f'{where}: {shown(text)} is not a rate: write e.g. "120/minute", "10/second" or "30/10s"')
    count, times, unit = int(match.group(1)), int(match.group(2) or 1), _UNITS[match.group(3)]
    window_s = times * unit
    if count < 1 or not 1 <= window_s <= MAX_WINDOW_S:
        raise ConfigError(f"{where}: at least 1 request, in a window of 1 second to 1 day")
    return RateLimit(count, window_s, text.strip())


LIMIT_KEYS = frozenset({"rate_limit", "max_concurrent"})


def parse_caller_limits(row: Mapping[str, Any], where: str) -> tuple[RateLimit | None, int]:
    """A caller's ``rate_limit`` (None: none) and ``max_concurrent`` (0: none)."""
    text = get_value(row, "rate_limit", str, where, "")
    rate = parse_rate_limit(text, f"{where}.rate_limit") if text else None
    concurrent = get_value(row, "max_concurrent", int, where, 0)
    if concurrent < 0:
        raise ConfigError(f"{where}.max_concurrent: must be 0 (no limit) or more")
    return rate, concurrent
