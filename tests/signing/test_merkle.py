"""RFC 9162 Merkle tree: published vectors, builder/frontier, proofs and their failures."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    InMemoryTree,
    MerkleTreeBuilder,
    check_consistency,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    split_point,
    subtree_hash_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from signing.errors import ProofError

# The RFC 6962 test vectors of the Certificate Transparency reference
# implementation (merkle_tree_test.cc), also used by Trillian and others.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# Trillian's compact-tree vectors: leaf i is the two bytes (i & 0xff, i >> 8).
LARGER_ROOTS = {
    10: "VjWMPSYNtCuCNlF/RLnQy6HcwSk6CIipfxm+hettA+4=",
    15: "j4SulYmocFuxdeyp12xXCIgK6PekBcxzAIj4zbQzNEI=",
    16: "c+4Uc6BCMOZf/v3NZK1kqTUJe+bBoFtOhP+P3SayKRE=",
    100: "dUh9hYH88p0CMoHkdr1wC2szbhcLAXOejWpINIooKUY=",
    255: "SmdsuKUqiod3RX2jyF2M6JnbdE4QuTwwipfAowI4/i0=",
    256: "qFI0t/tZ1MdOYgyPpPzHFiZVw86koScXy9q3FU5casA=",
    1000: "RXrgb8xHd55Y48FbfotJwCbV82Kx22LZfEbmBGAvwlQ=",
    4095: "cWRFdQhPcjn9WyBXE/r1f04ejxIm5lvg40DEpRBVS0w=",
    4096: "6uU/phfHg1n/GksYT6TO9aN8EauMCCJRl3dIK0HDs2M=",
}

CT_TREE = InMemoryTree(leaf_hash(e) for e in CT_LEAVES)
BIG = 1100
BIG_TREE = InMemoryTree(leaf_hash(i.to_bytes(4, "big")) for i in range(BIG))


def reference_mth(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 9162 §2.1.1, recursive, with hashlib only."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    left, right = reference_mth(leaves[:k]), reference_mth(leaves[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def flipped(h: bytes, position: int) -> bytes:
    return h[:position] + bytes([h[position] ^ 0x01]) + h[position + 1 :]


# --- hashing and roots --------------------------------------------------------


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"") == bytes.fromhex(CT_ROOTS[1])
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert leaf_hash(a + b) != node_hash(a, b)


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert MerkleTreeBuilder().root() == EMPTY_ROOT
    assert InMemoryTree().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_published_vectors(size: int) -> None:
    hashes = [leaf_hash(e) for e in CT_LEAVES[:size]]
    assert root_from_leaf_hashes(hashes).hex() == CT_ROOTS[size]
    assert CT_TREE.root(size).hex() == CT_ROOTS[size]


@pytest.mark.parametrize("size", sorted(LARGER_ROOTS))
def test_builder_matches_published_roots_of_larger_trees(size: int) -> None:
    builder = MerkleTreeBuilder()
    builder.extend_entries(bytes([i & 0xFF, (i >> 8) & 0xFF]) for i in range(size))
    assert builder.size == size
    assert builder.root() == base64.b64decode(LARGER_ROOTS[size])


def test_split_point_is_largest_power_of_two_below_n() -> None:
    assert [split_point(n) for n in range(2, 11)] == [1, 2, 2, 4, 4, 4, 4, 8, 8]
    with pytest.raises(ValueError):
        split_point(1)


def test_builder_root_at_every_size_matches_reference_and_full_tree() -> None:
    builder, entries = MerkleTreeBuilder(), []
    for i in range(70):
        entries.append(f"entry {i}".encode())
        builder.append_entry(entries[-1])
        assert builder.root() == reference_mth(entries)
        assert InMemoryTree(leaf_hash(e) for e in entries).root() == builder.root()


def test_builder_rejects_leaves_that_are_not_hashes() -> None:
    builder = MerkleTreeBuilder()
    with pytest.raises(ValueError):
        builder.append(b"short")
    with pytest.raises(ValueError):
        builder.extend([leaf_hash(b"ok"), b"short"])
    assert builder.size == 1


# --- frontier save and restore ------------------------------------------------


@pytest.mark.parametrize("cut", [0, 1, 2, 3, 7, 8, 9, 64, 100, 511, 1000])
def test_builder_resumed_from_frontier_reaches_the_same_roots(cut: int) -> None:
    first = MerkleTreeBuilder()
    first.extend(BIG_TREE.leaf_hash(i) for i in range(cut))
    saved = Frontier.from_dict(first.frontier().to_dict())
    assert saved.root() == BIG_TREE.root(cut)
    assert len(saved.hashes) == cut.bit_count()
    resumed = MerkleTreeBuilder(saved)
    for i in range(cut, BIG):
        resumed.append(BIG_TREE.leaf_hash(i))
        if i % 97 == 0:
            assert resumed.root() == BIG_TREE.root(i + 1)
    assert resumed.size == BIG and resumed.root() == BIG_TREE.root()


def test_frontier_can_be_read_from_a_store_of_subtree_hashes() -> None:
    for size in (0, 1, 5, 6, 1024, 1099):
        built = MerkleTreeBuilder()
        built.extend(BIG_TREE.leaf_hash(i) for i in range(size))
        assert Frontier.from_subtree_hash(size, BIG_TREE.subtree_hash) == built.frontier()


def test_frontier_with_wrong_number_of_hashes_is_refused() -> None:
    h = leaf_hash(b"x")
    with pytest.raises(ValueError):
        Frontier(3, (h,))
    with pytest.raises(ValueError):
        Frontier(1, (b"short",))
    for odd in (b"short", h + b"!"):  # one bad hash among good ones, either side
        with pytest.raises(ValueError):
            Frontier(3, (h, odd))
        with pytest.raises(ValueError):
            Frontier(3, (odd, h))
    with pytest.raises(ValueError):
        Frontier.from_dict({"size": "1", "hashes": [h.hex()]})
    with pytest.raises(ValueError):
        Frontier.from_dict({"size": 1, "hashes": ["zz"]})


def test_subtree_observer_reports_every_completed_perfect_subtree() -> None:
    seen: dict[tuple[int, int], bytes] = {}
    builder = MerkleTreeBuilder(on_subtree=lambda s, e, h: seen.__setitem__((s, e), h))
    builder.extend(BIG_TREE.leaf_hash(i) for i in range(300))
    expected = {
        (start, start + width)
        for width in (1, 2, 4, 8, 16, 32, 64, 128, 256)
        for start in range(0, 300 - width + 1, width)
    }
    assert set(seen) == expected
    assert all(BIG_TREE.subtree_hash(s, e) == h for (s, e), h in seen.items())


# --- subtree hash helpers -----------------------------------------------------


def test_list_and_cached_subtree_hashes_agree_on_every_range() -> None:
    leaves = [BIG_TREE.leaf_hash(i) for i in range(21)]
    from_list, cached = subtree_hash_from_leaf_hashes(leaves), InMemoryTree(leaves)
    for start in range(21):
        for end in range(start + 1, 22):
            assert from_list(start, end) == cached.subtree_hash(start, end)
    for bad in [(0, 0), (3, 2), (-1, 2), (0, 22)]:
        with pytest.raises(ValueError):
            from_list(*bad)
        with pytest.raises(ValueError):
            cached.subtree_hash(*bad)


# --- inclusion proofs ---------------------------------------------------------


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_inclusion_proofs_match_the_published_vectors(index: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(index, size, CT_TREE.subtree_hash)
    assert [h.hex() for h in proof] == path
    assert verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, proof, bytes.fromhex(CT_ROOTS[size]))


def test_every_inclusion_proof_of_small_trees_verifies_and_others_fail() -> None:
    for size in range(1, 34):
        root = BIG_TREE.root(size)
        for index in range(size):
            leaf, proof = BIG_TREE.leaf_hash(index), BIG_TREE.inclusion_proof(index, size)
            assert verify_inclusion(leaf, index, size, proof, root)
            for other in range(size):
                if other != index:
                    assert not verify_inclusion(leaf, other, size, proof, root)
            for other_size in range(index + 1, 34):
                if other_size != size:
                    assert not verify_inclusion(leaf, index, other_size, proof, BIG_TREE.root(other_size))


def test_proof_over_a_plain_leaf_list_equals_the_cached_one() -> None:
    leaves = [BIG_TREE.leaf_hash(i) for i in range(77)]
    from_list = subtree_hash_from_leaf_hashes(leaves)
    for index in (0, 1, 38, 63, 64, 76):
        assert inclusion_proof(index, 77, from_list) == BIG_TREE.inclusion_proof(index, 77)


sizes_and_indexes = st.integers(1, BIG).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1)))


@settings(max_examples=150, deadline=None)
@given(sizes_and_indexes)
def test_inclusion_proof_verifies_for_any_index_and_size(case: tuple[int, int]) -> None:
    size, index = case
    proof = BIG_TREE.inclusion_proof(index, size)
    assert len(proof) <= (size - 1).bit_length()
    assert verify_inclusion(BIG_TREE.leaf_hash(index), index, size, proof, BIG_TREE.root(size))


@settings(max_examples=150, deadline=None)
@given(sizes_and_indexes, st.data())
def test_tampered_inclusion_proof_fails(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    leaf, root = BIG_TREE.leaf_hash(index), BIG_TREE.root(size)
    proof = BIG_TREE.inclusion_proof(index, size)
    byte = data.draw(st.integers(0, 31))
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof[:at], flipped(proof[at], byte), *proof[at + 1 :]]
        assert not verify_inclusion(leaf, index, size, bad, root)
        assert not verify_inclusion(leaf, index, size, proof[:-1], root)
    assert not verify_inclusion(flipped(leaf, byte), index, size, proof, root)
    assert not verify_inclusion(leaf, index, size, proof, flipped(root, byte))
    assert not verify_inclusion(leaf, index, size, [*proof, leaf], root)
    other = data.draw(st.integers(0, size).filter(lambda i: i != index))
    assert not verify_inclusion(leaf, other, size, proof, root)
    if index + 1 < BIG:
        other_size = data.draw(st.integers(index + 1, BIG).filter(lambda n: n != size))
        assert not verify_inclusion(leaf, index, other_size, proof, BIG_TREE.root(other_size))


def test_inclusion_arguments_out_of_range() -> None:
    for index, size in [(0, 0), (3, 3), (-1, 3)]:
        with pytest.raises(ValueError):
            inclusion_proof(index, size, CT_TREE.subtree_hash)
        with pytest.raises(ProofError):
            root_from_inclusion_proof(leaf_hash(b""), index, size, [])
    assert not verify_inclusion(b"short", 0, 1, [], b"short")


def test_inclusion_proof_length_errors_say_why() -> None:
    proof = CT_TREE.inclusion_proof(2, 8)
    with pytest.raises(ProofError, match="longer"):
        root_from_inclusion_proof(CT_TREE.leaf_hash(2), 2, 8, [*proof, proof[0]])
    with pytest.raises(ProofError, match="shorter"):
        root_from_inclusion_proof(CT_TREE.leaf_hash(2), 2, 8, proof[:2])


# --- consistency proofs -------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY)
def test_consistency_proofs_match_the_published_vectors(old: int, new: int, path: list[str]) -> None:
    proof = consistency_proof(old, new, CT_TREE.subtree_hash)
    assert [h.hex() for h in proof] == path
    assert verify_consistency(old, new, bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new]), proof)


def test_every_consistency_proof_of_small_trees_verifies_and_wrong_sizes_fail() -> None:
    for new in range(0, 34):
        for old in range(0, new + 1):
            proof = BIG_TREE.consistency_proof(old, new)
            assert verify_consistency(old, new, BIG_TREE.root(old), BIG_TREE.root(new), proof)
            if old in (0, new):
                continue  # empty proof: nothing beyond the roots to check
            for other in range(1, 34):
                if other != old and other <= new:
                    assert not verify_consistency(other, new, BIG_TREE.root(other), BIG_TREE.root(new), proof)
                if other != new and other >= old:
                    assert not verify_consistency(old, other, BIG_TREE.root(old), BIG_TREE.root(other), proof)


sizes_pairs = st.integers(0, BIG).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@settings(max_examples=150, deadline=None)
@given(sizes_pairs)
def test_consistency_proof_verifies_for_any_sizes(case: tuple[int, int]) -> None:
    old, new = case
    proof = BIG_TREE.consistency_proof(old, new)
    assert verify_consistency(old, new, BIG_TREE.root(old), BIG_TREE.root(new), proof)


@settings(max_examples=150, deadline=None)
@given(sizes_pairs, st.data())
def test_tampered_consistency_proof_fails(case: tuple[int, int], data: st.DataObject) -> None:
    old, new = case
    old_root, new_root = BIG_TREE.root(old), BIG_TREE.root(new)
    proof = BIG_TREE.consistency_proof(old, new)
    byte = data.draw(st.integers(0, 31))
    assert not verify_consistency(old, new, flipped(old_root, byte), new_root, proof)
    if old > 0:  # the empty tree is a prefix of every tree, whatever its root
        assert not verify_consistency(old, new, old_root, flipped(new_root, byte), proof)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof[:at], flipped(proof[at], byte), *proof[at + 1 :]]
        assert not verify_consistency(old, new, old_root, new_root, bad)
        assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
    assert not verify_consistency(old, new, old_root, new_root, [*proof, old_root])
    if 0 < old < new:
        assert not verify_consistency(new, old, new_root, old_root, proof)
        assert not verify_consistency(old, new, new_root, old_root, proof)


def test_a_forked_log_is_not_consistent() -> None:
    fork = InMemoryTree(BIG_TREE.leaf_hash(i) for i in range(40))
    fork.append(leaf_hash(b"rewritten history"))
    for i in range(41, 60):
        fork.append(BIG_TREE.leaf_hash(i))
    for old in (41, 45, 50):
        proof = fork.consistency_proof(old, 60)
        assert verify_consistency(old, 60, fork.root(old), fork.root(60), proof)
        assert not verify_consistency(old, 60, BIG_TREE.root(old), fork.root(60), proof)
        honest = BIG_TREE.consistency_proof(old, 60)
        assert not verify_consistency(old, 60, BIG_TREE.root(old), fork.root(60), honest)


def test_equal_and_empty_sizes_need_an_empty_proof() -> None:
    root5 = BIG_TREE.root(5)
    assert consistency_proof(5, 5, BIG_TREE.subtree_hash) == []
    assert consistency_proof(0, 5, BIG_TREE.subtree_hash) == []
    assert verify_consistency(5, 5, root5, root5, [])
    assert not verify_consistency(5, 5, root5, BIG_TREE.root(6), [])
    assert not verify_consistency(5, 5, root5, root5, [root5])
    assert verify_consistency(0, 5, EMPTY_ROOT, root5, [])
    assert not verify_consistency(0, 5, root5, root5, [])
    with pytest.raises(ProofError, match="empty"):
        check_consistency(3, 5, BIG_TREE.root(3), root5, [])


def test_consistency_arguments_out_of_range() -> None:
    for old, new in [(6, 5), (-1, 5)]:
        with pytest.raises(ValueError):
            consistency_proof(old, new, BIG_TREE.subtree_hash)
        assert not verify_consistency(old, new, EMPTY_ROOT, EMPTY_ROOT, [])
