"""Where the audit log lives: the interface both backends implement, and their shared logic.

Tables (migrations ``0003_audit.sql``, ``0004_audit_chain.sql``, ``0012_audit_secret_id.sql``):
``audit_entries`` (the entries, with the leaf hash, index columns and chain
MAC recorded at append time, and the encrypted payload outside the hashed
bytes), ``audit_subtrees`` (hashes of every perfect subtree of 16 or more
leaves, the cache that makes proofs O(log n) reads), ``audit_head`` (one row:
size, frontier and chain value, from which the next batch extends the tree
and the chain), ``audit_checkpoints`` (signed checkpoints, each with the
frontier at its size and the id of the secret that chained up to it), and
the ``..._set_aside`` tables where an operator's recovery moves what the
gateway did not write (:mod:`gateway.audit.recovery`).

Appends are serialised on the head row, for one batch at a time: read the
head, number the entries after it, hash them onto its frontier, chain them
onto its chain value, write, commit (PostgreSQL: a compare-and-set on the
head row, or its row lock when another process appended meanwhile; SQLite:
the database write lock).
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from gateway.audit.chain import EntryChain
from gateway.audit.entries import PreparedEntry, finish_entry, format_time
from gateway.audit.integrity import (
    Head,
    Snapshot,
    Soundness,
    TailRow,
    check_tail,
    judge,
    plan_checkpoint,
    signed_start,
)
from gateway.errors import AuditIntegrityError, AuditSetupError
from signing.audit.checkpoint import AuditPublicKey, CheckpointSigner, SignedCheckpoint
from signing.audit.merkle import EMPTY_ROOT, HASH_SIZE, Frontier, MerkleTreeBuilder

CACHE_MIN_LEVEL = 4
"""Perfect subtrees of 2**4 = 16 leaves and more are cached; smaller ones come from the leaf hashes."""

EntryRow = tuple[int, bytes, bytes, str, str | None, str, bytes | None]
"""``(seq, entry, leaf_hash, kind, request_id, time, payload)``: the row shape ``LogVerifier.add`` reads."""

ChainedRow = tuple[int, bytes, bytes, str, str | None, str, bytes | None, bytes | None]
"""An :data:`EntryRow` with its chain MAC last, as appended."""


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint row: the signed JSON and the tree frontier at its size."""

    tree_size: int
    signed: dict[str, Any]
    frontier: Frontier | None
    created_at: str


@dataclass(frozen=True)
class BatchRows:
    """What one append transaction writes."""

    entries: list[ChainedRow]
    subtrees: list[tuple[int, int, bytes]]
    head: Head


def frontier_bytes(frontier: Frontier) -> bytes:
    return b"".join(frontier.hashes)


def frontier_from(size: int, data: bytes | None) -> Frontier:
    """Inverse of :func:`frontier_bytes`; ``ValueError`` when the stored bytes do not fit the size."""
    data = data or b""
    return Frontier(size, tuple(data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)))


def build_batch(batch: Sequence[PreparedEntry], head: Head, moment: datetime, chain: EntryChain) -> BatchRows:
    """Number, time-stamp, hash and chain a batch after ``head``; collect the perfect subtrees it completes."""
    size = head.size
    if head.chain is None and size:  # an empty log starts its chain here; any other needs its check first
        raise AuditIntegrityError(
            "the log's head carries no chain value: the log has not been checked since it was "
            "migrated, or the value was removed"
        )
    subtrees: list[tuple[int, int, bytes]] = []

    def cache(start: int, end: int, digest: bytes) -> None:
        level = (end - start).bit_length() - 1
        if level >= CACHE_MIN_LEVEL:
            subtrees.append((level, start >> level, digest))

    # Most batches complete no subtree worth caching (one in 16 entries does): no observer to call then.
    completes = (size + len(batch)) >> CACHE_MIN_LEVEL != size >> CACHE_MIN_LEVEL
    builder = MerkleTreeBuilder(head.frontier, on_subtree=cache if completes else None)
    time = format_time(moment)
    rows: list[ChainedRow] = []
    sha, link, append = hashlib.sha256, chain.link, builder.append
    mac = head.chain if head.chain is not None else chain.anchor(0, EMPTY_ROOT)
    seq = size
    for prepared in batch:
        entry = finish_entry(prepared.prefix, seq, time)
        leaf = sha(b"\x00" + entry).digest()
        append(leaf)
        mac = link(mac, seq, leaf)
        rows.append((seq, entry, leaf, prepared.kind, prepared.request_id, time, prepared.payload, mac))
        seq += 1
    return BatchRows(rows, subtrees, Head(builder.frontier(), mac))


def signed_json(signed: SignedCheckpoint) -> str:
    """The JSON kept in ``audit_checkpoints.signed``."""
    return json.dumps(signed.to_dict(), separators=(",", ":"))


