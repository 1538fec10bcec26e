"""The operator's act on a store behind its witness: give back the log the witness holds, list what was lost.

A restored backup brings back the audit log as it was at the backup; the
witness holds every checkpoint signed since, with the entries each added
(:mod:`gateway.audit.witness`). Reconciling, in one transaction under the
log's lock:

1. takes the store's latest checkpoint that holds as the base (as recovery
   does: entries missing below it, or its frontier altered, are refused);
2. replays the witness's entries onto the base's frontier: they must reach
   every witnessed checkpoint's root, the latest included -- which proves the
   store's signed log is a prefix of the witness's. Otherwise it is a fork
   and nothing is changed;
3. keeps the store's own entries after the base where they are the
   witness's, sets aside the rest (evidence, as recovery does), and gives
   back the witness's entries and checkpoints, chaining them again with the
   district's chain key (the encrypted payloads of given-back entries are
   not in the witness: they are gone with the store they were in);
4. lists the requests the entries tell of that the store lost, or holds as
   they were at the backup (:mod:`gateway.audit.lost`), keeps the lost ones
   in the ``lost_requests`` register, and appends ``admin.audit_reconciled``.

The log keeps its id and its history: what the witness saw is the log, the
next checkpoint extends the witness's latest, and no second, forked view of
the log is ever signed. Sign a checkpoint afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.audit.chain import EntryChain
from gateway.audit.entries import prepare_entry
from gateway.audit.integrity import Head
from gateway.audit.lost import LostRequest, ids_digest, lost_and_rolled_back, register_lost, stories
from gateway.audit.recovery import base_checkpoint, set_aside
from gateway.audit.store.base import (
    CACHE_MIN_LEVEL,
    AuditStore,
    LogTx,
    StoredCheckpoint,
    build_batch,
    insert_checkpoint,
    write_batch,
)
from gateway.audit.witness import Witness, compare
from gateway.errors import AuditIntegrityError
from signing.audit.checkpoint import AuditPublicKey, SignedCheckpoint
from signing.audit.entry import AuditEntry, parse_entry
from signing.audit.merkle import Frontier, MerkleTreeBuilder

RECONCILED_KIND = "admin.audit_reconciled"
_INSERT = (
    "INSERT INTO audit_entries (seq, entry, leaf_hash, kind, request_id, appended_at, payload, chain) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_SUBTREE = (
    "INSERT INTO audit_subtrees (level, idx, hash) VALUES (?, ?, ?) "
    "ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash"
)


class ReconcileRefused(AuditIntegrityError):
    """The witness does not give back a log this store's signed log is a prefix of (a fork), or the store moved."""


@dataclass(frozen=True)
class Given:
    """One of the witness's entries, replayed: its bytes, leaf hash and parsed form."""

    entry: bytes
    leaf: bytes
    parsed: AuditEntry


@dataclass
class Reconciliation:
    """What reconciling found and did (``seq`` is its ``admin.audit_reconciled`` entry; -1 for a dry run)."""

    base: int
    witnessed: SignedCheckpoint
    given: list[Given]
    checkpoints: dict[int, SignedCheckpoint]
    lost: list[LostRequest]
    rolled_back: list[LostRequest]
    head_before: int = 0
    kept: int = 0
    set_aside: tuple[int, int] | None = None
    set_aside_checkpoints: tuple[int, ...] = ()
    set_aside_digest: str = ""
    seq: int = -1

    @property
    def witness_size(self) -> int:
        return self.witnessed.checkpoint.tree_size

    def fields(self) -> dict[str, Any]:
        """The entry's fields (besides who and why)."""
        first = self.base + self.kept
        given = {"first": first, "last": self.witness_size - 1, "count": self.witness_size - first}
        aside = None if self.set_aside is None else {"first": self.set_aside[0], "last": self.set_aside[1]}
        return {
            "store_checkpoint": self.base,
            "witness_checkpoint": self.witness_size,
            "witness_root_digest": "sha256:" + self.witnessed.checkpoint.root_hash.hex(),
            "head_before": self.head_before,
            "kept": self.kept,
            "given_back": given if given["count"] else None,
            "set_aside_entries": aside,
            "set_aside_checkpoints": list(self.set_aside_checkpoints),
            "set_aside_digest": self.set_aside_digest,
            "lost_requests": len(self.lost),
            "lost_digest": ids_digest(self.lost),
            "rolled_back_requests": len(self.rolled_back),
            "rolled_back_digest": ids_digest(self.rolled_back),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.fields(),
            "witness_time": self.witnessed.checkpoint.issued_at.isoformat(),
            "seq": self.seq,
            "lost": [r.to_dict() for r in self.lost],
            "rolled_back": [r.to_dict() for r in self.rolled_back],
        }


