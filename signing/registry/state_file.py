"""The registry file, ``registry.json``: read, write atomically, tell versions apart.

Kept apart from ``signing.registry.seal_registry`` (which decides what changes) so that
the on-disk rules are in one place: a fixed format marker, atomic writes
(``signing.fsutil``), and a version stamp cheap enough to check on every
read by a long-running gateway.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from signing.errors import RegistryError
from signing.fsutil import atomic_write
from signing.jose import ijson

REGISTRY_FORMAT = "onewindow-seal-registry/1"
#: Where the district root key is kept in the registry directory (on the bureau's machine only).
ROOT_KEY_FILE = "root/root-key.pem"


def read_state(directory: Path) -> dict[str, Any]:
    """The parsed ``registry.json`` of ``directory``; :class:`RegistryError` if absent or foreign."""
    path = directory / "registry.json"
    try:
        state = ijson.loads(path.read_bytes())
    except FileNotFoundError:
        raise RegistryError(f"no seal registry at {directory} (run: seal init-district)") from None
    except (OSError, ValueError) as exc:
        raise RegistryError(f"seal registry {path} is unreadable: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != REGISTRY_FORMAT:
        raise RegistryError(f"{path} is not a seal registry ({REGISTRY_FORMAT})")
    return state


def write_state(directory: Path, state: dict[str, Any]) -> None:
    """Replace ``registry.json`` atomically (write-to-temp, fsync, rename)."""
    text = json.dumps(state, ensure_ascii=False, indent=2) + "\n"
    atomic_write(directory / "registry.json", text.encode("utf-8"))


def file_version(directory: Path) -> tuple[int, int, int] | None:
    """Identity of the registry file's version: every atomic write makes a new inode."""
    try:
        info = os.stat(os.path.join(directory, "registry.json"))  # per seal lookup: no Path objects
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size
