"""Leaf contents: a salted commitment to every content field of a ledgered row.

Leaf data (the bytes hashed as an RFC 9162 leaf) is the canonical JSON (sorted keys, no
spaces, UTF-8) of::

    {"c": {FIELD: hex(commitment), ...}, "kind": KIND, "ref": ID, "v": 1}

For a row with fields ``f_1 < f_2 < … < f_k`` (sorted by name) and a random 16-byte ``seed``
kept encrypted with the row:

- ``salts = SHAKE-256(seed ‖ "chatcustody/salts").digest(16·k)``; field ``f_i`` (1-based
  in sorted order) takes bytes ``16·(i-1) … 16·i``;
- ``commitment_i = SHA-256(salt_i ‖ UTF-8(canonical JSON of the value of f_i))``.

A package that withholds a field publishes its commitment only; one that discloses it
publishes the value and its salt, never the seed. Salts are independent outputs of an
extendable-output function, so a disclosed salt tells nothing about another field's salt,
and a withheld value cannot be confirmed by guessing it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any, Final

from chatcustody.model import canonical_json

LEAF_FORMAT: Final[int] = 1
SEED_BYTES: Final[int] = 16
SALT_BYTES: Final[int] = 16
_SALT_DOMAIN: Final[bytes] = b"chatcustody/salts"


def new_seed() -> bytes:
    """Return a fresh random per-row seed."""
    return os.urandom(SEED_BYTES)


def field_salts(seed: bytes, names: list[str]) -> dict[str, bytes]:
    """Return the salt of each field; ``names`` in any order (salts follow sorted order)."""
    ordered = sorted(names)
    stream = hashlib.shake_256(seed + _SALT_DOMAIN).digest(SALT_BYTES * len(ordered))
    return {n: stream[i * SALT_BYTES : (i + 1) * SALT_BYTES] for i, n in enumerate(ordered)}


def value_bytes(value: Any) -> bytes:
    """Return the canonical JSON bytes of a field value (fast paths for common types)."""
    if isinstance(value, str):
        return encode_basestring(value).encode("utf-8")
    if value is None:
        return b"null"
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    if isinstance(value, int):
        return str(value).encode()
    return canonical_json(value).encode("utf-8")


def commitment(salt: bytes, value: Any) -> bytes:
    """Return the commitment to one field value under its salt."""
    return hashlib.sha256(salt + value_bytes(value)).digest()


def commitments(seed: bytes, fields: Mapping[str, Any]) -> dict[str, str]:
    """Return ``{field: hex commitment}`` for every field, in sorted field order.

    Runs once per record on ingest and on verify: the common value types are encoded inline
    (``type() is`` excludes bool from int), everything else through ``value_bytes``.
    """
    sha = hashlib.sha256
    names = sorted(fields)
    stream = hashlib.shake_256(seed + _SALT_DOMAIN).digest(SALT_BYTES * len(names))
    out: dict[str, str] = {}
    offset = 0
    for name in names:
        value = fields[name]
        kind = type(value)
        if kind is str:
            data = encode_basestring(value).encode("utf-8")
        elif value is None:
            data = b"null"
        elif kind is int:
            data = str(value).encode()
        else:
            data = value_bytes(value)
        out[name] = sha(stream[offset : offset + SALT_BYTES] + data).hexdigest()
        offset += SALT_BYTES
    return out


_PLAN_CACHE_MAX: Final[int] = 64
_plans: dict[tuple[str, ...], tuple[tuple[str, str, int], ...]] = {}


def _plan(names: tuple[str, ...]) -> tuple[tuple[str, str, int], ...]:
    """Return, per field in sorted order, (name, its leaf-data prefix, its salt offset)."""
    plan = _plans.get(names)
    if plan is None:
        plan = tuple((name, f'"{name}":"', i * SALT_BYTES) for i, name in enumerate(sorted(names)))
        if len(_plans) >= _PLAN_CACHE_MAX:
            _plans.clear()
        _plans[names] = plan
    return plan


def commit_inner(seed: bytes, fields: Mapping[str, Any]) -> str:
    """Return the inside of the leaf's ``"c"`` object: ``"f":"hex",…`` in sorted order.

    The hot path of ingest and verify (once per row): the sorted field order, each field's
    salt offset and its JSON prefix are cached per set of field names. Depends on the seed
    and fields only, so ingest can compute it before the row's id is known.
    """
    sha = hashlib.sha256
    plan = _plan(tuple(fields))
    stream = hashlib.shake_256(seed + _SALT_DOMAIN).digest(SALT_BYTES * len(plan))
    parts = []
    for name, prefix, offset in plan:
        value = fields[name]
        kind_ = type(value)
        if kind_ is str:
            data = encode_basestring(value).encode("utf-8")
        elif value is None:
            data = b"null"
        elif kind_ is int:
            data = str(value).encode()
        elif kind_ is list and not value:
            data = b"[]"
        else:
            data = value_bytes(value)
        parts.append(prefix + sha(stream[offset : offset + SALT_BYTES] + data).hexdigest() + '"')
    return ",".join(parts)


def leaf_from_inner(kind: str, ref: int, inner: str) -> bytes:
    """Return the leaf data given ``commit_inner``'s output."""
    return f'{{"c":{{{inner}}},"kind":"{kind}","ref":{ref},"v":{LEAF_FORMAT}}}'.encode()


def leaf_bytes(kind: str, ref: int, seed: bytes, fields: Mapping[str, Any]) -> bytes:
    """Return ``leaf_data(kind, ref, commitments(seed, fields))``, computed in one pass."""
    return leaf_from_inner(kind, ref, commit_inner(seed, fields))


def leaf_data(kind: str, ref: int, commits: Mapping[str, str]) -> bytes:
    """Return the exact bytes that are hashed as the ledger leaf.

    Equal to ``canonical_json({"c": commits, "kind": kind, "ref": ref, "v": 1})``; built by
    hand because it runs once per record (field names and kinds are plain ASCII).
    """
    inner = ",".join(f'"{name}":"{commits[name]}"' for name in sorted(commits))
    return f'{{"c":{{{inner}}},"kind":"{kind}","ref":{ref},"v":{LEAF_FORMAT}}}'.encode()
