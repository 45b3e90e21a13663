"""Read what a package holds out of the vault: items, originals, custody events, proofs.

Everything is read inside one connection at one signed tree head (the newest when the
export starts), so the proofs, the items and the head agree even while others write.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, select

from chatcustody import ledger
from chatcustody.audit import AuditQuery, query_audit
from chatcustody.crypto import FieldCipher
from chatcustody.errors import IntegrityError, NotFoundError, UsageError
from chatcustody.ingest._keys import message_key
from chatcustody.rows import KIND_TABLE, open_row
from chatcustody.store import schema as t
from chatcustody.vault import Vault

_CHUNK: Final[int] = 500


@dataclass
class Opened:
    """A decrypted ledgered row: its leaf position, fields and per-row seed."""

    kind: str
    ref: int
    leaf_index: int
    fields: dict[str, Any]
    seed: bytes
    row: Mapping[Any, Any]
    leaf_hash: bytes
    target: int | None = None  # an amendment's record id


@dataclass
class Collected:
    """Everything read from the vault for one package."""

    head: ledger.TreeHead
    records: list[Opened]
    amendments: list[Opened]
    sources: list[Opened]
    heads_used: list[ledger.TreeHead]
    proofs: dict[tuple[str, int], list[bytes]]
    consistency: dict[int, list[bytes]]
    audit: list[dict[str, Any]] = field(default_factory=list)


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def _open(
    kind: str, row: Mapping[Any, Any], cipher: FieldCipher, target: int | None = None
) -> Opened:
    """Decrypt one ledgered row of ``kind`` (record, amendment, source) into an item."""
    opened = open_row(KIND_TABLE[kind], row, cipher)
    return Opened(
        kind,
        int(row["id"]),
        int(row["leaf_idx"]),
        opened.fields,
        opened.seed,
        row,
        opened.leaf_hash,
        target,
    )


def _records(vault: Vault, conn: Connection, ids: Sequence[int]) -> list[Opened]:
    out: list[Opened] = []
    for part in _chunks(sorted(set(ids))):
        rows = conn.execute(select(t.records).where(t.records.c.id.in_(part))).mappings().all()
        for row in rows:
            cipher = vault.conversation_cipher(conn, int(row["conversation_id"]))
            out.append(_open("record", row, cipher))
    found = {o.ref for o in out}
    missing = sorted(set(ids) - found)
    if missing:
        shown = ", ".join(map(str, missing[:10]))
        raise NotFoundError(
            f"records not in the vault: {shown}" + (" …" if len(missing) > 10 else "")
        )
    out.sort(key=lambda o: (int(o.row["ts_ms"]), o.ref))
    return out


def _amendments(vault: Vault, conn: Connection, records: Sequence[Opened]) -> list[Opened]:
    """Return the edits, deletions and variants of the records (by their message key)."""
    targets: dict[bytes, int] = {}
    for r in records:
        mid = r.fields.get("message_id")
        if mid:
            key = message_key(
                vault.blinder, str(r.fields["platform"]), str(r.fields["conversation_id"]), mid
            )
            targets[key] = r.ref
    out: list[Opened] = []
    for part in _chunks(list(targets)):
        rows = conn.execute(
            select(t.amendments).where(t.amendments.c.target_key.in_(part))
        ).mappings()
        for row in rows:
            cipher = vault.conversation_cipher(conn, int(row["conversation_id"]))
            target = targets[bytes(row["target_key"])]
            out.append(_open("amendment", row, cipher, target))
    out.sort(key=lambda o: o.ref)
    return out


def _sources(vault: Vault, conn: Connection, ids: set[int]) -> list[Opened]:
    cipher = vault.service_cipher("sources")
    out: list[Opened] = []
    for part in _chunks(sorted(ids)):
        for row in conn.execute(select(t.sources).where(t.sources.c.id.in_(part))).mappings():
            out.append(_open("source", row, cipher))
    out.sort(key=lambda o: o.ref)
    return out


def collect(vault: Vault, record_ids: Sequence[int], request_id: str | None) -> Collected:
    """Read the scoped items, their originals, proofs and custody events at the newest head."""
    if not record_ids:
        raise UsageError("a package needs at least one record")
    with vault.engine.connect() as conn:
        heads = ledger.load_heads(conn, vault.vault_id)
        if not heads:
            raise UsageError("the ledger has no signed tree head yet")
        head = heads[-1]
        head.check_signature(vault.public_key)
        records = _records(vault, conn, record_ids)
        amendments = _amendments(vault, conn, records)
        source_ids = {int(o.row["source_id"]) for o in (*records, *amendments)}
        sources = _sources(vault, conn, source_ids)
        hashes = ledger.leaf_hashes(conn, head.size)
    if len(hashes) != head.size:
        raise IntegrityError(f"the ledger has {len(hashes)} leaves below head {head.size}")
    tree = ledger.MerkleTree(hashes)
    if tree.root() != head.root:
        raise IntegrityError(f"the ledger's leaves do not match signed head {head.size}")
    sizes = [h.size for h in heads]
    used: dict[int, ledger.TreeHead] = {}
    proofs: dict[tuple[str, int], list[bytes]] = {}
    for item in (*records, *amendments, *sources):
        if item.leaf_index >= head.size:
            raise IntegrityError(f"{item.kind} {item.ref}: leaf {item.leaf_index} has no head")
        if hashes[item.leaf_index] != item.leaf_hash:
            # Changed since it was ledgered: its proof could never verify.
            raise IntegrityError(
                f"{item.kind} {item.ref}: content does not match its ledger leaf {item.leaf_index}"
            )
        proofs[(item.kind, item.ref)] = tree.inclusion_proof(item.leaf_index, head.size)
        # The first head that covered the item: when the ledger first committed to it.
        first = heads[bisect.bisect_right(sizes, item.leaf_index)]
        if first.size != head.size:
            used[first.size] = first
    consistency = {size: tree.consistency_proof(size, head.size) for size in used}
    audit = _custody_audit(vault, {s.ref for s in sources}, request_id)
    return Collected(
        head,
        records,
        amendments,
        sources,
        [used[s] for s in sorted(used)],
        proofs,
        consistency,
        audit,
    )


# Read actions whose audit events, when made under the request, are its retrievals.
_READ_ACTIONS: Final[tuple[str, ...]] = ("record", "conversation", "search", "timeline")


def _custody_audit(
    vault: Vault, source_ids: set[int], request_id: str | None
) -> list[dict[str, Any]]:
    """Return the audit events in the custody of these originals (acquired, verified, read).

    Filtered on the clear ``action`` column first, so only those events are decrypted.
    """
    out: list[dict[str, Any]] = []
    for event in query_audit(vault, AuditQuery(action="source.acquire")):
        if event.details.get("source_id") in source_ids:
            out.append({"event": "acquired", **event.to_json()})
    for event in query_audit(vault, AuditQuery(action="verify.run")):
        out.append({"event": "verified", **event.to_json()})
    if request_id is not None:
        for action in _READ_ACTIONS:
            for event in query_audit(vault, AuditQuery(action=action)):
                details = event.details
                under = (str(details.get("request", "")), str(details.get("request_id", "")))
                if str(request_id) in under:
                    out.append({"event": "retrieved", **event.to_json()})
    out.sort(key=lambda e: (int(e["ts_ms"]), int(e["id"])))
    return out
