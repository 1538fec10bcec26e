"""Whose keys wrote this store's log: an instance holding other audit keys refuses to start.

Several instances share one store only if they share the PKI directory
(docs/operations.md, "Several instances on PostgreSQL"). An instance with
another audit key or another district audit secret finds the log "damaged"
under its own keys -- a checkpoint whose signature does not hold, an entry
or a head whose chain MAC does not follow -- and would close its log and
serve 503s, or, worse, if it were let to append, chain entries the others
take for forged. That is a mistake of setup, not damage, and the fix is to
copy a directory; so the instance stops before serving with one line that
says so (:func:`refusal`).

Telling the two apart needs what the store keeps, not a guess: each
checkpoint names its key (``key_id`` of the signed checkpoint) and, since
migration 0012, the id of the secret that chained the entries up to it
(``audit_checkpoints.secret_id``). Only a log the instance's own check found
damaged is looked at, so a sound log is never refused, whatever those
columns say. Then:

* **another audit key** -- the latest checkpoint names a key that is not
  this instance's, and it was not chained under this instance's secret (the
  key and the secret come from one directory: a checkpoint of another key
  over entries this secret chained is forged), its signature does not hold
  under this instance's key either (a ``key_id`` edited in place is damage),
  and the first checkpoint names no key of this instance (a district's audit
  key is never replaced, so a store this key ever signed is this key's);
* **another audit secret** -- the latest checkpoint records a secret id that
  is not this instance's.

Anything else stays damage: the log closes, as before (docs/audit.md). What
this cannot tell: someone who rewrites the checkpoint rows wholesale (key
id, signature and secret id) makes the store look like another district's,
so the instance refuses to start rather than closing its log; ``onewindow
audit verify`` tells the two apart.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from gateway.audit.store.base import AuditStore
from signing.audit.checkpoint import AuditPublicKey, SignedCheckpoint, algorithm_for, key_id, verify_checkpoint

_LATEST = "SELECT signed, secret_id FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1"
_FIRST = "SELECT signed FROM audit_checkpoints ORDER BY tree_size LIMIT 1"
DOCS = 'docs/operations.md, "Several instances on PostgreSQL"'


@dataclass(frozen=True)
class ForeignKeys:
    """The keys the store's log was written with, where they are not this instance's."""

    key_id: str | None = None  # the audit key that signed the store's checkpoints
    secret_id: str | None = None  # the district audit secret that chained its entries

    def __bool__(self) -> bool:
        return self.key_id is not None or self.secret_id is not None


async def foreign_keys(audit: AuditStore, public_key: AuditPublicKey, secret_id: str | None) -> ForeignKeys:
    """The keys of the store's latest checkpoint that are not this instance's (empty when none is known).

    Reads two checkpoint rows under the log's lock, writes nothing. Call it
    only for a log the start-up check found damaged (see the module docstring).
    """
    async with audit.locked() as tx:
        latest = await tx.rows(_LATEST)
        if not latest:
            return ForeignKeys()
        first = await tx.rows(_FIRST)
    signed, stored_secret = _signed(latest[0][0]), latest[0][1]
    other_key = None
    if (
        signed is not None
        and signed.key_id != key_id(public_key)
        and stored_secret != secret_id
        and not _holds_under(signed, public_key)
        and not _names(first[0][0] if first else None, public_key)
    ):
        other_key = signed.key_id
    other_secret = stored_secret if stored_secret is not None and stored_secret != secret_id else None
    return ForeignKeys(other_key, other_secret)


def refusal(found: ForeignKeys, public_key: AuditPublicKey, secret_id: str | None, audit_dir: str) -> str:
    """The one line an instance with other keys stops with: both fingerprints, and what to copy from where."""
    told = []
    if found.key_id is not None:
        told.append(f"its checkpoints are signed by audit key {found.key_id}, this instance's is {key_id(public_key)}")
    if found.secret_id is not None:
        told.append(f"its entries are chained by audit secret {found.secret_id}, this instance's is {secret_id}")
    return (
        f"this store's audit log was written with other audit keys than this instance's ({'; '.join(told)}): "
        "instances sharing "
        f"a store need the same PKI directory -- copy {audit_dir} from the instance that created the store, or "
        f"give this instance a store of its own ({DOCS}); it recorded nothing in it"
    )


def _signed(value: Any) -> SignedCheckpoint | None:
    try:
        return SignedCheckpoint.from_dict(json.loads(value) if isinstance(value, str) else value)
    except (ValueError, TypeError):  # CheckpointFormatError is a ValueError
        return None  # a malformed checkpoint names no key: damage


def _holds_under(signed: SignedCheckpoint, public_key: AuditPublicKey) -> bool:
    """Whether the signature holds under this instance's key (then only the ``key_id`` was edited)."""
    try:
        own = dataclasses.replace(signed, algorithm=algorithm_for(public_key), key_id=key_id(public_key))
    except ValueError:
        return False
    return verify_checkpoint(own, public_key).ok


def _names(value: Any, public_key: AuditPublicKey) -> bool:
    signed = _signed(value) if value is not None else None
    return signed is not None and signed.key_id == key_id(public_key)
