"""RFC 9162 Merkle tree: hashing, tree heads, inclusion and consistency proofs.

Written by hand from RFC 9162 (Certificate Transparency v2); the hashing is the same
as RFC 6962, so the published RFC 6962 test vectors apply.

Invariants:

* Hashes are SHA-256, always exactly ``HASH_SIZE`` (32) bytes.
* Domain separation (RFC 9162 §2.1.1): a leaf is ``SHA-256(0x00 || data)``, an inner
  node ``SHA-256(0x01 || left || right)``; the empty tree's root is ``SHA-256(b"")``.
  A leaf hash therefore never equals a node hash (second-preimage defence).
* Tree shape (§2.1.1): a tree of ``n > 1`` leaves splits at ``k``, the largest power of
  two strictly less than ``n``; the left part is perfect, the right part recurses. So
  every tree is its perfect subtrees for the set bits of ``n``, largest first, folded
  from the right -- the shape :class:`Frontier` stores.
* Proofs are generated as §2.1.3.1 (PATH) and §2.1.4.1 (PROOF/SUBPROOF) define them and
  verified with the algorithms of §2.1.3.2 and §2.1.4.2, step for step. Verification
  checks every step and the path length, never only the ends, and raises
  :class:`~chatcustody.errors.ProofError` saying what is wrong. Digests are compared
  with :func:`hmac.compare_digest`.
* Malformed arguments to the builders (bad hash sizes, sizes out of range) raise
  :class:`ValueError`: they are programming errors, not evidence of tampering.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

from chatcustody.errors import ProofError

HASH_SIZE: Final[int] = 32
EMPTY_ROOT: Final[bytes] = hashlib.sha256(b"").digest()
_LEAF_PREFIX: Final[bytes] = b"\x00"
_NODE_PREFIX: Final[bytes] = b"\x01"
_sha256 = hashlib.sha256
_FOLD_CACHE_MAX: Final[int] = 4096


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || data)``."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 inner-node hash ``SHA-256(0x01 || left || right)``."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly less than ``n`` (``n >= 2``), RFC 9162 §2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_leaves(hashes: Sequence[bytes]) -> None:
    if any(len(h) != HASH_SIZE for h in hashes):
        raise ValueError(f"every leaf/node hash must be {HASH_SIZE} bytes")


def _fold(perfect_roots: Sequence[bytes]) -> bytes:
    """Fold perfect-subtree roots (largest first) from the right into one tree root."""
    if not perfect_roots:
        return EMPTY_ROOT
    root = perfect_roots[-1]
    for left in reversed(perfect_roots[:-1]):
        root = node_hash(left, root)
    return root


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH (RFC 9162 §2.1.1) of a list of already-hashed leaves."""
    return MerkleTree(leaf_hashes).root()


class Frontier:
    """Compact range for appending: the roots of the perfect subtrees, O(log n) memory.

    ``nodes`` holds one root per set bit of ``size``, left to right (largest first).
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        # A restored state that does not match its size would silently yield wrong roots.
        if size < 0:
            raise ValueError("size must be non-negative")
        if len(nodes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} has {size.bit_count()} nodes")
        _check_leaves(nodes)
        self._size = size
        self._nodes = list(nodes)

    @property
    def size(self) -> int:
        return self._size

    @property
    def nodes(self) -> tuple[bytes, ...]:
        return tuple(self._nodes)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash, merging equal-size perfect subtrees (one per trailing 1 bit)."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        nodes = self._nodes
        nodes.append(leaf_hash)
        carry = self._size
        while carry & 1:
            right = nodes.pop()
            nodes[-1] = node_hash(nodes[-1], right)
            carry >>= 1
        self._size += 1

    def root(self) -> bytes:
        """Return the root of the tree of ``size`` leaves."""
        return _fold(self._nodes)


class MerkleTree:
    """All perfect-subtree levels in memory: built once in O(n), then O(log n) per proof.

    ``_levels[h][i]`` is the root of the perfect subtree of leaves ``[i*2^h, (i+1)*2^h)``.
    Roots of past trees and of non-perfect subtrees are folded from these on demand and
    cached (a tree size has only O(log n) of them, on its right spine).
    """

    __slots__ = ("_folded", "_levels")

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        _check_leaves(leaf_hashes)
        self._folded: dict[tuple[int, int], bytes] = {}  # non-perfect subtree roots
        level = list(leaf_hashes)
        self._levels: list[list[bytes]] = [level]
        prefix = _NODE_PREFIX
        while len(level) > 1:
            # An odd last node has no sibling yet: it is not a perfect subtree, so drop it.
            pairs = zip(level[0:-1:2], level[1::2], strict=True)
            level = [_sha256(prefix + a + b).digest() for a, b in pairs]
            self._levels.append(level)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def _subtree_root(self, start: int, end: int) -> bytes:
        """MTH of leaves ``[start, end)``; ``start`` is aligned as in any RFC subtree."""
        n = end - start
        if n & (n - 1) == 0 and n:  # perfect: stored
            h = n.bit_length() - 1
            return self._levels[h][start >> h]
        cached = self._folded.get((start, end))
        if cached is not None:
            return cached
        chunks: list[bytes] = []
        pos = start
        while pos < end:
            h = (end - pos).bit_length() - 1
            chunks.append(self._levels[h][pos >> h])
            pos += 1 << h
        root = _fold(chunks)
        if len(self._folded) >= _FOLD_CACHE_MAX:  # few distinct ones per tree size: bound it
            self._folded.clear()
        self._folded[(start, end)] = root
        return root

    def _check_size(self, tree_size: int | None) -> int:
        n = self.size if tree_size is None else tree_size
        if not 0 <= n <= self.size:
            raise ValueError(f"tree size {n} outside 0..{self.size}")
        return n

    def root(self, tree_size: int | None = None) -> bytes:
        """Return the root of the first ``tree_size`` leaves (default: all)."""
        return self._subtree_root(0, self._check_size(tree_size))

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """Return PATH(index, D[0:tree_size]) of RFC 9162 §2.1.3.1, deepest sibling first."""
        n = self._check_size(tree_size)
        if not 0 <= index < n:
            raise ValueError(f"leaf index {index} outside 0..{n - 1}")
        levels = self._levels
        upper: list[bytes] = []  # siblings met while the subtree is not perfect, top down
        start = 0
        while n & (n - 1):
            k = _split(n)
            if index - start < k:
                upper.append(self._subtree_root(start + k, start + n))
                n = k
            else:
                upper.append(self._subtree_root(start, start + k))
                start += k
                n -= k
        # Inside a perfect subtree the sibling at height h is stored node (index >> h) ^ 1.
        path = [levels[h][(index >> h) ^ 1] for h in range(n.bit_length() - 1)]
        path.extend(reversed(upper))
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Return PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1."""
        n = self._check_size(new_size)
        if not 0 <= old_size <= n:
            raise ValueError(f"old size {old_size} outside 0..{n}")
        if old_size == 0:
            return []
        proof: list[bytes] = []
        start, m, whole = 0, old_size, True
        while m != n:  # SUBPROOF(m, D[start:start+n], whole)
            k = _split(n)
            if m <= k:
                proof.append(self._subtree_root(start + k, start + n))
                n = k
            else:
                proof.append(self._subtree_root(start, start + k))
                start, n, m, whole = start + k, n - k, m - k, False
        if not whole:
            proof.append(self._subtree_root(start, start + n))
        proof.reverse()
        return proof


