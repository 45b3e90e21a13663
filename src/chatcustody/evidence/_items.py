"""Ledgered items in a package: disclosed fields with their salts, withheld ones as commitments.

One JSON object per item (a line of ``messages.jsonl``, or the ``leaf`` of an acquisition
line in ``custody.jsonl``)::

    {"kind": "record", "id": 12, "leaf_index": 345,
     "fields": {NAME: VALUE, ...},          disclosed values
     "salts": {NAME: hex(16 bytes), ...},   one per disclosed field
     "withheld": {NAME: hex(commitment)},   fields not disclosed (redacted)
     "display": {NAME: "masked copy"}}      optional, NOT covered by any proof

The leaf is ``ledger._leaf.leaf_data(kind, id, commitments)`` with
``commitment = SHA-256(salt ‖ canonical JSON of value)`` for a disclosed field and the
given commitment for a withheld one; its RFC 9162 leaf hash is ``SHA-256(0x00 ‖ leaf)``.
This module is pure (no vault): the writer and the offline verifier share it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

from chatcustody.ledger._leaf import leaf_data, value_bytes
from chatcustody.ledger._merkle import leaf_hash

KIND_DIRS: Final[dict[str, str]] = {
    "record": "records",
    "amendment": "amendments",
    "source": "sources",
}


def proof_file(kind: str) -> str:
    """Return the package path of the inclusion proofs of one kind (one JSON per line)."""
    return f"proofs/{KIND_DIRS[kind]}.jsonl"


def item_json(
    kind: str,
    ref: int,
    leaf_index: int,
    fields: Mapping[str, Any],
    salts: Mapping[str, bytes],
    withheld: frozenset[str] | set[str],
    commits: Mapping[str, str],
    display: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return the package form of one item, withholding the named fields."""
    out: dict[str, Any] = {
        "kind": kind,
        "id": ref,
        "leaf_index": leaf_index,
        "fields": {n: v for n, v in fields.items() if n not in withheld},
        "salts": {n: salts[n].hex() for n in fields if n not in withheld},
        "withheld": {n: commits[n] for n in sorted(withheld)},
    }
    if display:
        out["display"] = dict(display)
    return out


class ItemError(ValueError):
    """An item's JSON is malformed (the verifier turns it into a named failure)."""


def item_leaf_hash(item: Mapping[str, Any]) -> bytes:
    """Recompute an item's RFC 9162 leaf hash from its disclosed fields and commitments."""
    try:
        kind, ref = str(item["kind"]), int(item["id"])
        fields: Mapping[str, Any] = item["fields"]
        salts: Mapping[str, str] = item["salts"]
        withheld: Mapping[str, str] = item["withheld"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ItemError(f"missing or malformed member {exc}") from None
    if set(fields) != set(salts):
        raise ItemError("every disclosed field needs exactly one salt")
    both = set(fields) & set(withheld)
    if both:
        raise ItemError(f"fields both disclosed and withheld: {sorted(both)}")
    commits: dict[str, str] = {}
    for name, value in fields.items():
        try:
            salt = bytes.fromhex(salts[name])
        except (TypeError, ValueError):
            raise ItemError(f"salt of {name!r} is not hex") from None
        if len(salt) != 16:
            raise ItemError(f"salt of {name!r} is not 16 bytes")
        commits[name] = hashlib.sha256(salt + value_bytes(value)).hexdigest()
    for name, c in withheld.items():
        if not isinstance(c, str) or len(c) != 64 or c != c.lower():
            raise ItemError(f"commitment of withheld {name!r} is not 64 lowercase hex digits")
        try:
            bytes.fromhex(c)
        except ValueError:
            raise ItemError(f"commitment of withheld {name!r} is not hex") from None
        commits[name] = c
    for name in commits:
        # The leaf is JSON built by hand: a quote in a name would change its structure.
        if not name.replace("_", "").isalnum() or not name.isascii():
            raise ItemError(f"field name {name!r} is not a plain identifier")
    if kind not in KIND_DIRS:
        raise ItemError(f"unknown item kind {kind!r}")
    return leaf_hash(leaf_data(kind, ref, commits))
