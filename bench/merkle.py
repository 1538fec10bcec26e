"""Benchmark of the audit-log Merkle tree (signing/audit/merkle.py).

    .venv/bin/python bench/merkle.py [--size 1000000] [--entry-bytes 300]

Measures what ``onewindow audit verify`` and the audit store do: recompute
the root of a whole log from its entries, resume from a saved frontier, and
generate and verify inclusion and consistency proofs. Prints a Markdown table
for bench/README.md ("Audit Merkle tree").
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signing.audit.merkle import (
    Frontier,
    InMemoryTree,
    MerkleTreeBuilder,
    inclusion_proof,
    leaf_hash,
    subtree_hash_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)


def make_entries(count: int, size: int) -> list[bytes]:
    """Audit-entry-like JSON lines padded to ``size`` bytes (distinct, deterministic)."""
    rows = []
    for i in range(count):
        row = (
            f'{{"seq":{i},"at":"2024-05-01T08:{i % 60:02d}:00.000Z","event":"sealed",'
            f'"request":"01HX{i:022d}","office":"370303104000","item":"tax.payment-record",'
            f'"pad":"'
        ).encode()
        rows.append(row + b"x" * max(0, size - len(row) - 2) + b'"}')
    return rows


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--entry-bytes", type=int, default=300)
    parser.add_argument("--proofs", type=int, default=20_000)
    args = parser.parse_args()
    n, rng = args.size, random.Random(6962)

    entries = make_entries(n, args.entry_bytes)
    rows: list[tuple[str, str]] = []

    seconds, _ = timed(lambda: [leaf_hash(e) for e in entries])
    rows.append((f"leaf hashing only, {n:,} entries", f"{seconds:.2f} s"))

    builder = MerkleTreeBuilder()
    seconds, _ = timed(lambda: builder.extend_entries(entries))
    root = builder.root()
    rows.append(
        (
            f"root of {n:,} entries of {args.entry_bytes} B (leaf hashing + tree)",
            f"**{seconds:.2f} s** ({rate(n, seconds)})",
        )
    )

    leaves = [leaf_hash(e) for e in entries]
    entries.clear()
    tree_only = MerkleTreeBuilder()
    seconds, _ = timed(lambda: tree_only.extend(leaves))
    assert tree_only.root() == root
    rows.append(("tree from ready leaf hashes", f"{seconds:.2f} s"))

    cut = n * 9 // 10
    first = MerkleTreeBuilder()
    first.extend(leaves[:cut])
    saved = first.frontier().to_dict()

    def resume() -> bytes:
        resumed = MerkleTreeBuilder(Frontier.from_dict(saved))
        resumed.extend(leaves[cut:])
        return resumed.root()

    seconds, resumed_root = timed(resume)
    assert resumed_root == root
    rows.append((f"resume from a frontier at {cut:,}, append {n - cut:,}", f"{seconds:.2f} s"))

    seconds, tree = timed(lambda: InMemoryTree(leaves))
    assert isinstance(tree, InMemoryTree) and tree.root() == root
    rows.append(("build InMemoryTree (all levels cached)", f"{seconds:.2f} s"))

    indexes = [rng.randrange(n) for _ in range(args.proofs)]
    seconds, proofs = timed(lambda: [tree.inclusion_proof(i) for i in indexes])
    rows.append((f"inclusion proof generation (size {n:,})", rate(len(indexes), seconds)))
    seconds, ok = timed(
        lambda: all(verify_inclusion(leaves[i], i, n, p, root) for i, p in zip(indexes, proofs, strict=True))
    )
    assert ok
    rows.append(("inclusion proof verification", rate(len(indexes), seconds)))

    olds = [rng.randrange(1, n) for _ in range(args.proofs)]
    seconds, cproofs = timed(lambda: [tree.consistency_proof(m) for m in olds])
    rows.append((f"consistency proof generation (m random, n = {n:,})", rate(len(olds), seconds)))
    old_roots = [tree.root(m) for m in olds]
    seconds, ok = timed(
        lambda: all(verify_consistency(m, n, r, root, p) for m, r, p in zip(olds, old_roots, cproofs, strict=True))
    )
    assert ok
    rows.append(("consistency proof verification", rate(len(olds), seconds)))

    plain = subtree_hash_from_leaf_hashes(leaves)
    seconds, _ = timed(lambda: [inclusion_proof(i, n, plain) for i in indexes[:3]])
    rows.append(("inclusion proof over a plain leaf list (no cache)", f"{seconds / 3 * 1000:.0f} ms each"))

    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}\n")
    print("| measurement | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
