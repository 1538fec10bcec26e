"""Showing a configuration: the effective settings, with every secret redacted.

``onewindow check-config`` prints what the gateway will really use; secret
values never leave this module unredacted.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from gateway.config import Settings

_SECRET_KEY = re.compile(r"secret|password|passphrase|token|api_key|private|credential", re.I)
_NOT_SECRET_SUFFIXES = ("_sha256", "_file", "_path", "_dir")


def effective_configuration(settings: Settings, agencies: Iterable[str] = ()) -> dict[str, Any]:
    """The configuration as the gateway uses it: every section with its defaults, and under
    ``agencies`` the effective settings of each configured agency and of each code in ``agencies``
    (the installed ones), defaults included. Not redacted: pass it through :func:`redacted`."""
    data = copy.deepcopy(dict(settings.raw))
    data["agencies"] = {
        code: {k: v for k, v in dataclasses.asdict(settings.agency(code)).items() if k != "code"}
        for code in sorted(set(settings.agencies) | set(agencies))
    }
    return data


def _is_secret(key: str) -> bool:
    return bool(_SECRET_KEY.search(key)) and not key.lower().endswith(_NOT_SECRET_SUFFIXES)


def redacted(data: Any, key: str = "") -> Any:
    """A copy of the configuration with every secret value (and URL password) replaced by ``***``.

    Key digests (``api_key_sha256``) and paths of secret files (``passphrase_file``) stay visible:
    they are what an operator checks, and they reveal nothing.
    """
    if isinstance(data, Mapping):
        return (
            {k: ("***" if _is_secret(k) and not isinstance(v, Mapping) else redacted(v, k)) for k, v in data.items()}
            if not _is_secret(key)
            else {k: "***" for k in data}
        )
    if isinstance(data, list):
        return [redacted(v, key) for v in data]
    if isinstance(data, str) and "://" in data and "@" in data:
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", data)
    return data
