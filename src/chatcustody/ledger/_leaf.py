"""Leaf contents: a salted commitment to every content field of a ledgered row.

Leaf data (the bytes hashed as an RFC 9162 leaf) is the canonical JSON (sorted keys, no
spaces, UTF-8) of::

    {"c": {FIELD: hex(commitment), ...}, "kind": KIND, "ref": ID, "v": 1}

with, for each field, ``salt = SHA-256(seed ‖ UTF-8(FIELD))[:16]`` and
``commitment = SHA-256(salt ‖ UTF-8(canonical JSON of the value)))``. The 16-byte ``seed``
is random per row and kept encrypted with the row. A package that withholds a field
publishes its commitment only; one that discloses it publishes the value and its salt,
never the seed, so a withheld value cannot be confirmed by guessing (each salt is
independent and unguessable) and a disclosed one can be checked by anyone.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any, Final

from chatcustody.model import canonical_json

LEAF_FORMAT: Final[int] = 1
SEED_BYTES: Final[int] = 16
SALT_BYTES: Final[int] = 16


def new_seed() -> bytes:
    """Return a fresh random per-row seed."""
    return os.urandom(SEED_BYTES)


def field_salt(seed: bytes, name: str) -> bytes:
    """Return the salt of one field, derived one-way from the row's seed."""
    return hashlib.sha256(seed + name.encode("utf-8")).digest()[:SALT_BYTES]


def commitment(salt: bytes, value: Any) -> bytes:
    """Return the commitment to one field value under its salt."""
    return hashlib.sha256(salt + canonical_json(value).encode("utf-8")).digest()


def commitments(seed: bytes, fields: Mapping[str, Any]) -> dict[str, str]:
    """Return ``{field: hex commitment}`` for every field."""
    sha = hashlib.sha256
    out: dict[str, str] = {}
    for name, value in fields.items():
        salt = sha(seed + name.encode("utf-8")).digest()[:SALT_BYTES]
        out[name] = sha(salt + canonical_json(value).encode("utf-8")).hexdigest()
    return out


def leaf_data(kind: str, ref: int, commits: Mapping[str, str]) -> bytes:
    """Return the exact bytes that are hashed as the ledger leaf."""
    return canonical_json({"c": dict(commits), "kind": kind, "ref": ref, "v": LEAF_FORMAT}).encode(
        "utf-8"
    )
