"""Tests for the RFC 9162 Merkle tree: published vectors, properties, forged proofs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chatcustody.ledger._merkle as merkle_module
from chatcustody.errors import ProofError
from chatcustody.ledger._merkle import (
    HASH_SIZE,
    Frontier,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# --- RFC 6962 reference vectors of the CT suite (transparency-dev/merkle, formerly in
# --- google/trillian and certificate-transparency): testonly/constants.go, proof/verify_test.go.

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
EMPTY_ROOT = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
ROOTS = [EMPTY_ROOT] + [  # indexed by tree size 0..8
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
# NODES[level][i]: root of the perfect subtree of leaves [i*2^level, (i+1)*2^level).
NODES = [
    [
        bytes.fromhex(h)
        for h in (
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
        )
    ],
    [
        bytes.fromhex(h)
        for h in (
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        )
    ],
    [
        bytes.fromhex(h)
        for h in (
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        )
    ],
    [bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]


def _h(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


# (leaf index, 0-based; tree size; proof). The Go suite numbers leaves from 1.
INCLUSION_VECTORS = [
    (
        0,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _h(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, _h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        _h(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]
# (old size, new size, proof)
CONSISTENCY_VECTORS = [
    (
        1,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _h(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")

VECTOR_LEAF_HASHES = [leaf_hash(d) for d in LEAVES]
VECTOR_TREE = MerkleTree(VECTOR_LEAF_HASHES)

# A pool of distinct leaves; trees of any size <= len(POOL) are its prefixes.
POOL = [leaf_hash(b"leaf %d" % i) for i in range(340)]
POOL_TREE = MerkleTree(POOL)
ODD_SIZES = [1, 2, 3, 5, 6, 7, 9, 10, 11, 12, 13, 15, 17, 21, 31, 33]


# --- An independent, naive reference: the recursive definitions of RFC 9162 §2.1.


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], whole: bool) -> list[bytes]:
    if m == len(d):
        return [] if whole else [ref_mth(d)]
    k = _k(len(d))
    if m <= k:
        return ref_subproof(m, d[:k], whole) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def rejects(check: Callable[[], object]) -> bool:
    try:
        check()
    except ProofError:
        return True
    return False


# --- Published vectors.


def test_vectors_cross_check_node_table() -> None:
    """The typed roots and proofs agree with the typed node table and with each other."""
    assert ROOTS[1] == NODES[0][0] and ROOTS[2] == NODES[1][0]
    assert ROOTS[4] == NODES[2][0] and ROOTS[8] == NODES[3][0]
    n0, n1, n2 = NODES[0], NODES[1], NODES[2]
    assert INCLUSION_VECTORS[0][2] == [n0[1], n1[1], n2[1]]
    assert INCLUSION_VECTORS[1][2] == [n0[4], n1[3], n2[0]]
    assert INCLUSION_VECTORS[2][2] == [n1[0]]
    assert INCLUSION_VECTORS[3][2] == [n0[0], n1[1], n0[4]]
    assert CONSISTENCY_VECTORS[0][2] == [n0[1], n1[1], n2[1]]
    assert CONSISTENCY_VECTORS[1][2] == [n1[2], n1[3], n2[0]]
    assert CONSISTENCY_VECTORS[2][2] == [n1[1], n0[4]]
    assert CONSISTENCY_VECTORS[3][2] == [n1[2], n0[6], n2[0]]
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT


def test_vector_leaf_and_node_hashes() -> None:
    """leaf_hash and node_hash reproduce every published node hash of the 8-leaf tree."""
    assert [leaf_hash(d) for d in LEAVES] == NODES[0]
    for level in range(1, 4):
        below = NODES[level - 1]
        built = [node_hash(below[2 * i], below[2 * i + 1]) for i in range(len(below) // 2)]
        assert built == NODES[level]


@pytest.mark.parametrize("size", range(9))
def test_vector_roots(size: int) -> None:
    """root_of, Frontier and MerkleTree (full and past sizes) give the published root."""
    prefix = VECTOR_LEAF_HASHES[:size]
    frontier = Frontier()
    for h in prefix:
        frontier.append(h)
    assert root_of(prefix) == ROOTS[size]
    assert frontier.root() == ROOTS[size]
    assert MerkleTree(prefix).root() == ROOTS[size]
    assert VECTOR_TREE.root(size) == ROOTS[size]


def test_vector_frontier_nodes() -> None:
    """Frontier.nodes are the published compact-range nodes, one per set bit of size."""
    n0, n1, n2, n3 = NODES
    expected = [
        [],
        [n0[0]],
        [n1[0]],
        [n1[0], n0[2]],
        [n2[0]],
        [n2[0], n0[4]],
        [n2[0], n1[2]],
        [n2[0], n1[2], n0[6]],
        [n3[0]],
    ]
    frontier = Frontier()
    assert list(frontier.nodes) == expected[0]
    for size, h in enumerate(VECTOR_LEAF_HASHES, start=1):
        frontier.append(h)
        assert frontier.size == size
        assert list(frontier.nodes) == expected[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_vector_inclusion(index: int, size: int, proof: list[bytes]) -> None:
    """Generated inclusion proofs equal the published ones, which verify."""
    assert VECTOR_TREE.inclusion_proof(index, size) == proof
    assert MerkleTree(VECTOR_LEAF_HASHES[:size]).inclusion_proof(index) == proof
    leaf = VECTOR_LEAF_HASHES[index]
    assert root_from_inclusion(leaf, index, size, proof) == ROOTS[size]
    verify_inclusion(leaf, index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_vector_inclusion_probes_rejected(index: int, size: int, proof: list[bytes]) -> None:
    """The CT suite's corrupted variants of each published inclusion proof are rejected."""
    root, leaf = ROOTS[size], VECTOR_LEAF_HASHES[index]
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (index - 1, size, root, leaf, proof),
        (index + 1, size, root, leaf, proof),
        (index ^ 2, size, root, leaf, proof),
        (index, size * 2, root, leaf, proof),
        (index, size // 2, root, leaf, proof),
        (index, size, root, b"WrongLeaf", proof),
        (index, size, root, leaf_hash(b"WrongLeaf"), proof),
        (index, size, EMPTY_ROOT, leaf, proof),
        (index, size, SOME_HASH, leaf, proof),
        (index, size, root, leaf, [*proof, b""]),
        (index, size, root, leaf, [*proof, root]),
        (index, size, root, leaf, [b"", *proof]),
        (index, size, root, leaf, [root, *proof]),
        (index, size, root, leaf, proof[:-1]),
    ]
    if len(proof) > 1:
        probes.append((index, size, root, leaf, [proof[0], SOME_HASH, *proof[1:]]))
    for i in range(len(proof)):
        probes.append((index, size, root, leaf, [*proof[:i], flip(proof[i], 3), *proof[i + 1 :]]))
    for i, n, r, lf, p in probes:
        assert rejects(lambda: verify_inclusion(lf, i, n, p, r)), (i, n)  # noqa: B023


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_vector_consistency(old: int, new: int, proof: list[bytes]) -> None:
    """Generated consistency proofs equal the published ones, which verify."""
    assert VECTOR_TREE.consistency_proof(old, new) == proof
    assert MerkleTree(VECTOR_LEAF_HASHES[:new]).consistency_proof(old) == proof
    verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_vector_consistency_probes_rejected(old: int, new: int, proof: list[bytes]) -> None:
    """The CT suite's corrupted variants of each published consistency proof are rejected."""
    r1, r2 = ROOTS[old], ROOTS[new]
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, b"WrongRoot", r2, proof),
        (old, new, r1, b"WrongRoot", proof),
        (old, new, SOME_HASH, r2, proof),
        (old, new, r1, SOME_HASH, proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        probes.append((old, new, r1, r2, [*proof[:i], flip(proof[i], 4), *proof[i + 1 :]]))
    for m, n, a, b, p in probes:
        assert rejects(lambda: verify_consistency(m, n, a, b, p)), (m, n)  # noqa: B023


# --- Agreement with the naive recursive definitions, and properties.


@pytest.mark.parametrize("size", range(1, 41))
def test_proofs_match_rfc_definitions(size: int) -> None:
    """PATH and PROOF for every index/old size equal the RFC's recursive definitions."""
    d = POOL[:size]
    tree = MerkleTree(d)
    assert tree.root() == ref_mth(d) == POOL_TREE.root(size)
    for m in range(size):
        assert tree.inclusion_proof(m) == ref_path(m, d) == POOL_TREE.inclusion_proof(m, size)
    for m in range(1, size + 1):
        expected = ref_subproof(m, d, True)
        assert tree.consistency_proof(m) == expected == POOL_TREE.consistency_proof(m, size)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(min_value=1, max_value=300))
