"""Inclusion and consistency proofs from the store, in O(log n) reads.

The proof algorithms of :mod:`signing.audit.merkle` ask for subtree hashes through
a synchronous ``subtree_hash(start, end)`` callback. Which subtrees they ask
for depends only on the sizes, never on the hashes, so a dry run with a
recording callback lists them; every one of them decomposes into perfect,
aligned subtrees, which are fetched at once -- from ``audit_subtrees`` for
16 leaves and more, from the recorded leaf hashes below that -- and the
real run answers from memory.

Nothing read here is trusted: every proof is checked against its signed
checkpoint before it is handed out (a tampered cache gives a proof that
fails, never a false one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from gateway.audit.store.base import CACHE_MIN_LEVEL, AuditStore
from signing.audit.merkle import (
    SubtreeHash,
    consistency_proof,
    inclusion_proof,
    node_hash,
    root_from_leaf_hashes,
    split_point,
)

_BLOCK = 1 << CACHE_MIN_LEVEL


def perfect_pieces(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(start, width)`` the RFC 9162 recursion splits ``[start, end)`` into."""
    pieces: list[tuple[int, int]] = []
    while end - start > 0:
        width = end - start
        if width & (width - 1) == 0:
            pieces.append((start, width))
            break
        k = split_point(width)
        pieces.append((start, k))
        start += k
    return pieces


def _planned(run: Callable[[SubtreeHash], Any]) -> set[tuple[int, int]]:
    asked: set[tuple[int, int]] = set()

    def record(start: int, end: int) -> bytes:
        asked.add((start, end))
        return b"\x00" * 32

    run(record)
    return asked


async def subtree_resolver(audit: AuditStore, ranges: Iterable[tuple[int, int]]) -> SubtreeHash:
    """A ``subtree_hash`` callback that can answer every range in ``ranges`` from memory."""
    pieces = {p for start, end in ranges for p in perfect_pieces(start, end)}
    known: dict[tuple[int, int], bytes] = {}
    big = [(s, w) for s, w in pieces if w >= _BLOCK]
    cached = await audit.subtree_hashes(sorted({(w.bit_length() - 1, s // w) for s, w in big}))
    for s, w in big:
        digest = cached.get((w.bit_length() - 1, s // w))
        if digest is None:  # not cached (should not happen): hash the recorded leaves
            digest = root_from_leaf_hashes(await audit.leaf_hashes(s, s + w))
        known[(s, w)] = digest
    blocks: dict[int, list[bytes]] = {}
    for s, w in sorted(p for p in pieces if p[1] < _BLOCK):
        base = s - s % _BLOCK
        if base not in blocks:
            blocks[base] = await audit.leaf_hashes(base, base + _BLOCK)
        leaves = blocks[base][s - base : s - base + w]
        if len(leaves) != w:
            raise LookupError(f"entries {s}..{s + w - 1} are not all in the store")
        known[(s, w)] = root_from_leaf_hashes(leaves)

    def subtree_hash(start: int, end: int) -> bytes:
        width = end - start
        if (start, width) in known:
            return known[(start, width)]
        k = split_point(width)
        return node_hash(subtree_hash(start, start + k), subtree_hash(start + k, end))

    return subtree_hash


async def prove_inclusion(audit: AuditStore, index: int, tree_size: int) -> list[bytes]:
    """RFC 9162 PATH(index, D[tree_size]) from the store."""
    ranges = _planned(lambda cb: inclusion_proof(index, tree_size, cb))
    return inclusion_proof(index, tree_size, await subtree_resolver(audit, ranges))


async def prove_consistency(audit: AuditStore, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 PROOF(old_size, D[new_size]) from the store."""
    ranges = _planned(lambda cb: consistency_proof(old_size, new_size, cb))
    return consistency_proof(old_size, new_size, await subtree_resolver(audit, ranges))


async def cached_subtree(audit: AuditStore, start: int, end: int) -> bytes:
    """The MTH of ``[start, end)`` as the store's cache has it (for narrowing damage down)."""
    return (await subtree_resolver(audit, [(start, end)]))(start, end)
