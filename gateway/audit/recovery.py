"""The operator's act on a damaged log: set aside what the gateway did not write, record it, sign again.

A damaged log stays closed (:mod:`gateway.audit.log`). What can be done
depends on where the damage is:

* **after the latest valid checkpoint** -- entries inserted without the
  chain key, entries altered since they were appended, entries written
  without a chain (a store migrated after an unclean stop), a rewritten
  head, checkpoints whose signature does not hold: ``onewindow audit
  recover`` moves every entry from the first one whose chain MAC does not
  follow, and every checkpoint row whose signature does not hold, into the
  ``..._set_aside`` tables (kept as evidence, never part of the tree),
  resets the head to the last entry that verifies, appends an
  ``admin.audit_recovered`` entry saying who, why, what was found and what
  was set aside (with a digest of it), and signs a checkpoint. Nothing it
  set aside is ever signed; the entries it keeps are exactly those the
  district's key chained.
* **inside what a valid checkpoint signed** -- entries missing below it (a
  truncation), or a signed checkpoint whose saved frontier was altered:
  what was signed cannot be given back from this store, and recovery
  refuses; restore the store from a backup.

Walking the entries, a chain MAC that does not follow its predecessor is
still accepted when it follows a *restart* at that size (the anchor of a
checkpoint signed there, whose row was then forged or deleted): only the key
holder can compute either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.audit.chain import EntryChain
from gateway.audit.entries import format_time, prepare_entry
from gateway.audit.integrity import Damage, Head, judge, next_timestamp, signed_start
from gateway.audit.store.base import (
    AuditStore,
    LogTx,
    StoredCheckpoint,
    build_batch,
    insert_checkpoint,
    read_snapshot,
    stored_checkpoint,
    write_batch,
    write_head,
)
from gateway.errors import AuditIntegrityError
from gateway.observability.events import stable_json
from signing.audit.checkpoint import (
    AuditPublicKey,
    Checkpoint,
    CheckpointSigner,
    SignedCheckpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from signing.audit.merkle import Frontier, MerkleTreeBuilder

RECOVERED_KIND = "admin.audit_recovered"
_CHECKPOINTS = "SELECT tree_size, signed, frontier, created_at FROM audit_checkpoints"
_CHAINED = "SELECT seq, entry, leaf_hash, chain FROM audit_entries"


class RecoveryRefused(AuditIntegrityError):
    """The damage lies in what a valid checkpoint signed: only a restore from a backup repairs it."""


@dataclass(frozen=True)
class Recovery:
    """What a recovery found and did; ``seq`` is its ``admin.audit_recovered`` entry."""

    found: Damage
    base: int
    head_before: int
    kept: int
    set_aside: tuple[int, int] | None
    set_aside_count: int
    set_aside_checkpoints: tuple[int, ...]
    set_aside_digest: str
    resigned_checkpoints: tuple[int, ...] = ()
    seq: int = -1

    def fields(self) -> dict[str, Any]:
        """The entry's fields (besides who and why)."""
        first_last = None if self.set_aside is None else {"first": self.set_aside[0], "last": self.set_aside[1]}
        return {
            "found": self.found.describe(),
            "base_checkpoint": self.base,
            "head_before": self.head_before,
            "kept": self.kept,
            "set_aside_entries": None if first_last is None else {**first_last, "count": self.set_aside_count},
            "set_aside_checkpoints": list(self.set_aside_checkpoints),
            "set_aside_digest": self.set_aside_digest,
            "resigned_checkpoints": list(self.resigned_checkpoints),
        }


async def recover(
    audit: AuditStore, signer: CheckpointSigner, log_id: str, *, by: str, reason: str, instance: str
) -> Recovery | None:
    """Recover a damaged log in one transaction under its lock; None when it is sound (nothing done).

    The ``admin.audit_recovered`` entry (``by``, ``reason`` and what was found
    and set aside) is appended in the same transaction, as ``instance``.
    Sign a checkpoint afterwards.
    """
    chain = audit.chain_or_refuse()
    public_key = signer.public_key()
    async with audit.locked() as tx:
        verdict = judge(await read_snapshot(tx, count=True), chain, public_key, log_id)
        if verdict.ok:
            return None
        assert verdict.damage is not None
        head_before = verdict.size
        base, forged = await base_checkpoint(tx, public_key, log_id)
        kept, head, restarts = await _walk(tx, chain, base)
        beyond = await tx.rows("SELECT seq, entry FROM audit_entries WHERE seq >= ? ORDER BY seq", kept)
        digest = hashlib.sha256()
        for _, entry in beyond:
            digest.update(hashlib.sha256(b"\x00" + bytes(entry)).digest())
        for checkpoint in forged:
            digest.update(hashlib.sha256(stable_json(checkpoint.signed)).digest())
        plan = Recovery(
            found=verdict.damage,
            base=base.tree_size if base else 0,
            head_before=head_before,
            kept=kept,
            set_aside=(int(beyond[0][0]), int(beyond[-1][0])) if beyond else None,
            set_aside_count=len(beyond),
            set_aside_checkpoints=tuple(c.tree_size for c in forged),
            set_aside_digest="sha256:" + digest.hexdigest(),
            resigned_checkpoints=tuple(f.size for f in restarts),
            seq=kept,
        )
        await _set_aside(tx, plan, head)
        await _resign(tx, signer, log_id, base, restarts, chain.secret_id)
        entry = prepare_entry(RECOVERED_KIND, {"by": by, "reason": reason, **plan.fields()}, instance=instance)
        batch = build_batch([entry], head, datetime.now(UTC), chain)
        await write_batch(tx, batch)
        return plan


