"""The tamper-evident ledger: an RFC 9162 Merkle log with signed tree heads.

Every record, acquired original, amendment, event and audit event is a leaf; a leaf
commits to each content field through a salted hash (``_leaf``), so a field can be
withheld from a package while its inclusion proof still verifies.
"""

from __future__ import annotations

from chatcustody.ledger._leaf import (
    LEAF_FORMAT,
    commit_inner,
    commitment,
    commitments,
    field_salts,
    leaf_bytes,
    leaf_data,
    leaf_from_inner,
    new_seed,
    value_bytes,
)
from chatcustody.ledger._log import (
    LedgerWriter,
    TreeHead,
    init_state,
    key_id,
    latest_head,
    leaf_hashes,
    load_heads,
    sign_head,
)
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

__all__ = [
    "HASH_SIZE",
    "LEAF_FORMAT",
    "Frontier",
    "LedgerWriter",
    "MerkleTree",
    "TreeHead",
    "commit_inner",
    "commitment",
    "commitments",
    "field_salts",
    "init_state",
    "key_id",
    "latest_head",
    "leaf_bytes",
    "leaf_data",
    "leaf_from_inner",
    "leaf_hash",
    "leaf_hashes",
    "load_heads",
    "new_seed",
    "node_hash",
    "value_bytes",
    "root_from_inclusion",
    "root_of",
    "sign_head",
    "verify_consistency",
    "verify_inclusion",
]
