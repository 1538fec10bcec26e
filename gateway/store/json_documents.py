"""JSON documents as both stores write and read them: orjson, with the values ``json`` gave.

Every request writes and reads JSON documents (the envelope, the sealed
result, the stored answer); ``json`` costs several times what orjson does.
Where orjson would give a different value than ``json``, ``json`` still
does the work:

* an integer past 64 bits: orjson refuses to write it, and reads it back
  as a float (losing digits) -- so a document holding a run of 19 or more
  digits is read by ``json.loads``, exactly;
* what orjson refuses (non-string keys, very deep nesting, a lone
  surrogate) falls back to ``json``, which writes it or refuses it as
  before (a lone surrogate cannot be encoded as UTF-8: refused);
* datetimes and dataclasses, which ``json`` refuses, are refused still.

Two values are written differently from ``json``: NaN and the infinities,
which JSON has no form for, are written as ``null`` (``json`` wrote bare
``NaN`` that PostgreSQL refused and other readers reject; a sealed result
never holds one, canonicalisation refuses it), and a UUID is written as its
text.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS  # to json, which refuses them
# A run of 19 digits (an integer orjson could read only as a float), found by mapping every digit to "9" and
# anything else to a space: two C passes, ten times faster than a regular expression over a sealed document.
_DIGITS_ONLY = bytes(57 if 48 <= b <= 57 else 32 for b in range(256))
_LONG_NUMBER = b"9" * 19


def json_bytes(value: Any) -> bytes:
    """A value as UTF-8 JSON text (``json.dumps`` for what orjson refuses)."""
    try:
        return orjson.dumps(value, option=_OPTIONS)
    except TypeError:
        return json.dumps(value, ensure_ascii=False).encode()


def json_from(text: bytes) -> Any:
    """UTF-8 JSON text as a value, read as ``json.loads`` reads it."""
    if _LONG_NUMBER not in text.translate(_DIGITS_ONLY):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
