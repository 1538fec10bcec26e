"""The tamper-evident audit log: entries, group-committed appends, checkpoints, proofs.

Every step of every request and every administrative act becomes one entry
of an append-only RFC 9162 Merkle tree kept in the gateway's store, with
checkpoints signed by the district audit key (docs/audit.md). The modules:

* :mod:`~gateway.audit.entries` -- what an event becomes (masked, canonical bytes)
* :mod:`~gateway.audit.log` -- the appender (group commit) and the checkpointer
* :mod:`~gateway.audit.store_sqlite`, :mod:`~gateway.audit.store_postgres` -- tables and the append transaction
* :mod:`~gateway.audit.proofs` -- inclusion / consistency proofs from the subtree cache
* :mod:`~gateway.audit.verify` -- ``audit verify`` against the store
* :mod:`~gateway.audit.admin` -- administrative acts from the command line

This package's ``__init__`` stays import-light: :mod:`gateway.config` imports
:mod:`gateway.audit.settings`.
"""

from __future__ import annotations

from typing import Any


def record_admin_act(settings: Any, kind: str, **fields: Any) -> int:
    """Append an administrative act (``admin.<kind>``) to the configured store's audit log; see
    :func:`gateway.audit.admin.record_admin_act`."""
    from gateway.audit.admin import record_admin_act as record

    return record(settings, kind, **fields)


async def append_admin_act(settings: Any, kind: str, **fields: Any) -> int:
    """Async form of :func:`record_admin_act`, for callers already inside an event loop."""
    from gateway.audit.admin import append_admin_act as append

    return await append(settings, kind, **fields)


__all__ = ["append_admin_act", "record_admin_act"]