async def base_checkpoint(
    tx: LogTx, key: AuditPublicKey, log_id: str
) -> tuple[StoredCheckpoint | None, list[StoredCheckpoint]]:
    """The latest checkpoint that holds, and the rows above it whose signature does not (forged).

    :class:`RecoveryRefused` when what it signed is not all there (entries missing below it, its
    frontier altered): only a restore repairs that.
    """
    rows = await tx.rows(_CHECKPOINTS + " ORDER BY tree_size DESC")
    forged: list[StoredCheckpoint] = []
    for row in rows:
        stored = stored_checkpoint(row)
        try:
            signed_start(stored, key, log_id)
        except AuditIntegrityError:
            if _signature_holds(stored, key, log_id):
                raise RecoveryRefused(
                    f"the checkpoint at size {stored.tree_size} is signed but the frontier saved with it was "
                    "altered: restore the store from a backup"
                ) from None
            forged.append(stored)
            continue
        present = (await tx.rows("SELECT COUNT(*) FROM audit_entries WHERE seq < ?", stored.tree_size))[0][0]
        if present != stored.tree_size:
            raise RecoveryRefused(
                f"entries below the signed checkpoint at size {stored.tree_size} are missing ({present} of "
                f"{stored.tree_size} are there): what a checkpoint signed cannot be given back from this store; "
                "restore it from a backup"
            )
        return stored, forged
    return None, forged


def _signature_holds(stored: StoredCheckpoint, key: AuditPublicKey, log_id: str) -> bool:
    try:
        signed = SignedCheckpoint.from_dict(stored.signed)
    except ValueError:
        return False
    return verify_checkpoint(signed, key, log_id=log_id).ok and signed.checkpoint.tree_size == stored.tree_size


async def _walk(tx: LogTx, chain: EntryChain, base: StoredCheckpoint | None) -> tuple[int, Head, list[Frontier]]:
    """How many entries the district's key chained from ``base`` on, the head after the last of them, and
    the frontiers where the chain restarted at a checkpoint whose row is gone (forged or deleted)."""
    start = base.frontier if base is not None and base.frontier is not None else Frontier(0, ())
    builder = MerkleTreeBuilder(start)
    expected = chain.anchor(start.size, start.root())
    restarts: list[Frontier] = []
    rows = await tx.rows(_CHAINED + " WHERE seq >= ? ORDER BY seq", start.size)
    for seq, entry, recorded, mac in rows:
        if seq != builder.size or mac is None:
            break
        leaf = hashlib.sha256(b"\x00" + bytes(entry)).digest()
        mac = bytes(mac)
        if bytes(recorded) != leaf:
            break
        if mac != chain.link(expected, seq, leaf):
            if mac != chain.link(chain.anchor(seq, builder.root()), seq, leaf):
                break
            restarts.append(builder.frontier())
        expected = mac
        builder.append(leaf)
    return builder.size, Head(builder.frontier(), expected), restarts


async def _resign(
    tx: LogTx,
    signer: CheckpointSigner,
    log_id: str,
    base: StoredCheckpoint | None,
    restarts: list[Frontier],
    secret_id: str | None,
) -> None:
    """Sign again the checkpoints the chain says were signed (it restarted there) but whose rows are gone.

    The entries they covered were chained by the district's key up to them, so
    the tree at that size is the one that was signed; without the row, the chain
    could not be followed across it at the next check.
    """
    previous, stamp = base.tree_size if base is not None else None, next_timestamp(base)
    for frontier in restarts:
        checkpoint = Checkpoint(log_id, frontier.size, frontier.root(), stamp, previous_size=previous)
        await insert_checkpoint(tx, sign_checkpoint(checkpoint, signer), frontier, secret_id)
        previous = frontier.size


async def _set_aside(tx: LogTx, plan: Recovery, head: Head) -> None:
    """Move what the gateway did not write out of the log; reset the head to the last entry it did."""
    await set_aside(tx, act=plan.seq, first=plan.kept, checkpoints=plan.set_aside_checkpoints)
    await write_head(tx, head)


async def set_aside(tx: LogTx, *, act: int, first: int, checkpoints: Sequence[int]) -> None:
    """Move entries ``first ..`` and the checkpoint rows at ``checkpoints`` into the set-aside tables.

    ``act`` is the seq of the entry recording why (``admin.audit_recovered``,
    ``admin.audit_reconciled``); the cached subtrees reaching past ``first``
    go too (they hash entries that are gone).
    """
    moment = format_time(datetime.now(UTC))
    await tx.run(
        "INSERT INTO audit_entries_set_aside (recovery, set_aside_at, seq, appended_at, kind, request_id, entry, "
        "leaf_hash, payload, chain) SELECT ?, ?, seq, appended_at, kind, request_id, entry, leaf_hash, payload, "
        "chain FROM audit_entries WHERE seq >= ?",
        act,
        moment,
        first,
    )
    await tx.run("DELETE FROM audit_entries WHERE seq >= ?", first)
    for size in checkpoints:
        await tx.run(
            "INSERT INTO audit_checkpoints_set_aside (recovery, set_aside_at, tree_size, signed, frontier, created_at) "
            "SELECT ?, ?, tree_size, signed, frontier, created_at FROM audit_checkpoints WHERE tree_size = ?",
            act,
            moment,
            size,
        )
        await tx.run("DELETE FROM audit_checkpoints WHERE tree_size = ?", size)
    await tx.run("DELETE FROM audit_subtrees WHERE (idx + 1) * (CAST(1 AS BIGINT) << level) > ?", first)
