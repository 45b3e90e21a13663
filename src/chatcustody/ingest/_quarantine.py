"""Quarantine: with ``--skip-bad``, unreadable input records are set aside, not dropped.

Each entry keeps the source, the line, the reason and the record's raw text (sealed with the
sources key); the original file itself is always kept byte-identical as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from chatcustody._env import now_ms
from chatcustody.importers import Rejected
from chatcustody.model import canonical_json
from chatcustody.rows import quarantine_aad
from chatcustody.store import schema as t
from chatcustody.vault import Vault, next_id


def quarantine_rows(
    vault: Vault, conn: Connection, source_id: int, rejected: Sequence[Rejected]
) -> int:
    """Store rejected input records of one source; return how many."""
    if not rejected:
        return 0
    cipher = vault.service_cipher("sources")
    first = next_id(conn, t.quarantine)
    created = now_ms()
    rows = []
    for i, r in enumerate(rejected):
        row: dict[str, Any] = {
            "id": first + i,
            "source_id": source_id,
            "line": r.line,
            "created_ms": created,
        }
        body = {"reason": r.reason, "record": r.record, "raw": r.raw}
        row["payload"] = cipher.seal(canonical_json(body).encode("utf-8"), quarantine_aad(row))
        rows.append(row)
    conn.execute(insert(t.quarantine), rows)
    return len(rows)


@dataclass(frozen=True)
class QuarantineEntry:
    """One quarantined input record."""

    id: int
    source_id: int
    line: int | None
    reason: str
    record: str | None
    raw: str

    def to_json(self, with_raw: bool = False) -> dict[str, Any]:
        """Return the JSON form (raw text only when asked)."""
        out: dict[str, Any] = {
            "id": self.id,
            "source_id": self.source_id,
            "line": self.line,
            "record": self.record,
            "reason": self.reason,
        }
        if with_raw:
            out["raw"] = self.raw
        return out


def list_quarantine(vault: Vault, source_id: int | None = None) -> Iterator[QuarantineEntry]:
    """Yield quarantined records, oldest first."""
    cipher = vault.service_cipher("sources")
    query = select(t.quarantine).order_by(t.quarantine.c.id)
    if source_id is not None:
        query = query.where(t.quarantine.c.source_id == source_id)
    with vault.engine.connect() as conn:
        for row in conn.execute(query).mappings():
            what = f"quarantine entry {row['id']}"
            body = json.loads(cipher.open(bytes(row["payload"]), quarantine_aad(row), what))
            yield QuarantineEntry(
                int(row["id"]),
                int(row["source_id"]),
                row["line"],
                body["reason"],
                body["record"],
                body["raw"],
            )
