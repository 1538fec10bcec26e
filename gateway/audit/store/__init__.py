"""Where the audit log lives: one implementation per store backend, and choosing it.

* :mod:`~gateway.audit.store.base` -- the interface both backends implement, and their shared logic
* :mod:`~gateway.audit.store.sqlite`, :mod:`~gateway.audit.store.postgres` -- the tables and the append transaction

``__all__`` names what other packages may import; the rest are this package's own.
"""

from __future__ import annotations

from typing import Any

from gateway.audit.chain import EntryChain
from gateway.audit.store.base import AuditStore


def audit_store_for(store: Any, chain: EntryChain | None = None) -> AuditStore:
    """The audit tables of an open gateway :class:`~gateway.store.Store`.

    ``chain`` (the district audit secret's chain key) is needed to append,
    sign checkpoints and check the log; without it the log can only be read.
    """
    if store.backend == "sqlite":
        from gateway.audit.store.sqlite import SQLiteAuditStore

        return SQLiteAuditStore(store, chain)
    if store.backend == "postgres":
        from gateway.audit.store.postgres import PostgresAuditStore

        return PostgresAuditStore(store, chain)
    raise ValueError(f"no audit log for the {store.backend} store")


__all__ = ["audit_store_for", "base"]
