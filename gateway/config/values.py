"""Reading one value of a configuration table, checked, with an error that names its key."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import fields
from typing import Any

from gateway.errors import ConfigError

SHOWN_CHARS = 60  # an operator's text echoed in a message is cut here: a message stays one readable line


def shown(text: object) -> str:
    """``text`` as a message quotes it: ``repr`` (control characters escaped), cut at :data:`SHOWN_CHARS`."""
    quoted = repr(text)
    return quoted if len(quoted) <= SHOWN_CHARS else quoted[: SHOWN_CHARS - 4] + "...'"


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known word a typo most likely meant (:func:`difflib.get_close_matches`), or None."""
    by_lower = {name.lower(): name for name in sorted(known)}
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[found[0]] if found else None


def unknown_key(where: str, key: str, known: Collection[str], *, kind: str = "key") -> ConfigError:
    """``server.prot: unknown key (did you mean server.port?)`` -- ``where`` empty for a top-level section."""
    prefix = f"{where}." if where else ""
    name = key if key.isidentifier() and len(key) <= SHOWN_CHARS else shown(key)
    guess = closest(key, known)
    hint = f" (did you mean {prefix}{guess}?)" if guess else ""
    return ConfigError(f"{prefix}{name}: unknown {kind}{hint}")


def refuse_unknown(table: Mapping[str, Any], known: Collection[str], where: str, *, kind: str = "key") -> None:
    """Raise :func:`unknown_key` for the first key of ``table`` (in file order) that is not ``known``."""
    for key in table:
        if key not in known:
            raise unknown_key(where, key, known, kind=kind)


def get_value(
    table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = None
) -> Any:
    """``table[key]`` of type ``kind`` (an int is taken for a float), else ``default``; ConfigError naming it."""
    value = table.get(key, default)
    if value is None:
        raise ConfigError(f"{where}.{key}: is required")
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got a boolean")
    if kind is float and isinstance(value, int):
        value = float(value)
    if not isinstance(value, kind):
        raise ConfigError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {shown(value)}")
    return value


def positive(value: float, where: str) -> float:
    """``value`` when it is greater than zero; ConfigError naming ``where`` otherwise."""
    if value <= 0:
        raise ConfigError(f"{where}: must be greater than zero")
    return value


_KINDS: Mapping[str, type] = {"int": int, "float": float, "str": str, "bool": bool}


def typed_values(
    table: Mapping[str, Any],
    settings: type,
    where: str,
    *,
    skip: Collection[str] = (),
    any_number: Collection[str] = (),
) -> dict[str, Any]:
    """The values ``table`` sets for the fields of dataclass ``settings``, each of its field's type.

    Numbers must be greater than zero, except the fields in ``any_number``
    (checked by the caller); the fields in ``skip`` are left to the caller.
    """
    values: dict[str, Any] = {}
    for spec in fields(settings):
        if spec.name in skip or spec.name not in table:
            continue
        kind = _KINDS[str(spec.type)]
        values[spec.name] = get_value(table, spec.name, kind, where)
        if kind in (int, float) and spec.name not in any_number:
            positive(values[spec.name], f"{where}.{spec.name}")
    return values
