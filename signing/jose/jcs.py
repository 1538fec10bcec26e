"""RFC 8785 JSON Canonicalization Scheme (JCS), exact and fast.

Seals sign the canonical bytes of a document, so every signer and verifier
must produce the *same* bytes.  The pure-Python ``rfc8785`` package is
exact but costs several ECDSA signatures per document; this module gets
the same bytes from CPython's C JSON encoder whenever that is provably
identical, and otherwise falls back to an exact serializer written from
the RFC and ECMA-262.

When is the C encoder (``sort_keys=True``, ``ensure_ascii=False``,
compact separators) byte-identical to JCS?

* Strings: it escapes exactly ``"``, ``\\`` and U+0000..U+001F, using
  ``\\b \\f \\n \\r \\t`` and lowercase ``\\u00xx`` otherwise: the JCS rules.
  Lone surrogates are rejected by the final UTF-8 encode, as JCS requires.
* Key order: it sorts by code point; JCS sorts by UTF-16 code unit.  The two
  orders differ only for keys holding a character above U+FFFF, so any
  object with such a key goes to the exact path.
* Integers: identical digits inside the IEEE-754 safe range
  (|n| <= 2**53 - 1); outside it JCS cannot represent the value exactly and
  we reject it, as ``rfc8785`` does.
* Floats: Python's ``repr`` and ECMAScript ``Number.prototype.toString``
  pick the same shortest round-trip digits but format them differently.
  They print the same text for non-integral values with |x| >= 1e-4 (no
  exponent in either; non-integral doubles are below 2**52 < 1e16).
  Integral floats below 2**53 are printed by ECMAScript as the integer, so
  we replace them by ``int`` first.  Anything else (tiny or huge values)
  takes the exact path.

When the optional ``orjson`` package is installed it replaces the C
encoder on the same plan: with ``OPT_SORT_KEYS`` it escapes, orders and
prints exactly what the C encoder does for every value the scan lets
through (the property tests hold both encoders to ``rfc8785``), at a tenth
of the cost -- which keeps canonicalisation from dominating sealing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from signing.errors import CanonicalizationError

__all__ = ["ENCODERS", "canonicalize", "canonicalize_exact", "format_number", "sorted_json"]

_MAX_SAFE = 2**53 - 1
_FAST, _CONVERT, _EXACT = 0, 1, 2


def _make_encoder() -> Callable[[Any], str]:
    """Build the C encoder once: ``json.dumps`` rebuilds it on every call."""
    c_make = getattr(json.encoder, "c_make_encoder", None)
    if c_make is None:  # pragma: no cover - CPython always has _json
        enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)
        return enc.encode
    # markers=None: cycles are already caught by the pre-scan (RecursionError).
    iterencode = c_make(None, _unsupported, json.encoder.encode_basestring, None, ":", ",", True, False, False)

    def encode(obj: Any) -> str:
        return "".join(iterencode(obj, 0))

    return encode


def _unsupported(obj: Any) -> Any:
    raise CanonicalizationError(f"{type(obj).__name__} is not a JSON value")


def _make_orjson_encoder() -> Callable[[Any], bytes] | None:
    try:
        import orjson
    except ImportError:
        return None
    dumps, sort_keys, error = orjson.dumps, orjson.OPT_SORT_KEYS, orjson.JSONEncodeError

    def encode(obj: Any) -> bytes:
        try:
            return dumps(obj, option=sort_keys)
        except error as exc:  # only lone surrogates get past the scan
            raise CanonicalizationError(f"not valid I-JSON: {exc}") from None

    return encode


def _encode_with_cpython(obj: Any) -> bytes:
    try:
        return _c_encode(obj).encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalizationError("string contains a lone surrogate (not valid I-JSON)") from None


_c_encode = _make_encoder()
#: The fast-path encoders available here, fastest first; ``canonicalize`` uses the first.
ENCODERS: dict[str, Callable[[Any], bytes]] = {
    name: encoder
    for name, encoder in (("orjson", _make_orjson_encoder()), ("cpython", _encode_with_cpython))
    if encoder is not None
}
_encode = next(iter(ENCODERS.values()))


def canonicalize(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON-like value.

    Accepts dict (str keys), list/tuple, str, int, float, bool and None.
    Raises :class:`CanonicalizationError` for NaN, infinities, integers
    outside the IEEE-754 safe range, non-string keys, lone surrogates and
    other types.
    """
    try:
        plan = _scan(obj)
    except RecursionError:
        raise CanonicalizationError("value is nested too deeply or contains a cycle") from None
    if plan == _EXACT:
        return canonicalize_exact(obj)
    if plan == _CONVERT:
        obj = _integral_floats_to_int(obj)
    return _encode(obj)


