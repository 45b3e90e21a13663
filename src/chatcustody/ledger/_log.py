"""The persisted ledger: append leaves in a batch, then sign a tree head.

Invariants:
- Leaves are numbered 0, 1, 2, … with no gap; a batch's leaves, its rows and its signed
  tree head commit in one database transaction, so a crash leaves either all or none.
- ``ledger_state`` holds the size and the frontier (the perfect-subtree roots), so an append
  costs O(log n) and reopening a vault reads no leaf. Writers serialise on that row.
- The signed message of a tree head is the canonical JSON of
  ``{"key_id", "root", "size", "timestamp_ms", "v": 1, "vault_id"}``; the same bytes are
  written as ``tree-head.json`` in evidence packages, so ``openssl pkeyutl -verify -rawin``
  checks them with the vault's public key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Connection, insert, select, update

from chatcustody.errors import ProofError
from chatcustody.ledger._merkle import HASH_SIZE, Frontier
from chatcustody.model import canonical_json
from chatcustody.store import insert_rows
from chatcustody.store import schema as t

HEAD_FORMAT: Final[int] = 1
_STATE_ID: Final[int] = 1


def key_id(public: Ed25519PublicKey) -> str:
    """Return a short stable id of a signing key: SHA-256 of its raw bytes, 16 hex digits."""
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class TreeHead:
    """A signed statement of the ledger's size and root at one moment."""

    size: int
    root: bytes
    timestamp_ms: int
    key_id: str
    vault_id: str
    signature: bytes = b""

    def message(self) -> bytes:
        """Return the exact bytes that are signed."""
        return canonical_json(
            {
                "key_id": self.key_id,
                "root": self.root.hex(),
                "size": self.size,
                "timestamp_ms": self.timestamp_ms,
                "v": HEAD_FORMAT,
                "vault_id": self.vault_id,
            }
        ).encode("utf-8")

    def to_json(self) -> dict[str, Any]:
        """Return the head with its signature, as printed by ``chatcustody log``."""
        return {
            "size": self.size,
            "root": self.root.hex(),
            "timestamp_ms": self.timestamp_ms,
            "key_id": self.key_id,
            "vault_id": self.vault_id,
            "signature": self.signature.hex(),
        }

    def check_signature(self, public: Ed25519PublicKey) -> None:
        """Raise ProofError unless the signature verifies under ``public``."""
        try:
            public.verify(self.signature, self.message())
        except InvalidSignature:
            raise ProofError(f"tree head {self.size}: signature does not verify") from None


def init_state(conn: Connection) -> None:
    """Create the empty ledger state row (vault creation)."""
    conn.execute(insert(t.ledger_state).values(id=_STATE_ID, size=0, frontier=b""))


def _frontier_from_row(size: int, blob: bytes) -> Frontier:
    nodes = [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]
    return Frontier(size, nodes)


class LedgerWriter:
    """Appends leaves within the caller's transaction and signs the head at the end.

    Construct it at the start of a write transaction: it locks the ledger state row, so
    other writers wait until this transaction ends.
    """

    def __init__(self, conn: Connection, signer: Ed25519PrivateKey, vault_id: str) -> None:
        self._conn = conn
        self._signer = signer
        self._vault_id = vault_id
        query = select(t.ledger_state.c.size, t.ledger_state.c.frontier).where(
            t.ledger_state.c.id == _STATE_ID
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        size, blob = conn.execute(query).one()
        self._frontier = _frontier_from_row(int(size), bytes(blob))
        self._pending: list[dict[str, Any]] = []

    @property
    def next_index(self) -> int:
        """Return the index the next appended leaf will get."""
        return self._frontier.size

    def append(self, kind: str, ref: int, leaf_hash: bytes) -> int:
        """Queue one leaf; return its index."""
        idx = self._frontier.size
        self._frontier.append(leaf_hash)
        self._pending.append({"idx": idx, "kind": kind, "ref": ref, "hash": leaf_hash})
        return idx

    def commit_head(self, now_ms: int) -> TreeHead | None:
        """Write the queued leaves, the new state and a signed head; None if nothing queued."""
        if not self._pending:
            return None
        insert_rows(self._conn, t.leaves, self._pending)
        self._pending = []
        size = self._frontier.size
        self._conn.execute(
            update(t.ledger_state)
            .where(t.ledger_state.c.id == _STATE_ID)
            .values(size=size, frontier=b"".join(self._frontier.nodes))
        )
        head = sign_head(self._signer, self._vault_id, size, self._frontier.root(), now_ms)
        self._conn.execute(
            insert(t.tree_heads).values(
                size=head.size,
                root=head.root,
                ts_ms=head.timestamp_ms,
                key_id=head.key_id,
                signature=head.signature,
            )
        )
        return head


def sign_head(
    signer: Ed25519PrivateKey, vault_id: str, size: int, root: bytes, now_ms: int
) -> TreeHead:
    """Return a tree head signed by ``signer``."""
    unsigned = TreeHead(size, root, now_ms, key_id(signer.public_key()), vault_id)
    return TreeHead(size, root, now_ms, unsigned.key_id, vault_id, signer.sign(unsigned.message()))


def load_heads(conn: Connection, vault_id: str) -> list[TreeHead]:
    """Return every stored tree head, smallest first."""
    rows = conn.execute(select(t.tree_heads).order_by(t.tree_heads.c.size)).all()
    return [
        TreeHead(int(r.size), bytes(r.root), int(r.ts_ms), r.key_id, vault_id, bytes(r.signature))
        for r in rows
    ]


def latest_head(conn: Connection, vault_id: str) -> TreeHead | None:
    """Return the newest tree head, or None for an empty ledger."""
    r = conn.execute(
        select(t.tree_heads).order_by(t.tree_heads.c.size.desc()).limit(1)
    ).one_or_none()
    if r is None:
        return None
    return TreeHead(
        int(r.size), bytes(r.root), int(r.ts_ms), r.key_id, vault_id, bytes(r.signature)
    )


def leaf_hashes(conn: Connection, upto: int | None = None) -> Sequence[bytes]:
    """Return the stored leaf hashes in order (first ``upto`` when given)."""
    query = select(t.leaves.c.hash).order_by(t.leaves.c.idx)
    if upto is not None:
        query = query.where(t.leaves.c.idx < upto)
    return [bytes(h) for (h,) in conn.execute(query)]
