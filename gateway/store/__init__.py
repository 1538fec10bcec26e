"""Durable state: request records and idempotency keys, on SQLite or PostgreSQL."""

from __future__ import annotations

from gateway.store.base import (
    AdminResult,
    ClaimState,
    IdempotencyClaim,
    OutboxEntry,
    OutboxStats,
    RequestRecord,
    RequestStatus,
    Store,
    StoreError,
    utcnow,
)

__all__ = [
    "AdminResult",
    "ClaimState",
    "IdempotencyClaim",
    "OutboxEntry",
    "OutboxStats",
    "RequestRecord",
    "RequestStatus",
    "Store",
    "StoreError",
    "make_store",
    "utcnow",
]


def make_store(url: str) -> Store:
    """The store for a URL: ``sqlite:///path`` or ``postgresql://...``."""
    if url.startswith("sqlite:"):
        from gateway.store.sqlite import SQLiteStore

        return SQLiteStore.from_url(url)
    if url.startswith(("postgresql:", "postgres:")):
        from gateway.store.postgres import PostgresStore

        return PostgresStore.from_url(url)
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:///PATH or postgresql://HOST/DB")
