"""Text patterns that mean the same to the gateway and to every JSON Schema validator.

A catalogue's ``pattern`` is checked by the gateway with Python's ``re`` and
published in the item's JSON Schema, where a client reads it as an
ECMA-262 regular expression. The two dialects disagree on a few things:
``\\d``, ``\\w``, ``\\s`` and ``\\b`` are Unicode-aware in Python and ASCII in
ECMA-262 (a full-width digit "３" is ``\\d`` to one and not to the other),
``\\A``, ``\\Z`` and inline flags such as ``(?i)`` exist in Python only, and
``{,3}`` is a quantifier in Python and three literal characters in ECMA-262.
A pattern using any of them is refused when the catalogue loads, naming
what to write instead, so a value the window's client checked is never
refused by the gateway for a reason the client could not see (or the
other way round).
"""

from __future__ import annotations

import re

_CLASS_ESCAPES = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": "[A-Za-z0-9_]",
    "W": "[^A-Za-z0-9_]",
    "s": "an explicit class such as [ \\t]",
    "S": "an explicit class such as [^ \\t]",
    "b": "an explicit boundary",
    "B": "an explicit boundary",
}
_PYTHON_ONLY_ESCAPES = "AZzG"
_PORTABLE_GROUPS = (":", "=", "!")


def portability_problem(pattern: str) -> str | None:
    """Why ``pattern`` may mean one thing to Python's ``re`` and another to ECMA-262, or None when it may not."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"does not compile: {exc}"
    i, in_class = 0, False
    while i < len(pattern):
        char, following = pattern[i], pattern[i + 1 : i + 2]
        if char == "\\":
            if following in _CLASS_ESCAPES:
                instead = _CLASS_ESCAPES[following]
                return f"\\{following} matches other characters in Python than in JSON Schema; write {instead}"
            if following in _PYTHON_ONLY_ESCAPES:
                return f"\\{following} exists in Python only; write ^ or $"
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            i += 2 if following == "]" else 1  # a "]" right after "[" is a literal
            continue
        elif char == "(" and following == "?" and pattern[i + 2 : i + 3] not in _PORTABLE_GROUPS:
            return "only (?:...), (?=...) and (?!...) groups mean the same in Python and JSON Schema"
        elif char == "{" and following == ",":
            return "{,n} is a quantifier in Python only; write {0,n}"
        i += 1
    return None