def test_all_generated_proofs_verify(size: int) -> None:
    """For every index and old size, proofs (also to a past head) verify."""
    tree = MerkleTree(POOL[:size])
    root = tree.root()
    assert POOL_TREE.root(size) == root
    for m in range(size):
        proof = tree.inclusion_proof(m)
        assert POOL_TREE.inclusion_proof(m, size) == proof
        verify_inclusion(POOL[m], m, size, proof, root)
    for old in range(size + 1):
        proof = tree.consistency_proof(old)
        assert POOL_TREE.consistency_proof(old, size) == proof
        verify_consistency(old, size, tree.root(old), root, proof)


@settings(max_examples=30, deadline=None)
@given(data=st.lists(st.binary(max_size=12), max_size=300))
def test_frontier_root_of_and_tree_agree(data: list[bytes]) -> None:
    """Frontier.root() == root_of() == MerkleTree.root() for every prefix."""
    hashes = [leaf_hash(x) for x in data]
    tree = MerkleTree(hashes)
    frontier = Frontier()
    assert frontier.root() == root_of([]) == tree.root(0) == EMPTY_ROOT
    for size, h in enumerate(hashes, start=1):
        frontier.append(h)
        assert frontier.size == size and len(frontier.nodes) == size.bit_count()
        assert frontier.root() == root_of(hashes[:size]) == tree.root(size)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 300), more=st.integers(0, 40))
