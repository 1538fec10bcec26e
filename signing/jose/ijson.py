"""Strict JSON: I-JSON (RFC 7493), the only JSON the gateway and its verifiers accept.

Where two parsers may read one text differently, an attacker picks the
reading: ``{"amount": "99999.00", "amount": "855.03"}`` is 855.03 to
Python and 99999.00 to a person or another library. So every document the
gateway or ``signing`` parses -- sealed results, trust bundles, proof files,
intake envelopes -- goes through :func:`loads`, which refuses:

* a member name twice in one object (RFC 7493 section 2.3), naming it;
* a lone surrogate escape such as ``"\\ud800"`` (section 2.1: Unicode
  strings that UTF-8 cannot carry);
* nesting deeper than ``max_depth`` (64 unless the caller says otherwise),
  and more than ``max_members`` object members in all, when a limit is given;
* NaN and Infinity, which are not JSON at all, and numbers too large for a
  double (``1e999``) or with more digits than Python converts.

Every refusal is :class:`signing.errors.IJsonError` (a ``ValueError``) with a
one-line reason; echoed input is cut short.  Text that is not JSON at all
(bad syntax, not UTF-8) is the subclass :class:`signing.errors.NotJsonError`,
so a verifier can call that bad input and the rest a malformed document.
"""

from __future__ import annotations

import json
import math
from typing import Any

from signing.errors import IJsonError, NotJsonError

MAX_DEPTH = 64
_ECHO = 40


def echo(text: str) -> str:
    """``text`` as it may appear in an error message: at most 40 characters, then an ellipsis."""
    return repr(text if len(text) <= _ECHO else text[:_ECHO] + "…")


def _constant(name: str) -> Any:
    raise IJsonError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    """A number as a double; one too large for a double (``1e999``) would silently be infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise IJsonError(f"the number {echo(text)} is too large for a double (RFC 7493 section 2.2)")
    return value


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH, max_members: int | None = None) -> Any:
    """Parse ``data`` (UTF-8 when bytes) as I-JSON; :class:`IJsonError` when it is not."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotJsonError(f"not UTF-8 (byte {exc.start})") from None
    members = 0

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal members
        members += len(items)
        if max_members is not None and members > max_members:
            raise IJsonError(f"more than {max_members} object members", limit="max_members")
        obj = dict(items)
        if len(obj) != len(items):
            seen: set[str] = set()
            for name, _ in items:
                if name in seen:
                    raise IJsonError(f"duplicate member name {echo(name)}")
                seen.add(name)
        return obj

    try:
        value = json.loads(data, object_pairs_hook=pairs, parse_constant=_constant, parse_float=_float)
    except RecursionError:
        raise IJsonError(f"nested more than {max_depth} levels deep", limit="max_depth") from None
    except json.JSONDecodeError as exc:
        raise NotJsonError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except IJsonError:
        raise
    except ValueError:  # an integer with more digits than Python converts (sys.get_int_max_str_digits)
        raise IJsonError("a number has too many digits") from None
    _check_tree(value, max_depth)
    return value


def _check_tree(value: Any, max_depth: int) -> None:
    """Depth and lone surrogates, checked without recursion (a deep document must not crash the check)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _check_string(node)
        elif isinstance(node, dict):
            if depth > max_depth:
                raise IJsonError(f"nested more than {max_depth} levels deep", limit="max_depth")
            for name, member in node.items():
                _check_string(name)
                stack.append((member, depth + 1))
        elif isinstance(node, list):
            if depth > max_depth:
                raise IJsonError(f"nested more than {max_depth} levels deep", limit="max_depth")
            stack.extend((member, depth + 1) for member in node)


def _check_string(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise IJsonError(f"a string holds a lone surrogate (U+{ord(text[exc.start]):04X})") from None
