"""Request ids: ULIDs, sortable by time, unique, safe in URLs.

The request id is also the agency-side deduplication key, so it must be
unique across gateway processes (80 random bits) and sort in arrival order
(48-bit millisecond time first), which keeps store indexes append-friendly.
"""

from __future__ import annotations

import os
import re
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
ULID_PATTERN = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
_lock = threading.Lock()
_last_ms = -1
_last_random = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


def new_ulid(now_ms: int | None = None) -> str:
    """A new ULID; ids made in the same millisecond by this process stay ordered."""
    global _last_ms, _last_random
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        if ms <= _last_ms:
            ms = _last_ms
            _last_random = (_last_random + 1) & ((1 << 80) - 1)
        else:
            _last_ms = ms
            _last_random = int.from_bytes(os.urandom(10), "big") >> 1  # leave room to increment
        rand = _last_random
    return _encode(ms, 10) + _encode(rand, 16)


def is_ulid(value: str) -> bool:
    """True when ``value`` looks like a ULID (used to reject junk ids early)."""
    return bool(ULID_PATTERN.match(value))


def ulid_time_ms(value: str) -> int:
    """The millisecond timestamp inside a ULID."""
    ms = 0
    for char in value[:10]:
        ms = ms * 32 + _ALPHABET.index(char)
    return ms
