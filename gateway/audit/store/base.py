"""Where the audit log lives: the interface both backends implement, and their shared logic.

Four tables (migration ``0003_audit.sql``): ``audit_entries`` (the entries,
with the leaf hash and index columns recorded at append time, and the
encrypted payload outside the hashed bytes), ``audit_subtrees`` (hashes of
every perfect subtree of 16 or more leaves, the cache that makes proofs
O(log n) reads), ``audit_head`` (one row: size and frontier, from which the
next batch extends the tree) and ``audit_checkpoints`` (signed checkpoints,
each with the frontier at its size).

Appends are serialised on the head row, for one batch at a time: read the
head, number the entries after it, hash them onto its frontier, write,
commit (PostgreSQL: a compare-and-set on the head row, or its row lock when
another process appended meanwhile; SQLite: the database write lock).
"""

from __future__ import annotations

import abc
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.audit.entries import PreparedEntry, finish_entry, format_time
from gateway.errors import AuditIntegrityError
from signing.audit.checkpoint import (
    Checkpoint,
    CheckpointSigner,
    SignedCheckpoint,
    sign_checkpoint,
    timestamp_ms,
    verify_checkpoint,
)
from signing.audit.merkle import HASH_SIZE, Frontier, MerkleTreeBuilder

CACHE_MIN_LEVEL = 4
"""Perfect subtrees of 2**4 = 16 leaves and more are cached; smaller ones come from the leaf hashes."""

EntryRow = tuple[int, bytes, bytes, str, str | None, str, bytes | None]
"""``(seq, entry, leaf_hash, kind, request_id, time, payload)``: the row shape ``LogVerifier.add`` reads."""


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

    entries: list[EntryRow]
    subtrees: list[tuple[int, int, bytes]]
    head: Frontier


def frontier_bytes(frontier: Frontier) -> bytes:
    return b"".join(frontier.hashes)


def frontier_from(size: int, data: bytes | None) -> Frontier:
    """Inverse of :func:`frontier_bytes`; ``ValueError`` when the stored bytes do not fit the size."""
    data = data or b""
    return Frontier(size, tuple(data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)))


def build_batch(batch: Sequence[PreparedEntry], head: Frontier, moment: datetime) -> BatchRows:
    """Number, time-stamp and hash a batch after ``head``; collect the perfect subtrees it completes."""
    subtrees: list[tuple[int, int, bytes]] = []

    def cache(start: int, end: int, digest: bytes) -> None:
        level = (end - start).bit_length() - 1
        if level >= CACHE_MIN_LEVEL:
            subtrees.append((level, start >> level, digest))

    builder = MerkleTreeBuilder(head, on_subtree=cache)
    time = format_time(moment)
    rows: list[EntryRow] = []
    sha = hashlib.sha256
    for offset, prepared in enumerate(batch):
        seq = head.size + offset
        entry = finish_entry(prepared.prefix, seq, time)
        leaf = sha(b"\x00" + entry).digest()
        builder.append(leaf)
        rows.append((seq, entry, leaf, prepared.kind, prepared.request_id, time, prepared.payload))
    return BatchRows(rows, subtrees, builder.frontier())


def plan_checkpoint(
    *,
    head: Frontier,
    latest: StoredCheckpoint | None,
    entries: Sequence[tuple[int, bytes]],
    signer: CheckpointSigner,
    log_id: str,
    now: datetime | None = None,
) -> tuple[SignedCheckpoint, Frontier]:
    """Sign the head -- but only after re-hashing every entry since the last checkpoint.

    The new root is recomputed from the previous signed checkpoint's frontier
    (authenticated by its signature) and the stored entry bytes, and must
    equal the head the appenders wrote: an entry altered in the store between
    append and checkpoint makes this refuse rather than sign over it.
    """
    public_key = signer.public_key()
    start, previous, stamp = Frontier(0, ()), None, timestamp_ms(now or datetime.now(UTC))
    if latest is not None:
        signed = SignedCheckpoint.from_dict(latest.signed)
        verdict = verify_checkpoint(signed, public_key, log_id=log_id)
        if not verdict.ok:
            raise AuditIntegrityError(
                f"the latest checkpoint (size {latest.tree_size}) does not verify: {verdict.reason}"
            )
        if latest.frontier is None or latest.frontier.root() != signed.checkpoint.root_hash:
            raise AuditIntegrityError(f"the frontier saved with checkpoint {latest.tree_size} was altered")
        start, previous = latest.frontier, latest.tree_size
        stamp = max(stamp, signed.checkpoint.timestamp_ms)
    builder = MerkleTreeBuilder(start)
    for seq, entry in entries:
        if seq != builder.size:
            raise AuditIntegrityError(f"entry {builder.size} is missing from the store")
        builder.append(hashlib.sha256(b"\x00" + entry).digest())
    if builder.size != head.size or builder.root() != head.root():
        raise AuditIntegrityError(
            f"the stored entries {start.size}..{head.size - 1} no longer hash to the log's head: "
            "run 'onewindow audit verify'"
        )
    checkpoint = Checkpoint(log_id, head.size, builder.root(), stamp, previous_size=previous)
    return sign_checkpoint(checkpoint, signer), builder.frontier()


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


class AuditStore(abc.ABC):
    """The audit log's tables on one backend."""

    @abc.abstractmethod
    async def append(self, batch: Sequence[PreparedEntry]) -> int:
        """Write a batch as the next entries, in one transaction under the log's lock; return the first seq."""

    @abc.abstractmethod
    async def head(self) -> Frontier:
        """The log's size and frontier as the appenders last wrote them."""

    @abc.abstractmethod
    async def checkpoint(self, signer: CheckpointSigner, log_id: str) -> SignedCheckpoint | None:
        """Sign the head (see :func:`plan_checkpoint`) unless the latest checkpoint already covers it."""

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
