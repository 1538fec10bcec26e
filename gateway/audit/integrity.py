"""Is the stored log still the one the gateway wrote? Checked from the latest signed checkpoint.

Run before every checkpoint is signed (:func:`plan_checkpoint`) and when a
gateway or an administrative command opens the log (:func:`judge`): the
latest checkpoint must verify under the audit key and its saved frontier
must fold to its signed root; every entry after it is re-hashed onto that
frontier, must reproduce the head the appenders wrote, and must carry the
chain MAC that follows (:mod:`gateway.audit.chain`). At start-up the check
also counts the stored entries against the head, so entries deleted or
inserted anywhere are noticed. Anything else is :class:`Damage`, named by
place: the gateway then seals nothing and signs nothing until an operator
acts (docs/audit.md, "When the log is damaged").

What it does not re-read: the bytes of entries a signed checkpoint already
covers. Those are proven by the checkpoints (``onewindow audit verify``
re-hashes the whole log, and every proof handed out is checked first); the
gateway never signs over them again, since each new checkpoint extends the
signed frontier, not the stored bytes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from gateway.audit.chain import EntryChain
from gateway.errors import AuditIntegrityError, AuditUnavailable
from signing.audit.checkpoint import (
    AuditPublicKey,
    Checkpoint,
    CheckpointSigner,
    SignedCheckpoint,
    sign_checkpoint,
    timestamp_ms,
    verify_checkpoint,
)
from signing.audit.log_verifier import Finding
from signing.audit.merkle import Frontier, MerkleTreeBuilder

TailRow = tuple[int, bytes, bytes, bytes | None]
"""``(seq, entry, recorded leaf hash, chain MAC)`` of an entry after the latest checkpoint."""


@dataclass(frozen=True)
class Head:
    """The head row: the log's size and frontier, and the chain value the next entry links to.

    ``chain`` is None only in a store from before the chain existed, until
    its first check anchors it (:func:`judge`).
    """

    frontier: Frontier
    chain: bytes | None

    @property
    def size(self) -> int:
        return self.frontier.size


class CheckpointRow(Protocol):
    """A stored checkpoint as the check reads it (:class:`gateway.audit.store.base.StoredCheckpoint`)."""

    @property
    def tree_size(self) -> int: ...
    @property
    def signed(self) -> Mapping[str, Any]: ...
    @property
    def frontier(self) -> Frontier | None: ...


@dataclass(frozen=True)
class Damage(Finding):
    """What no longer holds in the stored log, and where: a :class:`Finding` of ``audit verify``'s kind,
    said in one line (entries, a checkpoint, or the head).

    ``state`` (for ``/readyz``), ``event`` (the log line) and ``remedy`` (the
    operator's act) say what kind of closed log it is; a log behind its
    witness is another kind (:class:`gateway.audit.witness.Behind`).
    """

    state: ClassVar[str] = "damaged"
    event: ClassVar[str] = "audit.damaged"
    remedy: ClassVar[str] = "an operator repairs the store ('onewindow audit recover', or a restore from a backup)"

    def where(self) -> str:
        if self.first is not None:
            last = self.first if self.last is None else self.last
            return f"entry {self.first}" if last == self.first else f"entries {self.first}..{last}"
        if self.checkpoint is not None:
            return f"the checkpoint at size {self.checkpoint}"
        return "the log's head"

    def describe(self) -> str:
        return f"{self.where()}: {self.what}"

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where(), **super().to_dict()}


def damaged(damage: Damage) -> AuditIntegrityError:
    """The exception that carries ``damage``."""
    return AuditIntegrityError(damage.describe(), damage=damage)


def unavailable(damage: Damage) -> AuditUnavailable:
    """What an append or a checkpoint meets once the log is closed for ``damage``."""
    closed = "is damaged" if damage.state == "damaged" else "is closed"
    return AuditUnavailable(
        f"the audit log {closed} ({damage.describe()}): nothing is recorded, sealed or signed until {damage.remedy}",
        damage=damage,
    )


@dataclass(frozen=True)
class Snapshot:
    """What the check reads, in one transaction: head, latest checkpoint, the entries after it.

    ``stored`` is ``(count, min seq, max seq)`` of every entry and
    ``first_missing`` the first gap below the head (read only at start-up).
    """

    head: Head
    latest: CheckpointRow | None
    rows: Sequence[TailRow]
    stored: tuple[int, int | None, int | None] | None = None
    first_missing: int | None = None


@dataclass(frozen=True)
class Soundness:
    """The verdict on a stored log: sound, or the damage found; and how much was checked."""

    damage: Damage | None
    size: int
    checkpoint: int
    checked: int
    anchor: bytes | None = None  # a head with no chain value yet gets this one (a store from before the chain)

    @property
    def ok(self) -> bool:
        return self.damage is None


def signed_start(latest: CheckpointRow | None, public_key: AuditPublicKey, log_id: str) -> Frontier:
    """The frontier the check starts from: the latest checkpoint's, once its signature and frontier hold."""
    if latest is None:
        return Frontier(0, ())
    try:
        signed = SignedCheckpoint.from_dict(latest.signed)
    except ValueError as exc:
        raise damaged(Damage(f"malformed ({exc}): altered or forged", checkpoint=latest.tree_size)) from None
    verdict = verify_checkpoint(signed, public_key, log_id=log_id)
    if not verdict.ok or signed.checkpoint.tree_size != latest.tree_size:
        reason = verdict.reason if not verdict.ok else f"it is a checkpoint of size {signed.checkpoint.tree_size}"
        raise damaged(Damage(f"its signature does not hold ({reason}): forged or altered", checkpoint=latest.tree_size))
    if latest.frontier is None or latest.frontier.root() != signed.checkpoint.root_hash:
        raise damaged(Damage("the frontier saved with it was altered", checkpoint=latest.tree_size))
    return latest.frontier


def check_tail(chain: EntryChain, head: Head, start: Frontier, rows: Sequence[TailRow]) -> Frontier:
    """Re-hash and re-MAC every entry after ``start`` up to the head; the recomputed frontier.

    Raises :class:`AuditIntegrityError` naming the first entry that is
    missing, altered, or not chained by the district's key, or the head
    when it does not match the entries.
    """
    if head.size < start.size:
        raise damaged(
            Damage(
                f"truncated: the signed checkpoint at size {start.size} covers them, the log's head counts {head.size}",
                head.size,
                start.size - 1,
                start.size,
            )
        )
    builder = MerkleTreeBuilder(start)
    expected = chain.anchor(start.size, start.root())
    sha256 = hashlib.sha256
    for seq, entry, recorded, mac in rows:
        if seq != builder.size:
            raise damaged(Damage("missing from the store", builder.size, min(seq, head.size) - 1))
        leaf = sha256(b"\x00" + entry).digest()
        if mac is None:
            raise damaged(Damage(_UNCHAINED, seq, head.size - 1))
        if recorded != leaf:
            raise damaged(Damage("altered: its bytes no longer hash to the leaf recorded when it was appended", seq))
        if not _equal(mac, chain.link(expected, seq, leaf)):
            if _equal(mac, chain.link(chain.anchor(seq, builder.root()), seq, leaf)):  # the chain restarted here
                raise damaged(Damage(_CHECKPOINT_GONE.format(seq), checkpoint=seq))
            raise damaged(Damage(_FOREIGN, seq))
        expected = mac
        builder.append(leaf)
    if builder.size != head.size:
        raise damaged(Damage(f"missing: the log's head counts {head.size} entries", builder.size, head.size - 1))
    if builder.root() != head.frontier.root():
        raise damaged(Damage("its size and frontier no longer match the entries: the head was rewritten"))
    if head.chain is not None and not _equal(head.chain, expected):
        raise damaged(Damage("its chain value does not follow from the last entry: the head was rewritten"))
    if head.chain is None and rows:
        raise damaged(Damage("its chain value was removed"))
    return builder.frontier()


_UNCHAINED = (
    "carries no chain MAC and no signed checkpoint covers it: written before the chain existed (a store "
    "migrated after an unclean stop) or by someone else"
)
_FOREIGN = "not written by this district's gateways: its chain MAC does not follow (inserted, or altered since)"
_CHECKPOINT_GONE = "the entries say a checkpoint was signed at size {}, but it is gone from the store (deleted)"


def _equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def judge(snapshot: Snapshot, chain: EntryChain, public_key: AuditPublicKey, log_id: str) -> Soundness:
    """The verdict of the check from the latest signed checkpoint (see the module docstring)."""
    head, latest = snapshot.head, snapshot.latest
    size = latest.tree_size if latest else 0

    def verdict(damage: Damage | None, anchor: bytes | None = None) -> Soundness:
        return Soundness(damage, head.size, size, len(snapshot.rows), anchor)

    try:
        start = signed_start(latest, public_key, log_id)
        check_tail(chain, head, start, snapshot.rows)
    except AuditIntegrityError as exc:
        return verdict(exc.damage)
    missing = _count_damage(snapshot)
    if missing is not None:
        return verdict(missing)
    if head.chain is None:  # a store from before the chain, stopped cleanly: the chain starts at its checkpoint
        return verdict(None, chain.anchor(size, start.root()))
    return verdict(None)


def _count_damage(snapshot: Snapshot) -> Damage | None:
    if snapshot.stored is None:
        return None
    count, low, high = snapshot.stored
    size = snapshot.head.size
    if high is not None and high >= size:
        return Damage(f"beyond the log's head (size {size}): inserted", size, high)
    if count != size or (count and low != 0):
        first = snapshot.first_missing if snapshot.first_missing is not None else 0
        last = size - 1 if high is None or first == high + 1 else None  # a gap at the end: it reaches the head
        return Damage(f"missing: the log's head counts {size} entries, the store holds {count}", first, last)
    return None


def next_timestamp(latest: CheckpointRow | None, now: datetime | None = None) -> int:
    """The timestamp of the next checkpoint: now, and never before the one it extends."""
    stamp = timestamp_ms(now or datetime.now(UTC))
    if latest is None:
        return stamp
    return max(stamp, SignedCheckpoint.from_dict(latest.signed).checkpoint.timestamp_ms)


def plan_checkpoint(
    *,
    head: Head,
    latest: CheckpointRow | None,
    rows: Sequence[TailRow],
    signer: CheckpointSigner,
    log_id: str,
    chain: EntryChain,
    now: datetime | None = None,
) -> tuple[SignedCheckpoint, Frontier, bytes]:
    """Sign the head -- only after the check from the previous signed checkpoint holds.

    Returns the signed checkpoint, its frontier, and the chain value the
    head restarts from (the anchor of the new checkpoint). An entry altered
    or inserted since the previous checkpoint makes this raise
    :class:`AuditIntegrityError` naming it, rather than sign over it.
    """
    start = signed_start(latest, signer.public_key(), log_id)
    frontier = check_tail(chain, head, start, rows)
    previous = latest.tree_size if latest is not None else None
    checkpoint = Checkpoint(log_id, head.size, frontier.root(), next_timestamp(latest, now), previous_size=previous)
    return sign_checkpoint(checkpoint, signer), frontier, chain.anchor(head.size, frontier.root())
