"""RFC 9162 §2.1 Merkle tree primitives for the tamper-evident audit log.

Pure functions, no I/O: security staff run them offline with nothing but the
standard library. Hashing is SHA-256 with RFC 9162's domain separation:

* leaf hash  = SHA-256(0x00 || entry bytes)
* node hash  = SHA-256(0x01 || left || right)
* MTH of the empty tree = SHA-256("")
* an n-leaf tree (n > 1) splits at k, the largest power of two smaller than n.

Proof generators are written against a ``subtree_hash(start, end)`` callback
(the MTH of leaves ``[start, end)``) so a store can answer from cached
perfect-subtree hashes instead of loading every leaf for every proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from signing.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

SubtreeHash = Callable[[int, int], bytes]
"""MTH of the leaves ``[start, end)`` of the log (``0 <= start < end``)."""

SubtreeObserver = Callable[[int, int, bytes], None]
"""Told ``(start, end, hash)`` each time a builder completes a perfect subtree."""

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """Hash one log entry as a leaf; the 0x00 prefix keeps leaves and nodes apart."""
    return _sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two child hashes into their parent."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (RFC 9162's k); n must be > 1."""
    if n < 2:
        raise ValueError(f"a tree of {n} leaves has no split point")
    return 1 << ((n - 1).bit_length() - 1)


@dataclass(frozen=True)
class Frontier:
    """The roots of the perfect subtrees that make up a tree of ``size`` leaves.

    Ordered left to right (largest first); there is one per set bit of
    ``size``. It is all a builder needs to carry on appending, so saving it
    next to a signed checkpoint lets verification resume from there: check
    ``frontier.root() == checkpoint.root_hash`` and continue.
    """

    size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("frontier size must be >= 0")
        if len(self.hashes) != self.size.bit_count():
            raise ValueError(
                f"a tree of {self.size} leaves has {self.size.bit_count()} frontier hashes, not {len(self.hashes)}"
            )
        if self.hashes and set(map(len, self.hashes)) != {HASH_SIZE}:  # one C-level pass: built on every append
            raise ValueError("frontier hashes must be 32 bytes")

    def root(self) -> bytes:
        """MTH of the tree this frontier describes."""
        if not self.hashes:
            return EMPTY_ROOT
        root = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            root = node_hash(h, root)
        return root

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form: ``{"size": n, "hashes": [hex, ...]}``."""
        return {"size": self.size, "hashes": [h.hex() for h in self.hashes]}

    @classmethod
    def from_dict(cls, doc: dict[str, object]) -> Frontier:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` on anything malformed."""
        size, hashes = doc.get("size"), doc.get("hashes")
        if not isinstance(size, int) or isinstance(size, bool) or not isinstance(hashes, list):
            raise ValueError("frontier needs an integer size and a list of hashes")
        if not all(isinstance(h, str) for h in hashes):
            raise ValueError("frontier hashes must be hex strings")
        return cls(size, tuple(bytes.fromhex(h) for h in hashes))

    @classmethod
    def from_subtree_hash(cls, size: int, subtree_hash: SubtreeHash) -> Frontier:
        """Read the frontier of a ``size``-leaf tree from a store's subtree hashes."""
        hashes = []
        start = 0
        for bit in reversed(range(size.bit_length())):
            width = 1 << bit
            if size & width:
                hashes.append(subtree_hash(start, start + width))
                start += width
        return cls(size, tuple(hashes))


class MerkleTreeBuilder:
    """Append-only tree hasher in O(log n) memory (a compact range from leaf 0).

    Appending costs one node hash per completed subtree (two hashes per leaf
    amortised); :meth:`root` folds the at most log2(n) frontier hashes.
    ``on_subtree`` lets a store cache each perfect subtree as it completes,
    which is what makes ``subtree_hash`` cheap for proofs later.
    """

    __slots__ = ("_on_subtree", "_size", "_stack")

    def __init__(self, frontier: Frontier | None = None, *, on_subtree: SubtreeObserver | None = None) -> None:
        self._size = frontier.size if frontier else 0
        self._stack: list[bytes] = list(frontier.hashes) if frontier else []
        self._on_subtree = on_subtree

    @property
    def size(self) -> int:
        """Number of leaves appended so far (including those in a resumed frontier)."""
        return self._size

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash (see :func:`leaf_hash`)."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("leaf hashes must be 32 bytes")
        stack, n, h = self._stack, self._size, leaf
        observer = self._on_subtree
        if observer is not None:
            observer(n, n + 1, h)
        width = 1
        while n & 1:
            h = _sha256(_NODE_PREFIX + stack.pop() + h).digest()
            n >>= 1
            width <<= 1
            if observer is not None:
                end = self._size + 1
                observer(end - width, end, h)
        stack.append(h)
        self._size += 1

    def append_entry(self, entry: bytes) -> bytes:
        """Append one entry's leaf and return its leaf hash."""
        h = leaf_hash(entry)
        self.append(h)
        return h

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes; the fast path used to recompute a whole log."""
        if self._on_subtree is not None:
            for leaf in leaves:
                self.append(leaf)
            return
        stack, size, sha = self._stack, self._size, _sha256
        push, pop, prefix = stack.append, stack.pop, _NODE_PREFIX
        try:
            for h in leaves:
                if len(h) != HASH_SIZE:
                    raise ValueError("leaf hashes must be 32 bytes")
                n = size
                while n & 1:
                    h = sha(prefix + pop() + h).digest()
                    n >>= 1
                push(h)
                size += 1
        finally:
            self._size = size

    def extend_entries(self, entries: Iterable[bytes]) -> None:
        """Hash and append many raw entries (leaf hashing inlined for speed)."""
        sha, prefix = _sha256, _LEAF_PREFIX
        self.extend(sha(prefix + e).digest() for e in entries)

    def root(self) -> bytes:
        """MTH of the tree as it stands now."""
        return self.frontier().root()

    def frontier(self) -> Frontier:
        """Snapshot to save (e.g. next to a checkpoint) and resume from later."""
        return Frontier(self._size, tuple(self._stack))


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes."""
    builder = MerkleTreeBuilder()
    builder.extend(hashes)
    return builder.root()