def checkpoint_row(
    size: int, signed: Any, frontier: bytes | None, size_column: int, created_at: str
) -> StoredCheckpoint:
    """A checkpoint as read from a row; the signed JSON is parsed, the frontier unpacked if it fits."""
    try:
        frontier_value = frontier_from(size, frontier) if frontier is not None else None
    except ValueError:
        frontier_value = None
    doc = json.loads(signed) if isinstance(signed, str) else signed
    return StoredCheckpoint(size_column, doc if isinstance(doc, dict) else {}, frontier_value, created_at)


class LogTx(Protocol):
    """SQL inside the log's lock, the same on both backends (``?`` placeholders)."""

    async def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Every row of one query."""

    async def run(self, sql: str, *params: Any) -> None:
        """One statement."""


_HEAD = "SELECT size, frontier, chain FROM audit_head WHERE id = 1"
_LATEST = "SELECT tree_size, signed, frontier, created_at FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1"
SINCE = (
    "SELECT tree_size, signed, frontier, created_at FROM audit_checkpoints WHERE tree_size >= "
    "COALESCE((SELECT MAX(tree_size) FROM audit_checkpoints WHERE tree_size <= ?), 0) ORDER BY tree_size"
)
"""The checkpoints from the last one at or below a size on (``?`` placeholder)."""
_FIRST_GAP = (
    "SELECT MIN(seq + 1) FROM audit_entries a WHERE seq + 1 < ? "
    "AND NOT EXISTS (SELECT 1 FROM audit_entries b WHERE b.seq = a.seq + 1)"
)
_INSERT_ENTRY = (
    "INSERT INTO audit_entries (seq, entry, leaf_hash, kind, request_id, appended_at, payload, chain) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_SUBTREE = (
    "INSERT INTO audit_subtrees (level, idx, hash) VALUES (?, ?, ?) "
    "ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash"
)


def head_of(row: tuple[Any, ...]) -> Head:
    """The head from its row ``(size, frontier, chain)``."""
    return Head(frontier_from(int(row[0]), bytes(row[1])), None if row[2] is None else bytes(row[2]))


async def read_snapshot(tx: LogTx, *, count: bool) -> Snapshot:
    """Head, latest checkpoint and the entries after it; with ``count``, the stored entries counted too."""
    head = head_of((await tx.rows(_HEAD))[0])
    latest_rows = await tx.rows(_LATEST)
    latest = stored_checkpoint(latest_rows[0]) if latest_rows else None
    start = min(latest.tree_size if latest else 0, head.size)
    rows: list[TailRow] = [
        (int(r[0]), bytes(r[1]), bytes(r[2]), None if r[3] is None else bytes(r[3]))
        for r in await tx.rows(
            "SELECT seq, entry, leaf_hash, chain FROM audit_entries WHERE seq >= ? AND seq < ? ORDER BY seq",
            start,
            head.size,
        )
    ]
    if not count:
        return Snapshot(head, latest, rows)
    total, low, high = (await tx.rows("SELECT COUNT(*), MIN(seq), MAX(seq) FROM audit_entries"))[0]
    first_missing = None
    if total != head.size or (total and low != 0):
        first_missing = 0 if low is None or low != 0 else (await tx.rows(_FIRST_GAP, head.size))[0][0]
    return Snapshot(head, latest, rows, (int(total), low, high), first_missing)


async def write_batch(tx: LogTx, rows: BatchRows) -> None:
    """Write a built batch and its new head (inside the lock)."""
    for row in rows.entries:
        await tx.run(_INSERT_ENTRY, *row)
    for subtree in rows.subtrees:
        await tx.run(_UPSERT_SUBTREE, *subtree)
    await write_head(tx, rows.head)


async def write_head(tx: LogTx, head: Head) -> None:
    await tx.run(
        "UPDATE audit_head SET size = ?, frontier = ?, chain = ? WHERE id = 1",
        head.size,
        frontier_bytes(head.frontier),
        head.chain,
    )


async def insert_checkpoint(
    tx: LogTx, signed: SignedCheckpoint, frontier: Frontier, secret_id: str | None = None
) -> None:
    """Keep a signed checkpoint with the frontier at its size, and the id of the secret that chained up to it."""
    await tx.run(
        "INSERT INTO audit_checkpoints (tree_size, signed, frontier, created_at, secret_id) VALUES (?, ?, ?, ?, ?)",
        frontier.size,
        signed_json(signed),
        frontier_bytes(frontier),
        format_time(datetime.now(UTC)),
        secret_id,
    )


def stored_checkpoint(row: tuple[Any, ...]) -> StoredCheckpoint:
    """A checkpoint from its row ``(tree_size, signed, frontier, created_at)``."""
    size = int(row[0])
    return checkpoint_row(size, row[1], None if row[2] is None else bytes(row[2]), size, row[3])


class AuditStore(abc.ABC):
    """The audit log's tables on one backend.

    ``chain`` (from the district audit secret) is needed to append, to sign
    checkpoints and to check the log; reading and proving need nothing.
    """

    chain: EntryChain | None = None
    #: ``(from, to, rows)``: the entries the latest checkpoint signed here was checked on, for its witness record
    _signed: tuple[int, int, Sequence[TailRow]] | None = None

    def signed_entries(self, start: int, end: int) -> list[tuple[int, bytes]] | None:
        """The entries ``start <= seq < end`` as read and checked under the lock by the checkpoint just signed here.

        Handed over once (None after, or for any other range): the witness's
        record of that checkpoint then holds exactly what was verified and
        signed, without reading it again.
        """
        signed, self._signed = self._signed, None
        if signed is None or signed[:2] != (start, end):
            return None
        return [(row[0], row[1]) for row in signed[2]]

    def chain_or_refuse(self) -> EntryChain:
        """The chain key; a clear error where it was not loaded."""
        if self.chain is None:
            raise AuditSetupError(
                "the district audit secret is not loaded: entries can be read, not written, signed or checked"
            )
        return self.chain

    #: appends are units of work on the loop that share commits (SQLite): the appender batches what is queued
    #: in one turn of the loop (one unit, one head update for many entries) but never waits for more
    shares_commits = False

    async def durable(self) -> None:
        """Return once every appended entry is on disk (see :meth:`gateway.store.Store.durable`)."""
        return None  # a log whose every commit is flushed before it returns; both backends override it

    @abc.abstractmethod
    async def append(self, batch: Sequence[PreparedEntry]) -> int:
        """Write a batch as the next entries, in one transaction under the log's lock; return the first seq."""

    @abc.abstractmethod
    def locked(self) -> contextlib.AbstractAsyncContextManager[LogTx]:
        """A transaction holding the log's lock (the head row), for checks, checkpoints and recovery."""

    @abc.abstractmethod
    async def head(self) -> Frontier:
        """The log's size and frontier as the appenders last wrote them."""

    async def checkpoint(self, signer: CheckpointSigner, log_id: str) -> SignedCheckpoint | None:
        """Sign the head unless the latest checkpoint already covers it (see :func:`plan_checkpoint`).

        Under the log's lock, so the head signed is the whole log: the chain
        restarts from the new checkpoint's anchor in the same transaction.
        With nothing new to sign, the latest checkpoint and the head are
        still checked, so damage is found on the next tick either way.
        """
        chain = self.chain_or_refuse()
        async with self.locked() as tx:
            snapshot = await read_snapshot(tx, count=False)
            head, latest = snapshot.head, snapshot.latest
            if head.size == (latest.tree_size if latest else 0):  # nothing new: still say if what stands is sound
                check_tail(chain, head, signed_start(latest, signer.public_key(), log_id), snapshot.rows)
                return None
            signed, frontier, anchor = plan_checkpoint(
                head=head, latest=latest, rows=snapshot.rows, signer=signer, log_id=log_id, chain=chain
            )
            await insert_checkpoint(tx, signed, frontier, chain.secret_id)
            await tx.run("UPDATE audit_head SET chain = ? WHERE id = 1", anchor)
        self._signed = (latest.tree_size if latest else 0, head.size, snapshot.rows)
        return signed

    async def inspect(self, public_key: AuditPublicKey, log_id: str) -> Soundness:
        """Check the log from its latest signed checkpoint (:func:`gateway.audit.integrity.judge`).

        A store from before the chain, stopped cleanly, gets its chain
        anchored at that checkpoint here.
        """
        chain = self.chain_or_refuse()
        async with self.locked() as tx:
            verdict = judge(await read_snapshot(tx, count=True), chain, public_key, log_id)
            if verdict.anchor is not None:
                await tx.run("UPDATE audit_head SET chain = ? WHERE id = 1 AND chain IS NULL", verdict.anchor)
        return verdict

    @abc.abstractmethod
    def entries(self, start: int = 0, end: int | None = None, *, chunk: int = 20_000) -> AsyncIterator[list[EntryRow]]:
        """Rows with ``start <= seq < end`` in order, in chunks."""

    @abc.abstractmethod
    async def entries_for_request(self, request_id: str) -> list[EntryRow]:
        """Every entry about one request, in order."""

    @abc.abstractmethod
    async def find_entry(self, request_id: str, kind: str) -> EntryRow | None:
        """The latest entry of ``kind`` about ``request_id``."""

    @abc.abstractmethod
    async def checkpoints(self) -> list[StoredCheckpoint]:
        """Every checkpoint, smallest first."""

    @abc.abstractmethod
    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint with the largest tree size."""

    @abc.abstractmethod
    async def checkpoints_since(self, size: int) -> list[StoredCheckpoint]:
        """The checkpoints from the last one at or below ``size`` on, smallest first (all when there is none)."""

    @abc.abstractmethod
    async def subtree_hashes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Cached perfect subtrees ``(level, index)``; absent keys are simply missing."""

    @abc.abstractmethod
    async def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """The recorded leaf hashes of entries ``start .. end-1``."""

    async def entry(self, seq: int) -> EntryRow | None:
        """One entry by its sequence number."""
        async for rows in self.entries(seq, seq + 1):
            return rows[0] if rows else None
        return None