def replay(start: Frontier, records: Sequence[dict[str, Any]]) -> tuple[list[Given], dict[int, SignedCheckpoint]]:
    """The witness's entries from ``start.size`` on, re-hashed onto ``start``; every witnessed root must be reached.

    Raises :class:`ReconcileRefused` when they do not: the store's signed log
    is not a prefix of the witness's (a fork), or the records have a gap.
    """
    signed = {
        c.checkpoint.tree_size: c for c in (SignedCheckpoint.from_dict(d) for r in records for d in r["checkpoints"])
    }
    builder, given = MerkleTreeBuilder(start), []
    for record in records:
        for row in record["entries"]:
            if row["seq"] < start.size:
                continue
            if row["seq"] != builder.size:
                raise ReconcileRefused(f"the witness's records skip from entry {builder.size} to {row['seq']}")
            entry = row["entry"].encode("utf-8")
            leaf = hashlib.sha256(b"\x00" + entry).digest()
            parsed = parse_entry(entry)
            if parsed.seq != row["seq"]:
                raise ReconcileRefused(f"the witness's entry {row['seq']} says it is entry {parsed.seq}")
            builder.append(leaf)
            given.append(Given(entry, leaf, parsed))
            checkpoint = signed.get(builder.size)
            if checkpoint is not None and builder.root() != checkpoint.checkpoint.root_hash:
                raise ReconcileRefused(
                    f"the store's signed log (size {start.size}) is not a prefix of the log the witness holds: "
                    f"its entries do not reach the witnessed checkpoint at size {builder.size} -- a fork, "
                    "which reconciling cannot join; nothing was changed"
                )
    return given, {size: cp for size, cp in signed.items() if size > start.size}


async def plan(
    audit: AuditStore, store: Any, witness: Witness, public_key: AuditPublicKey, log_id: str
) -> Reconciliation | None:
    """What reconciling would do (nothing is changed); None when the store is not behind its witness."""
    async with audit.locked() as tx:
        base, _ = await base_checkpoint(tx, public_key, log_id)
    start = base.frontier if base is not None and base.frontier is not None else Frontier(0, ())
    latest, _ = await witness.latest()
    if latest is None:
        return None
    if latest.checkpoint.tree_size <= start.size:
        behind = await compare(audit, latest)
        if behind is not None:
            raise ReconcileRefused(f"{behind.what}; reconciling cannot join a fork: nothing was changed")
        return None
    witnessed, records = await witness.records_back_to(start.size)
    given, checkpoints = replay(start, records)
    if start.size + len(given) != witnessed.checkpoint.tree_size:
        raise ReconcileRefused("the witness's records do not reach its latest checkpoint")
    kept = 0
    for stored_leaf, witness_given in zip(
        await audit.leaf_hashes(start.size, start.size + len(given)), given, strict=False
    ):
        if stored_leaf != witness_given.leaf:
            break
        kept += 1
    told = stories(await _earlier_entries(audit, given) + [g.parsed for g in given])
    rows = {request_id: await store.get_request(request_id) for request_id in told}
    lost, rolled_back = lost_and_rolled_back(told, {i: None if r is None else str(r.status) for i, r in rows.items()})
    return Reconciliation(start.size, witnessed, given, checkpoints, lost, rolled_back, kept=kept)


async def _earlier_entries(audit: AuditStore, given: Sequence[Given]) -> list[AuditEntry]:
    """The store's own entries, from before the base, of the requests the given-back entries tell of."""
    first = given[0].parsed.seq if given else 0
    ids = {g.parsed.request_id for g in given if g.parsed.request_id}
    earlier: list[AuditEntry] = []
    for request_id in sorted(ids):
        earlier += [parse_entry(bytes(row[1])) for row in await audit.entries_for_request(request_id) if row[0] < first]
    return sorted(earlier, key=lambda e: e.seq)


