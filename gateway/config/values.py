"""Reading one value of a configuration table, checked, with an error that names its key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.errors import ConfigError


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
        raise ConfigError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def positive(value: float, where: str) -> float:
    """``value`` when it is greater than zero; ConfigError naming ``where`` otherwise."""
    if value <= 0:
        raise ConfigError(f"{where}: must be greater than zero")
    return value
