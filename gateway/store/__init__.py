"""Durable state: request records and idempotency keys, on SQLite or PostgreSQL.

:mod:`~gateway.store.snapshots` copies a store with each database's own tools, and puts a copy back;
:mod:`~gateway.store.store_state` says what a store (or a copy of one) holds.
"""

from __future__ import annotations

from pathlib import Path

from gateway.errors import StoreError, StoreMissing
from gateway.store.base import (
    AdminResult,
    BundleRecord,
    BundleStatus,
    ClaimState,
    IdempotencyClaim,
    LostKey,
    MovedRequest,
    OutboxEntry,
    OutboxStats,
    RequestRecord,
    RequestStatus,
    Store,
    StoredCallerKey,
    utcnow,
)

__all__ = [
    "AdminResult",
    "BundleRecord",
    "BundleStatus",
    "ClaimState",
    "IdempotencyClaim",
    "LostKey",
    "MovedRequest",
    "OutboxEntry",
    "OutboxStats",
    "RequestRecord",
    "RequestStatus",
    "Store",
    "StoreError",
    "StoreMissing",
    "StoredCallerKey",
    "make_store",
    "plain_sql",
    "release_schema_version",
    "require_existing_store",
    "snapshots",
    "store_state",
    "utcnow",
]


def release_schema_version(backend: str) -> int:
    """The schema version this release migrates a ``backend`` store to (its highest migration number)."""
    from gateway.store.migrations import migrations

    return max((m.version for m in migrations(backend)), default=0)


def make_store(url: str) -> Store:
    """The store for a URL: ``sqlite:///path`` or ``postgresql://...``."""
    if url.startswith("sqlite:"):
        from gateway.store.sqlite.store import SQLiteStore

        return SQLiteStore.from_url(url)
    if url.startswith(("postgresql:", "postgres:")):
        from gateway.store.postgres.store import PostgresStore

        return PostgresStore.from_url(url)
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:///PATH or postgresql://HOST/DB")


def require_existing_store(url: str) -> None:
    """Raise :class:`StoreMissing` when ``url`` names a SQLite file that does not exist.

    Opening it would create an empty store, and a command reading it would
    then report nothing -- run from the wrong directory, a relative
    ``sqlite:///var/onewindow.db`` names another file than the gateway's.
    """
    if not url.startswith("sqlite:"):
        return
    from gateway.store.sqlite.store import SQLiteStore

    path = SQLiteStore.from_url(url).path
    if path == ":memory:" or Path(path).exists():
        return
    where = "" if Path(path).is_absolute() else f" (store.url {url} is relative to the working directory {Path.cwd()})"
    raise StoreMissing(
        f"no store at {Path(path).absolute()}{where}: run this from the gateway's directory or pass --config FILE"
    )