def sorted_json(obj: Any) -> bytes:
    """``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` in UTF-8: the same bytes.

    Not JCS (floats keep Python's printing): the gateway's stable form of a
    payload, digested on every request. When the scan finds nothing but
    strings, safe integers, non-integral floats of at least 1e-4 and BMP keys
    -- where the fast encoder is proven to write what the C encoder writes
    (module doc) -- that encoder writes it; anything else, and whatever
    ``json.dumps`` refuses, goes through ``json.dumps`` itself.
    """
    try:
        fast = _scan(obj) == _FAST
    except RecursionError:  # a cycle or a very deep value: json.dumps says which
        fast = False
    if fast:
        try:
            return _encode(obj)
        except CanonicalizationError:  # a lone surrogate: refused by the encode below, as before
            pass
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _scan(value: Any) -> int:
    """Decide which path serializes ``value`` exactly (see the module doc).

    Written flat because it runs on every seal: one loop per container,
    the common leaf types tested first.
    """
    t = type(value)
    if t is dict:
        try:
            keys = "".join(value)  # TypeError: a key that is not a string
        except TypeError:
            return _EXACT
        if not keys.isascii() and max(keys) > "\uffff":
            return _EXACT  # a non-BMP key: code point order != UTF-16 order
        items: Any = value.values()
    elif t is list:
        items = value
    else:
        return _EXACT  # scalars, tuples, subclasses: the exact path decides
    plan = _FAST
    for item in items:
        ti = type(item)
        if ti is str or ti is bool or item is None:
            continue
        if ti is dict or ti is list:
            sub = _scan(item)
            if sub == _EXACT:
                return _EXACT
            plan |= sub
        elif ti is int:
            if not -_MAX_SAFE <= item <= _MAX_SAFE:
                return _EXACT
        elif ti is float:
            if item.is_integer():
                if not -_MAX_SAFE <= item <= _MAX_SAFE:
                    return _EXACT
                plan = _CONVERT
            elif not 1e-4 <= abs(item) < math.inf:
                return _EXACT
        else:
            return _EXACT
    return plan


def _integral_floats_to_int(value: Any) -> Any:
    """Copy ``value`` with integral floats (|x| <= 2**53-1) turned into ints."""
    t = type(value)
    if t is dict:
        return {k: _integral_floats_to_int(v) for k, v in value.items()}
    if t is list:
        return [_integral_floats_to_int(v) for v in value]
    if t is float and value.is_integer():
        return int(value)
    return value


# ---------------------------------------------------------------------------
# Exact path, written from RFC 8785 section 3.2 and ECMA-262 Number::toString.

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
_ESCAPES["\t"] = "\\t"
for _code in range(0x20):
    _ESCAPES.setdefault(chr(_code), f"\\u{_code:04x}")
_ESCAPE_TABLE = str.maketrans(_ESCAPES)


def canonicalize_exact(obj: Any) -> bytes:
    """Serialize with the slow, obviously-correct JCS algorithm."""
    out: list[str] = []
    try:
        _write(obj, out)
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalizationError("string contains a lone surrogate (not valid I-JSON)") from None
    except RecursionError:
        raise CanonicalizationError("value is nested too deeply or contains a cycle") from None


def _write(obj: Any, out: list[str]) -> None:
    if obj is None:
        out.append("null")
    elif isinstance(obj, bool):
        out.append("true" if obj else "false")
    elif isinstance(obj, int):
        number = int(obj)
        if not -_MAX_SAFE <= number <= _MAX_SAFE:
            raise CanonicalizationError(f"integer {number} is outside the IEEE-754 safe range (|n| <= 2**53 - 1)")
        out.append(str(number))
    elif isinstance(obj, str):
        out.append('"' + str.translate(obj, _ESCAPE_TABLE) + '"')
    elif isinstance(obj, float):
        out.append(format_number(float(obj)))
    elif isinstance(obj, list | tuple):
        out.append("[")
        for index, item in enumerate(obj):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(obj, dict):
        for key in obj:
            if not isinstance(key, str):
                raise CanonicalizationError(f"object key {key!r} is not a string")
        out.append("{")
        for index, key in enumerate(sorted(obj, key=_utf16_key)):
            if index:
                out.append(",")
            _write(str(key), out)
            out.append(":")
            _write(obj[key], out)
        out.append("}")
    else:
        raise CanonicalizationError(f"{type(obj).__name__} is not a JSON value")


def _utf16_key(key: str) -> bytes:
    """Sort key: UTF-16 code units, as JCS (RFC 8785 section 3.2.3) orders names."""
    return key.encode("utf-16-be", "surrogatepass")


def format_number(value: float) -> str:
    """Format a double as ECMAScript ``Number.prototype.toString`` does.

    ``repr`` gives the shortest round-trip digits (the same digits ECMAScript
    chooses); only the layout rules of ECMA-262 Number::toString differ.
    """
    if math.isnan(value) or math.isinf(value):
        raise CanonicalizationError(f"{value} is not allowed: JSON has no NaN or Infinity (RFC 8785 section 3.2.2.3)")
    if value == 0:
        return "0"  # covers -0.0 too
    if value < 0:
        return "-" + format_number(-value)
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)  # "n" in ECMA-262
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    significant = significant.rstrip("0")
    k = len(significant)
    if k <= point <= 21:
        return significant + "0" * (point - k)
    if 0 < point <= 21:
        return significant[:point] + "." + significant[point:]
    if -6 < point <= 0:
        return "0." + "0" * -point + significant
    power = point - 1
    head = significant[0] + ("." + significant[1:] if k > 1 else "")
    return f"{head}e{'+' if power >= 0 else '-'}{abs(power)}"
