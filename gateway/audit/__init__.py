"""The tamper-evident audit log: entries, group-committed appends, checkpoints, proofs.

Every step of every request and every administrative act becomes one entry
of an append-only RFC 9162 Merkle tree kept in the gateway's store, with
checkpoints signed by the district audit key (docs/audit.md). The modules:

* :mod:`~gateway.audit.entries` -- what an event becomes (canonical bytes); :mod:`~gateway.audit.fields` -- masked
* :mod:`~gateway.audit.log` -- the appender (group commit), the checkpointer, closing on damage
* :mod:`~gateway.audit.secret` -- the district audit secret: chain key and digest key
* :mod:`~gateway.audit.chain` -- the keyed MAC through the entries; :mod:`~gateway.audit.integrity` -- the check
  from the latest signed checkpoint (before each checkpoint, at start-up)
* :mod:`~gateway.audit.store_keys` -- a log written with another audit key or secret: the instance refuses to start
* :mod:`~gateway.audit.store.sqlite`, :mod:`~gateway.audit.store.postgres` -- tables and the append transaction
* :mod:`~gateway.audit.proofs` -- inclusion / consistency proofs from the subtree cache
* :mod:`~gateway.audit.verify` -- ``audit verify`` against the store
* :mod:`~gateway.audit.recovery` -- the operator's act on a damaged log (``audit recover``)
* :mod:`~gateway.audit.witness` -- each signed checkpoint published outside the store, a store behind it
  closes the log; :mod:`~gateway.audit.witness_places` -- a directory or a URL
* :mod:`~gateway.audit.reconcile` -- the operator's act on a store behind its witness (``audit reconcile``);
  :mod:`~gateway.audit.lost` -- the requests a restore lost, told from their entries
* :mod:`~gateway.audit.admin` -- administrative acts from the command line
* :mod:`~gateway.audit.registry_acts` -- the seal registry's acts (the bureau's), each appended once

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

from __future__ import annotations

__all__ = [
    "admin",
    "keys",
    "log",
    "lost",
    "payloads",
    "proofs",
    "reconcile",
    "recovery",
    "registry_acts",
    "secret",
    "setup",
    "store",
    "story",
    "verify",
    "witness",
]
