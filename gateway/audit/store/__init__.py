"""Choosing the audit tables' implementation for the gateway's store backend."""

from __future__ import annotations

from typing import Any

from gateway.audit.store.base import AuditStore


def audit_store_for(store: Any) -> AuditStore:
    """The audit tables of an open gateway :class:`~gateway.store.Store`."""
    if store.backend == "sqlite":
        from gateway.audit.store.sqlite import SQLiteAuditStore

        return SQLiteAuditStore(store)
    if store.backend == "postgres":
        from gateway.audit.store.postgres import PostgresAuditStore

        return PostgresAuditStore(store)
    raise ValueError(f"no audit log for the {store.backend} store")
