"""``ONEWINDOW_<SECTION>__<KEY>`` environment variables, the last layer of the configuration.

Every variable that starts with ``ONEWINDOW_`` is either a setting path
(double underscores between levels, e.g. ``ONEWINDOW_AGENCIES__TAX__SECRETS__APP_SECRET``)
or one of the few variables that are not settings (:data:`NOT_SETTINGS`).
Anything else is refused with the closest known name: a misspelt
``ONEWINDOW_SERVR__PORT`` would otherwise leave the port at its default
without a word.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from gateway.config.sections import ROWS, TABLES, known_keys
from gateway.config.values import closest, shown
from gateway.errors import ConfigError

ENV_PREFIX = "ONEWINDOW_"
#: The variables that are not settings, and who reads them (docs/configuration.md lists them).
NOT_SETTINGS: Mapping[str, str] = {
    "ONEWINDOW_CONFIG": "the configuration file",
    "ONEWINDOW_SEAL_PASSPHRASE": "the seal keys' passphrase",
    "ONEWINDOW_SEAL_PASSPHRASE_FILE": "a file holding the seal keys' passphrase",
    "ONEWINDOW_ROOT_PASSPHRASE": "the district root key's passphrase (seal commands)",
    "ONEWINDOW_ROOT_PASSPHRASE_FILE": "a file holding the district root key's passphrase (seal commands)",
    "ONEWINDOW_PKI_DIR": "the seal registry of the seal commands",
    "ONEWINDOW_TRUST_STORE": "the pinned district roots of verify and trust",
    "ONEWINDOW_PKCS11_PIN": "the PKCS#11 token's PIN",
    "ONEWINDOW_PKCS11_PIN_FILE": "a file holding the PKCS#11 token's PIN",
    "ONEWINDOW_WORKER_SANDBOXES": "set by serve --workers for its workers",
    "ONEWINDOW_PRINTOUT_FONT": "the CJK font of printouts (render; the gateway when [printouts] font is empty)",
}


def _value(text: str) -> Any:
    """A TOML literal when the text is one (``9090``, ``true``, ``["a"]``), else the text itself."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _variable(path: tuple[str, ...]) -> str:
    return ENV_PREFIX + "__".join(part.upper() for part in path)


def _known_variables() -> list[str]:
    """Every variable name a typo may have meant: the settings of one-key tables and the rest."""
    names = [_variable((section, key)) for section, keys in TABLES.items() for key in keys]
    return names + list(NOT_SETTINGS)


def _refusal(name: str, why: str, guess: str | None) -> ConfigError:
    hint = f" (did you mean {guess}?)" if guess else ""
    return ConfigError(f"environment variable {shown(name)[1:-1]}: {why}{hint}")


def setting_path(name: str) -> tuple[str, ...] | None:
    """The setting path a variable sets (``("server", "port")``), None for a non-setting variable.

    Raises ConfigError naming the variable (and the closest known one) for
    every other ``ONEWINDOW_`` variable.
    """
    if name in NOT_SETTINGS:
        return None
    path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
    if len(path) < 2 or not all(path):
        why = "is neither a setting (ONEWINDOW_<SECTION>__<KEY>) nor a variable Onewindow reads"
        raise _refusal(name, why, closest(name, _known_variables()))
    if path[0] in ROWS:
        raise _refusal(name, f"[[{path[0]}]] is a list of tables: set it in the configuration file", None)
    for depth in range(len(path)):
        known = known_keys(path[:depth])
        if known is None:
            continue
        where = ".".join(path[: depth + 1])
        if not known:
            raise _refusal(name, f"{'.'.join(path[:depth])} is a value, not a table", None)
        if path[depth] not in known:
            guess = closest(path[depth], known)
            kind = "section" if depth == 0 else "setting"
            meant = _variable((*path[:depth], guess, *path[depth + 1 :])) if guess else None
            raise _refusal(name, f"{where} is no {kind}", meant)
    return path


def apply_environment(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Set every ``ONEWINDOW_`` setting variable of ``environ`` in ``data``; {dotted path: variable} of each."""
    applied: dict[str, str] = {}
    for name, text in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = setting_path(name)
        if path is None:
            continue
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise _refusal(name, f"{part} is not a table", None)
        node[path[-1]] = _value(text)
        applied[".".join(path)] = name
    return applied
