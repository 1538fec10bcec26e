"""The ``[witness]`` section: where each signed checkpoint of the audit log is published, outside the store.

A restored backup brings back an older store, and with it an older audit
log; the gateway would go on signing entries under the same log id at
sizes it had signed before -- a fork -- and never notice. The witness is
what a restore does not roll back: a directory (and optionally a URL) the
district bureau keeps, holding every signed checkpoint with the entries it
added (docs/audit.md, "The witness").

There is no default directory for a real district: the one place that
would be at hand, under ``pki.dir``, is exactly what ``onewindow backup``
archives and ``onewindow restore`` puts back, so a witness there would be
rolled back with the store it is meant to catch. A directory inside
``pki.dir`` is refused for that reason. The sample district configures
``var/witness``, beside its store and outside its backup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class WitnessSettings:
    """Where signed checkpoints are published; nothing is published when both are empty."""

    dir: str = ""  # a directory a restore of the gateway does not roll back (the bureau's, or its mount)
    url: str = ""  # optionally an HTTP(S) base URL taking PUT (the bureau's witness service)
    timeout_s: float = 5.0  # per request to the URL

    @property
    def configured(self) -> bool:
        return bool(self.dir or self.url)


def parse_witness_settings(table: Any, *, pki_dir: str) -> WitnessSettings:
    """``[witness]`` as :class:`WitnessSettings`; ``ValueError`` naming the key when wrong."""
    if not isinstance(table, Mapping):
        raise ValueError("witness: must be a table")
    unknown = sorted(set(table) - {"dir", "url", "timeout_s"})
    if unknown:
        raise ValueError(f"witness: unknown setting(s) {unknown}")
    directory, url = table.get("dir", ""), table.get("url", "")
    timeout = table.get("timeout_s", WitnessSettings.timeout_s)
    if not isinstance(directory, str) or not isinstance(url, str):
        raise ValueError("witness.dir and witness.url: must be strings")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 120:
        raise ValueError(f"witness.timeout_s: a number of seconds from 0 to 120, not {timeout!r}")
    if directory and _inside(Path(directory), Path(pki_dir)):
        raise ValueError(
            f"witness.dir: {directory} is inside pki.dir ({pki_dir}), which a backup archives and a restore puts "
            "back: the witness must be somewhere a restore of the gateway does not roll back"
        )
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"witness.url: an http(s) base URL without query or fragment, not {url!r}")
    return WitnessSettings(dir=directory, url=url, timeout_s=float(timeout))


def _inside(path: Path, directory: Path) -> bool:
    """Whether ``path`` is ``directory`` or below it, compared as resolved paths (``..`` and links followed)."""
    resolved, parent = path.resolve(), directory.resolve()
    return resolved == parent or parent in resolved.parents