def test_frontier_restored_continues_identically(size: int, more: int) -> None:
    """A Frontier restored from (size, nodes) continues exactly like the original."""
    original = Frontier()
    for h in POOL[:size]:
        original.append(h)
    restored = Frontier(original.size, original.nodes)
    assert restored.root() == original.root()
    for h in POOL[size : size + more]:
        original.append(h)
        restored.append(h)
        assert restored.nodes == original.nodes and restored.root() == original.root()
    assert restored.root() == POOL_TREE.root(min(size + more, len(POOL)))


def test_frontier_rejects_inconsistent_state() -> None:
    """A Frontier refuses saved state whose node count or hash sizes do not fit."""
    with pytest.raises(ValueError):
        Frontier(3, [POOL[0]])
    with pytest.raises(ValueError):
        Frontier(-1)
    with pytest.raises(ValueError):
        Frontier(1, [b"short"])
    with pytest.raises(ValueError):
        Frontier().append(b"x" * 33)


def test_tree_argument_errors() -> None:
    """MerkleTree refuses bad leaf hashes and out-of-range sizes and indexes."""
    with pytest.raises(ValueError):
        MerkleTree([b"x" * 31])
    empty = MerkleTree([])
    assert empty.size == 0 and empty.root() == EMPTY_ROOT
    assert empty.consistency_proof(0) == []
    for call in (
        lambda: empty.inclusion_proof(0),
        lambda: VECTOR_TREE.root(9),
        lambda: VECTOR_TREE.root(-1),
        lambda: VECTOR_TREE.inclusion_proof(8),
        lambda: VECTOR_TREE.inclusion_proof(3, 3),
        lambda: VECTOR_TREE.inclusion_proof(-1),
        lambda: VECTOR_TREE.consistency_proof(5, 4),
        lambda: VECTOR_TREE.consistency_proof(-1),
    ):
        with pytest.raises(ValueError):
            call()
    assert VECTOR_TREE.consistency_proof(8) == [] and VECTOR_TREE.consistency_proof(0, 5) == []