async def reconcile(
    audit: AuditStore,
    planned: Reconciliation,
    public_key: AuditPublicKey,
    log_id: str,
    *,
    fields: dict[str, Any],
    instance: str,
) -> Reconciliation:
    """Apply ``planned`` in one transaction under the log's lock, and append ``admin.audit_reconciled``."""
    chain = audit.chain_or_refuse()
    async with audit.locked() as tx:
        base, forged = await base_checkpoint(tx, public_key, log_id)
        if (base.tree_size if base else 0) != planned.base:
            raise ReconcileRefused("the store changed while reconciling (a gateway is running?): stop it, run again")
        planned.head_before = int((await tx.rows("SELECT size FROM audit_head WHERE id = 1"))[0][0])
        planned.kept = await _kept(tx, planned)
        await _set_aside(tx, planned, forged)
        head = await _give_back(tx, chain, planned, base)
        await register_lost(tx, planned.lost, planned.witness_size)
        entry = prepare_entry(RECONCILED_KIND, {**fields, **planned.fields()}, instance=instance)
        await write_batch(tx, build_batch([entry], head, datetime.now(UTC), chain))
    planned.seq = planned.witness_size
    return planned


async def _kept(tx: LogTx, planned: Reconciliation) -> int:
    """How many of the store's entries after the base are the witness's own (the same leaf at the same place)."""
    kept = 0
    rows = await tx.rows("SELECT seq, leaf_hash FROM audit_entries WHERE seq >= ? ORDER BY seq", planned.base)
    for seq, leaf in rows:
        if seq != planned.base + kept or kept >= len(planned.given) or bytes(leaf) != planned.given[kept].leaf:
            break
        kept += 1
    return kept


async def _set_aside(tx: LogTx, planned: Reconciliation, forged: list[StoredCheckpoint]) -> None:
    first = planned.base + planned.kept
    rows = await tx.rows("SELECT seq, leaf_hash FROM audit_entries WHERE seq >= ? ORDER BY seq", first)
    digest = hashlib.sha256()
    for _, leaf in rows:
        digest.update(bytes(leaf))
    planned.set_aside = (int(rows[0][0]), int(rows[-1][0])) if rows else None
    planned.set_aside_checkpoints = tuple(c.tree_size for c in forged)
    planned.set_aside_digest = "sha256:" + digest.hexdigest()
    await set_aside(tx, act=planned.witness_size, first=first, checkpoints=planned.set_aside_checkpoints)


async def _give_back(tx: LogTx, chain: EntryChain, planned: Reconciliation, base: StoredCheckpoint | None) -> Head:
    """Chain every entry after the base again, write the given-back ones and the witnessed checkpoints."""
    start = base.frontier if base is not None and base.frontier is not None else Frontier(0, ())
    subtrees: list[tuple[int, int, bytes]] = []

    def cache(first: int, end: int, digest: bytes) -> None:
        level = (end - first).bit_length() - 1
        if level >= CACHE_MIN_LEVEL:
            subtrees.append((level, first >> level, digest))

    builder = MerkleTreeBuilder(start, on_subtree=cache)
    mac = chain.anchor(start.size, start.root())
    for offset, given in enumerate(planned.given):
        seq, parsed = start.size + offset, given.parsed
        mac = chain.link(mac, seq, given.leaf)
        builder.append(given.leaf)
        if offset < planned.kept:
            await tx.run("UPDATE audit_entries SET chain = ? WHERE seq = ?", mac, seq)
        else:
            await tx.run(_INSERT, seq, given.entry, given.leaf, parsed.kind, parsed.request_id, parsed.time, None, mac)
        witnessed = planned.checkpoints.get(builder.size)
        if witnessed is not None:
            await insert_checkpoint(tx, witnessed, builder.frontier(), chain.secret_id)
            mac = chain.anchor(builder.size, builder.root())
    for subtree in subtrees:
        await tx.run(_SUBTREE, *subtree)
    return Head(builder.frontier(), mac)