def _check_hash(what: str, value: bytes) -> None:
    # Odd-length "hashes" could smuggle extra preimage bytes into a node hash.
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def _check_path(path: Sequence[bytes], expected: int) -> None:
    # Padding or truncating a path must not pass: the length is fixed by the sizes.
    if len(path) != expected:
        raise ProofError(f"proof has {len(path)} hashes, expected {expected}")
    for i, p in enumerate(path):
        _check_hash(f"proof hash {i}", p)


def root_from_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, path: Sequence[bytes]
) -> bytes:
    """Return the root implied by an inclusion proof (RFC 9162 §2.1.3.2 steps 1-4)."""
    # Step 1. A leaf outside the tree, or a negative index, cannot be included in it.
    if not 0 <= index < tree_size:
        raise ProofError(f"leaf index {index} is not below tree size {tree_size}")
    _check_hash("leaf hash", leaf_hash)
    inner = (index ^ (tree_size - 1)).bit_length()
    _check_path(path, inner + (index >> inner).bit_count())
    fn, sn, r = index, tree_size - 1, leaf_hash  # steps 2-3
    for p in path:  # step 4
        if sn == 0:  # path longer than the tree is tall
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:  # LSB(fn) unset: climb until it is set or fn is 0
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # step 5 (the root comparison is verify_inclusion's): path stopped short
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless ``path`` proves leaf ``index`` is in the tree ``root``."""
    _check_hash("root", root)
    computed = root_from_inclusion(leaf_hash, index, tree_size, path)
    if not hmac.compare_digest(computed, root):
        raise ProofError(f"inclusion proof for leaf {index} does not match the tree root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> None:
    """Raise ProofError unless ``path`` proves tree ``old_root`` is a prefix of ``new_root``."""
    _check_hash("old root", old_root)
    _check_hash("new root", new_root)
    # A log may only grow: a smaller new tree would mean history was rewritten.
    if not 0 <= old_size <= new_size:
        raise ProofError(f"old size {old_size} is not within 0..new size {new_size}")
    if old_size == new_size:
        # Same size: nothing to prove, the heads must be identical (no fork).
        _check_path(path, 0)
        if not hmac.compare_digest(old_root, new_root):
            raise ProofError(f"two different roots for the same tree size {old_size}")
        return
    if old_size == 0:
        # The empty tree is a prefix of every tree; its root is fixed.
        _check_path(path, 0)
        if not hmac.compare_digest(old_root, EMPTY_ROOT):
            raise ProofError("old root is not the empty-tree root for old size 0")
        return
    if not path:  # §2.1.4.2 step 1
        raise ProofError("consistency proof is empty")
    shift = (old_size & -old_size).bit_length() - 1  # trailing zeros of old_size
    fn, sn = old_size - 1, new_size - 1  # step 3
    inner = (fn ^ sn).bit_length()
    seeded = old_size == 1 << shift  # §2.1.4.2 step 2: power of two -> prepend old_root
    _check_path(path, (0 if seeded else 1) + inner - shift + (fn >> inner).bit_count())
    nodes = [old_root, *path] if seeded else list(path)
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]  # step 5
    for c in nodes[1:]:  # step 6
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:  # LSB(fn) unset: climb until it is set or fn is 0
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7: both roots must be reproduced and the path must reach the top.
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if not hmac.compare_digest(fr, old_root):
        raise ProofError(f"consistency proof does not reproduce the old root (size {old_size})")
    if not hmac.compare_digest(sr, new_root):
        raise ProofError(f"consistency proof does not reproduce the new root (size {new_size})")