def test_large_power_of_two_boundaries() -> None:
    """Trees around powers of two give the reference root and verifiable proofs."""
    for size in (255, 256, 257, 320):
        tree = MerkleTree(POOL[:size])
        assert tree.root() == ref_mth(POOL[:size])
        for m in (0, size // 2, size - 1):
            verify_inclusion(POOL[m], m, size, tree.inclusion_proof(m), tree.root())


# --- Forged inclusion proofs.


InclusionCase = tuple[bytes, int, int, list[bytes], bytes]
ConsistencyCase = tuple[int, int, bytes, bytes, list[bytes]]


def forged_inclusions(size: int) -> Iterator[InclusionCase]:
    """Yield (leaf, index, size, path, root) forgeries of every valid proof at ``size``."""
    root = POOL_TREE.root(size)
    for m in range(size):
        leaf, proof = POOL[m], POOL_TREE.inclusion_proof(m, size)
        verify_inclusion(leaf, m, size, proof, root)
        # Same leaf claimed at another index; another leaf claimed at this index.
        yield from ((leaf, j, size, proof, root) for j in range(size) if j != m)
        yield from ((POOL[j], m, size, proof, root) for j in range(size) if j != m)
        # Same proof claimed against the true head of another size.
        yield from (
            (leaf, m, n, proof, POOL_TREE.root(n)) for n in range(m + 1, size + 4) if n != size
        )
        for i in range(len(proof)):
            # A forged, bit-flipped, over-long or dropped hash at every position of the path.
            for bad in ([SOME_HASH], [flip(proof[i])], [proof[i] + b"\0"], []):
                yield (leaf, m, size, [*proof[:i], *bad, *proof[i + 1 :]], root)
        for i in range(len(proof) - 1):
            if proof[i] != proof[i + 1]:  # swapped sibling order
                yield (leaf, m, size, [*proof[:i], proof[i + 1], proof[i], *proof[i + 2 :]], root)
        if len(proof) > 1:
            yield (leaf, m, size, proof[::-1], root)
        yield (leaf, m, size, [*proof, proof[-1] if proof else root], root)  # extended
        yield (leaf, m, size, [root, *proof], root)
        yield (flip(leaf), m, size, proof, root)
        yield (leaf, m, size, proof, flip(root))


@pytest.mark.parametrize("size", ODD_SIZES + [4, 8, 16, 32])
def test_forged_inclusion_rejected(size: int) -> None:
    """Every tampering of a valid inclusion proof is rejected, at every index."""
    for lf, i, n, p, r in forged_inclusions(size):
        assert rejects(lambda: verify_inclusion(lf, i, n, p, r)), (i, n)  # noqa: B023


def test_inclusion_edge_cases() -> None:
    """Index outside the tree, empty trees, and wrong-length hashes are rejected."""
    leaf = POOL[0]
    verify_inclusion(leaf, 0, 1, [], leaf)  # a one-leaf tree's root is its leaf
    with pytest.raises(ProofError, match="not below tree size"):
        verify_inclusion(leaf, 1, 1, [], leaf)
    with pytest.raises(ProofError, match="not below tree size"):
        verify_inclusion(leaf, 0, 0, [], EMPTY_ROOT)
    with pytest.raises(ProofError, match="not below tree size"):
        verify_inclusion(leaf, -1, 4, POOL_TREE.inclusion_proof(0, 4), POOL_TREE.root(4))
    with pytest.raises(ProofError, match="expected 0"):
        verify_inclusion(leaf, 0, 1, [SOME_HASH], leaf)
    with pytest.raises(ProofError, match="expected 2"):
        verify_inclusion(leaf, 0, 4, POOL_TREE.inclusion_proof(0, 4)[:1], POOL_TREE.root(4))
    with pytest.raises(ProofError, match="bytes"):
        verify_inclusion(leaf[:31], 0, 1, [], leaf[:31])
    with pytest.raises(ProofError, match="bytes"):
        verify_inclusion(leaf, 0, 1, [], leaf + b"\0")
    with pytest.raises(ProofError, match="does not match"):
        verify_inclusion(leaf, 0, 1, [], POOL[1])


def test_inner_node_as_leaf_rejected() -> None:
    """An inner node cannot pass as a leaf: sizes bind path length, and 0x00/0x01 differ."""
    size, root = 4, POOL_TREE.root(4)
    n01, n23 = node_hash(POOL[0], POOL[1]), node_hash(POOL[2], POOL[3])
    # Against the real head (size 4) a one-hash path has the wrong length.
    with pytest.raises(ProofError, match="expected 2"):
        verify_inclusion(n01, 0, size, [n23], root)
    # With a two-hash path, no sibling makes the inner node hash to the root.
    for index in range(size):
        for fake in ([n23, POOL[3]], [POOL[1], n23], [n23, n23]):
            assert rejects(lambda: verify_inclusion(n01, index, size, fake, root))  # noqa: B023
    # Hashing the children's concatenation as leaf data gives a different hash (domain
    # separation), so "leaf data" l0 || l1 is not included either.
    fake_leaf = leaf_hash(POOL[0] + POOL[1])
    assert fake_leaf != n01
    with pytest.raises(ProofError):
        verify_inclusion(fake_leaf, 0, 2, [n23], root)
    # Only a lie about the size (2 for a size-4 head) would make the node look like a leaf;
    # that is why verification takes the signed tree size, never a size from the prover.
    assert root_from_inclusion(n01, 0, 2, [n23]) == root


# --- Forged consistency proofs.


def forged_consistencies(new: int) -> Iterator[ConsistencyCase]:
    """Yield (old, new, old_root, new_root, path) forgeries of every proof up to ``new``."""
    r2 = POOL_TREE.root(new)
    for old in range(1, new):
        r1, proof = POOL_TREE.root(old), POOL_TREE.consistency_proof(old, new)
        verify_consistency(old, new, r1, r2, proof)
        yield from [
            (old, new, r2, r1, proof),  # roots swapped
            (old, new, r2, r2, proof),
            (old, new, r1, r1, proof),
            (old, new, flip(r1), r2, proof),
            (old, new, r1, flip(r2), proof),
            (old, new, r1, r2, []),
            (old, new, r1, r2, [*proof, r2]),  # extended
            (old, new, r1, r2, [r1, *proof]),
            (old, new, r1, r2, proof[:-1]),  # truncated
            (old, new, r1, r2, proof[1:]),
            (new, old, r2, r1, proof),  # old > new
            (new, old, r2, r1, []),
        ]
        if len(proof) > 1:
            yield (old, new, r1, r2, proof[::-1])
        # The same proof against the true heads of other sizes.
        for m in range(0, new + 3):
            for n in range(max(m, 1), new + 3):
                if (m, n) != (old, new):
                    yield (m, n, POOL_TREE.root(m), POOL_TREE.root(n), proof)
        for i in range(len(proof)):  # each path element flipped or replaced
            for bad in (flip(proof[i]), flip(proof[i], 7), SOME_HASH, proof[i][:-1]):
                yield (old, new, r1, r2, [*proof[:i], bad, *proof[i + 1 :]])


@pytest.mark.parametrize("new", ODD_SIZES[1:] + [4, 8, 16])
def test_forged_consistency_rejected(new: int) -> None:
    """Every tampering of a valid consistency proof is rejected, for every old size."""
    for m, n, a, b, p in forged_consistencies(new):
        assert rejects(lambda: verify_consistency(m, n, a, b, p)), (m, n)  # noqa: B023


def test_rfc_steps_alone_reject_forgeries(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the up-front path-length check disabled, the RFC loops still reject every forgery."""

    def sizes_only(path: Sequence[bytes], expected: int) -> None:
        if expected == 0 and path:  # the explicit empty-path rules stay
            raise ProofError("proof must be empty")
        for p in path:
            if len(p) != HASH_SIZE:
                raise ProofError("bad hash size")

    monkeypatch.setattr(merkle_module, "_check_path", sizes_only)
    for size in (1, 5, 7, 8, 13):
        for lf, i, n, p, r in forged_inclusions(size):
            assert rejects(lambda: verify_inclusion(lf, i, n, p, r)), (i, n)  # noqa: B023
    for new in (2, 5, 7, 8, 13):
        for m, n, a, b, q in forged_consistencies(new):
            assert rejects(lambda: verify_consistency(m, n, a, b, q)), (m, n)  # noqa: B023
    proof = POOL_TREE.inclusion_proof(2, 5)
    with pytest.raises(ProofError, match="too long"):
        verify_inclusion(POOL[2], 2, 5, [*proof, SOME_HASH], POOL_TREE.root(5))
    with pytest.raises(ProofError, match="too short"):
        verify_inclusion(POOL[2], 2, 5, proof[:-1], POOL_TREE.root(5))
    cproof = POOL_TREE.consistency_proof(3, 5)
    with pytest.raises(ProofError, match="too long"):
        verify_consistency(3, 5, POOL_TREE.root(3), POOL_TREE.root(5), [*cproof, SOME_HASH])
    with pytest.raises(ProofError, match="too short"):
        verify_consistency(3, 5, POOL_TREE.root(3), POOL_TREE.root(5), cproof[:-1])


def test_consistency_edge_cases() -> None:
    """Size order, empty trees, equal sizes and hash lengths are all checked."""
    r3, r5 = POOL_TREE.root(3), POOL_TREE.root(5)
    verify_consistency(0, 5, EMPTY_ROOT, r5, [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(5, 5, r5, r5, [])
    with pytest.raises(ProofError, match="not within"):
        verify_consistency(5, 3, r5, r3, [])
    with pytest.raises(ProofError, match="not within"):
        verify_consistency(-1, 3, EMPTY_ROOT, r3, [])
    with pytest.raises(ProofError, match="expected 0"):
        verify_consistency(0, 5, EMPTY_ROOT, r5, [EMPTY_ROOT])
    with pytest.raises(ProofError, match="empty-tree root"):
        verify_consistency(0, 5, r3, r5, [])
    with pytest.raises(ProofError, match="expected 0"):
        verify_consistency(5, 5, r5, r5, [r5])
    with pytest.raises(ProofError, match="different roots"):
        verify_consistency(5, 5, r5, r3, [])
    with pytest.raises(ProofError, match="different roots"):
        verify_consistency(0, 0, EMPTY_ROOT, r3, [])
    with pytest.raises(ProofError, match="empty"):
        verify_consistency(3, 5, r3, r5, [])
    with pytest.raises(ProofError, match="expected 4"):  # [l2, l3, n01, l4]
        verify_consistency(3, 5, r3, r5, POOL_TREE.consistency_proof(3, 5)[:3])
    with pytest.raises(ProofError, match="bytes"):
        verify_consistency(5, 5, r5[:16], r5[:16], [])
    with pytest.raises(ProofError, match="bytes"):
        verify_consistency(3, 5, r3, r5, [p + b"\0" for p in POOL_TREE.consistency_proof(3, 5)])
    with pytest.raises(ProofError, match="old root"):
        verify_consistency(3, 5, flip(r3), r5, POOL_TREE.consistency_proof(3, 5))
    with pytest.raises(ProofError, match="new root"):
        verify_consistency(3, 5, r3, flip(r5), POOL_TREE.consistency_proof(3, 5))
    assert HASH_SIZE == len(r3) == 32
