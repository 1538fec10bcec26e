"""Versioned schema migrations, one SQL file each, per backend.

Files are named ``NNNN_what.sql``; the number is the schema version. Numbers
are unique but may leave gaps: a feature is given its number when it is
planned, and one planned earlier may land later (any migration the store
lacks is applied, in order, whatever its number). A
migration is applied once, in a transaction with its bookkeeping row, at
start-up; the PostgreSQL backend holds an advisory lock so that several
processes starting together apply each migration exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One schema change."""

    version: int
    name: str
    sql: str


def migrations(backend: str) -> list[Migration]:
    """The migrations of ``backend`` ("sqlite" or "postgres") in version order."""
    folder = resources.files(__name__).joinpath(backend)
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions) or (versions and versions[0] < 1):
        # A gap is allowed: numbers are handed out to changes made side by side, and each
        # migration is applied by its own number (expand-only, so their order does not matter).
        raise RuntimeError(f"{backend} migrations are not numbered once each from 1: {versions}")
    return found


def statements(sql: str) -> list[str]:
    """Split a migration into statements (they never contain semicolons inside)."""
    return [s.strip() for s in sql.split(";") if s.strip() and not _only_comments(s)]


def _only_comments(chunk: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in chunk.splitlines())