def subtree_hash_from_leaf_hashes(hashes: Sequence[bytes]) -> SubtreeHash:
    """A ``subtree_hash`` over a plain list: simple, O(end - start) per call."""

    def subtree_hash(start: int, end: int) -> bytes:
        if not 0 <= start < end <= len(hashes):
            raise ValueError(f"no subtree [{start}, {end}) in {len(hashes)} leaves")
        return root_from_leaf_hashes(hashes[start:end])

    return subtree_hash


class InMemoryTree:
    """Every level of the tree kept in memory, so ``subtree_hash`` is O(log n).

    Meant for tests and small logs; it is also the reference for what a
    persistent store with perfect-subtree caching should answer.
    """

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash, completing any perfect subtrees it closes."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("leaf hashes must be 32 bytes")
        levels, h, level = self._levels, leaf, 0
        while True:
            levels[level].append(h)
            if len(levels[level]) % 2:
                return
            h = node_hash(levels[level][-2], h)
            level += 1
            if level == len(levels):
                levels.append([])

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        return self._levels[0][index]

    def subtree_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves ``[start, end)``, from cached perfect subtrees where aligned."""
        if not 0 <= start < end <= self.size:
            raise ValueError(f"no subtree [{start}, {end}) in {self.size} leaves")
        width = end - start
        if width & (width - 1) == 0 and start % width == 0:
            level = width.bit_length() - 1
            return self._levels[level][start >> level]
        k = split_point(width)
        return node_hash(self.subtree_hash(start, start + k), self.subtree_hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (all of them by default)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree has {self.size} leaves, not {size}")
        return self.subtree_hash(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """PATH(index, D[tree_size]); see :func:`inclusion_proof`."""
        return inclusion_proof(index, self.size if tree_size is None else tree_size, self.subtree_hash)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[new_size]); see :func:`consistency_proof`."""
        return consistency_proof(old_size, self.size if new_size is None else new_size, self.subtree_hash)


def inclusion_proof(index: int, tree_size: int, subtree_hash: SubtreeHash) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[tree_size]), ordered from the leaf up."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf {index} is not in a tree of {tree_size} leaves")
    path: list[bytes] = []
    start, end = 0, tree_size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            path.append(subtree_hash(start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, subtree_hash: SubtreeHash) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(old_size, D[new_size]) via SUBPROOF.

    Empty when ``old_size`` is 0 or equal to ``new_size``: there is nothing
    to prove beyond comparing the roots.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            proof.append(subtree_hash(start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k))
            start += k
            m -= k
            complete = False
    if not complete:
        proof.append(subtree_hash(start, end))
    proof.reverse()
    return proof


def _check_hashes(proof: Sequence[bytes], *named: bytes) -> None:
    if any(not isinstance(h, bytes) or len(h) != HASH_SIZE for h in (*proof, *named)):
        raise ProofError("every hash must be 32 bytes")


def root_from_inclusion_proof(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes]) -> bytes:
    """Recompute the root a leaf's PATH implies (RFC 9162 §2.1.3.2 steps 1-5).

    Raises :class:`ProofError` if the proof has the wrong length for
    ``(index, tree_size)``, so a caller can report why rather than just "no".
    """
    _check_hashes(proof, leaf)
    if not 0 <= index < tree_size:
        raise ProofError(f"leaf {index} is not in a tree of {tree_size} leaves")
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True iff ``proof`` shows leaf hash ``leaf`` at ``index`` of the tree with ``root``."""
    try:
        return root_from_inclusion_proof(leaf, index, tree_size, proof) == root
    except ProofError:
        return False


def check_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2; raises :class:`ProofError` saying what does not hold."""
    _check_hashes(proof, old_root, new_root)
    if not 0 <= old_size <= new_size:
        raise ProofError(f"size {old_size} cannot precede size {new_size}")
    if old_size in (0, new_size):
        if proof:
            raise ProofError("proof must be empty when old size is 0 or equals new size")
        expected = EMPTY_ROOT if old_size == 0 else new_root
        if old_root != expected:
            raise ProofError("old root does not match")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than expected")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than expected")
    if fr != old_root:
        raise ProofError("proof does not reproduce the old root")
    if sr != new_root:
        raise ProofError("proof does not reproduce the new root")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """True iff the tree with ``new_root`` is an append-only extension of ``old_root``."""
    try:
        check_consistency(old_size, new_size, old_root, new_root, proof)
    except ProofError:
        return False
    return True
