"""``audit verify`` against the store: recompute everything, then name the damage.

The judgement itself is :class:`signing.audit.log_verifier.LogVerifier` (the same one
that checks export bundles offline). This module feeds it the store's rows,
chooses where to start (``--from`` a stored checkpoint or a checkpoint the
auditor kept), compares the recomputed tree with the stored head, and when a
checkpoint does not match, walks down the tree to the altered entry. Where
the district audit secret is at hand, the entries after the latest
checkpoint -- which no signature covers yet -- are also checked against
their chain MACs (:mod:`gateway.audit.integrity`): an entry the gateway did
not write is named before anything signs it.

Walking down uses the subtree cache, but never trusts it: a cached pair of
children is believed only if it hashes to a parent already known to be
genuine (the signed root, to begin with). Where the cache was altered too,
the walk stops and the damage is named as the range below that node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.audit.integrity import judge
from gateway.audit.proofs import cached_subtree, subtree_resolver
from gateway.audit.store.base import AuditStore, read_snapshot
from gateway.errors import VerifyInputError
from signing.audit.checkpoint import AuditPublicKey, Checkpoint, SignedCheckpoint, verify_checkpoint
from signing.audit.log_verifier import CheckpointRecord, Finding, LogReport, LogVerifier, Suspect
from signing.audit.merkle import Frontier, MerkleTreeBuilder, SubtreeHash, node_hash, split_point


@dataclass(frozen=True)
class Start:
    """Where recomputation starts, and why that point is trusted."""

    size: int
    frontier: Frontier
    trusted: tuple[Checkpoint, ...] = ()
    note: str = ""


async def verify_store(
    audit: AuditStore,
    public_key: AuditPublicKey,
    *,
    log_id: str | None = None,
    start_from: int | SignedCheckpoint | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> LogReport:
    """Judge the whole stored log (or the part after ``start_from``) against the audit key."""
    stored = await audit.checkpoints()
    head = await audit.head()
    start = await _start(audit, public_key, stored, head, start_from)
    verifier = LogVerifier(
        public_key,
        [CheckpointRecord(c.tree_size, c.signed, c.frontier) for c in stored],
        log_id=log_id,
        start=start.size,
        start_frontier=start.frontier,
        expected_size=head.size,
        trusted=start.trusted,
        on_progress=on_progress,
    )
    async for rows in audit.entries(start.size):
        verifier.add(rows)
    recomputed = verifier.frontier()
    report = verifier.finish()
    if start.note:
        report.notes.insert(0, start.note)
    if not report.findings and recomputed.size == head.size and recomputed.root() != head.root():
        report.findings.append(
            Finding(
                "its stored head (size and frontier) does not match the entries: the head was altered, so new "
                "entries would extend a wrong tree"
            )
        )
    if report.suspect is not None:
        narrowed = await locate(audit, report.suspect)
        if narrowed is not None:
            report.findings.append(narrowed)
    if report.ok:
        await _check_chain(audit, public_key, log_id or report.log_id, report)
    return report


async def _check_chain(audit: AuditStore, public_key: AuditPublicKey, log_id: str | None, report: LogReport) -> None:
    """The chain MACs of the entries no checkpoint covers yet; a note when the secret is not here to check them."""
    latest = report.checkpoints[-1].tree_size if report.checkpoints else 0
    unsigned = report.size - latest
    if unsigned <= 0 or log_id is None:
        return
    if audit.chain is None:
        report.notes.append(
            f"the chain MACs of the {unsigned} entr{'y' if unsigned == 1 else 'ies'} after the latest checkpoint were "
            "not checked (the district audit secret is not on this machine): until a checkpoint signs them, they "
            "prove only what the database says"
        )
        return
    async with audit.locked() as tx:
        verdict = judge(await read_snapshot(tx, count=False), audit.chain, public_key, log_id)
    if verdict.damage is not None:
        report.findings.append(verdict.damage)


async def _start(
    audit: AuditStore,
    key: AuditPublicKey,
    stored: list,
    head: Frontier,
    start_from: int | SignedCheckpoint | None,
) -> Start:
    if start_from is None:
        return Start(0, Frontier(0, ()))
    by_size = {c.tree_size: c for c in stored}
    if isinstance(start_from, int):
        record = by_size.get(start_from)
        if record is None:
            sizes = ", ".join(str(s) for s in sorted(by_size)[-5:]) or "none yet"
            raise VerifyInputError(f"no checkpoint at size {start_from} (latest: {sizes})")
        try:
            signed = SignedCheckpoint.from_dict(record.signed)
        except ValueError as exc:
            raise VerifyInputError(f"the checkpoint at size {start_from} is malformed ({exc}); verify from 0") from None
    else:
        signed = start_from
    verdict = verify_checkpoint(signed, key)
    if not verdict.ok:
        raise VerifyInputError(f"the starting checkpoint does not verify: {verdict.reason}")
    cp = signed.checkpoint
    external = () if isinstance(start_from, int) else (cp,)
    record = by_size.get(cp.tree_size)
    if record is not None and record.frontier is not None and record.frontier.root() == cp.root_hash:
        return Start(cp.tree_size, record.frontier, external, f"recomputed from the checkpoint at size {cp.tree_size}")
    if head.size >= cp.tree_size and cp.tree_size > 0:
        try:
            frontier = Frontier.from_subtree_hash(cp.tree_size, await _resolver_for_frontier(audit, cp.tree_size))
        except LookupError:
            frontier = None
        if frontier is not None and frontier.root() == cp.root_hash:
            return Start(cp.tree_size, frontier, external, f"recomputed from the checkpoint at size {cp.tree_size}")
    return Start(
        0,
        Frontier(0, ()),
        (cp,),
        f"the checkpoint at size {cp.tree_size} has no usable frontier here: recomputed from 0",
    )


async def _resolver_for_frontier(audit: AuditStore, size: int) -> SubtreeHash:
    ranges, start = [], 0
    for bit in reversed(range(size.bit_length())):
        if size & (1 << bit):
            ranges.append((start, start + (1 << bit)))
            start += 1 << bit
    return await subtree_resolver(audit, ranges)


async def locate(audit: AuditStore, suspect: Suspect) -> Finding | None:
    """Narrow ``suspect`` down to one entry, through cached subtrees proven genuine on the way."""
    good, bad = suspect.good_size, suspect.bad_size
    leaves = suspect.leaves
    if leaves is None or len(leaves) < bad - good:
        return None  # entries are missing: the per-entry findings already say where

    def recomputed(start: int, end: int) -> bytes:
        pieces = [h for p, h in _pieces(suspect.good_frontier) if p >= start]
        builder = MerkleTreeBuilder(Frontier(good - start, tuple(pieces)) if start < good else None)
        builder.extend(leaves[max(start, good) - good : end - good])
        return builder.root()

    start, end, genuine = 0, bad, suspect.bad_root
    try:
        while end - start > 1:
            k = split_point(end - start)
            left = await cached_subtree(audit, start, start + k)
            right = await cached_subtree(audit, start + k, end)
            if node_hash(left, right) != genuine:
                first = max(start, good)
                return Finding(
                    f"one of these was altered, and the stored hashes with it (the cache below the signed "
                    f"checkpoint at size {bad} no longer adds up, so no single entry can be named)",
                    first,
                    end - 1,
                    bad,
                )
            if start + k > good and recomputed(start, start + k) != left:
                end, genuine = start + k, left
            else:
                start, genuine = start + k, right
    except LookupError:
        return None
    return Finding(f"altered: it is not the entry the signed checkpoint at size {bad} holds", start, start, bad)


def _pieces(frontier: Frontier) -> list[tuple[int, bytes]]:
    """``(start, hash)`` of each perfect subtree in a frontier, left to right."""
    out, start = [], 0
    for bit, digest in zip(
        [b for b in reversed(range(frontier.size.bit_length())) if frontier.size & (1 << b)],
        frontier.hashes,
        strict=True,
    ):
        out.append((start, digest))
        start += 1 << bit
    return out
