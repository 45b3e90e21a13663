"""The audit trail: every operation appends a sealed, ledgered audit event.

Actions are dotted names (``vault.init``, ``source.acquire``, ``import.finish``,
``keys.rotate``, ``verify.run``); details are sealed with the audit key because they can
name files and queries. Actor, action and time stay clear so auditors can filter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from chatcustody._env import now_ms, os_user
from chatcustody.ledger import LedgerWriter
from chatcustody.rows import open_row, seal_row
from chatcustody.store import schema as t
from chatcustody.vault import Vault, next_id


def system_actor() -> str:
    """Return the actor name for local operations without a vault user: ``os:<user>``."""
    return f"os:{os_user()}"


def append_audit(
    vault: Vault,
    conn: Connection,
    writer: LedgerWriter,
    action: str,
    details: dict[str, Any],
    actor: str | None = None,
) -> int:
    """Append one audit event inside the caller's transaction; return its id."""
    ts = now_ms()
    who = actor or system_actor()
    row: dict[str, Any] = {
        "id": next_id(conn, t.audit),
        "ts_ms": ts,
        "actor": who,
        "action": action,
    }
    fields = {"ts_ms": ts, "actor": who, "action": action, "details": details}
    conn.execute(
        insert(t.audit), [seal_row("audit", row, fields, vault.service_cipher("audit"), writer)]
    )
    return int(row["id"])


def record_audit(
    vault: Vault, action: str, details: dict[str, Any], actor: str | None = None
) -> int:
    """Append one audit event in its own transaction and sign the new head."""
    with vault.begin() as conn:
        writer = vault.ledger_writer(conn)
        event_id = append_audit(vault, conn, writer, action, details, actor)
        writer.commit_head(now_ms())
    return event_id


@dataclass(frozen=True)
class AuditEvent:
    """One decrypted audit event."""

    id: int
    ts_ms: int
    actor: str
    action: str
    details: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """Return the event as JSON."""
        return {
            "id": self.id,
            "ts_ms": self.ts_ms,
            "actor": self.actor,
            "action": self.action,
            "details": self.details,
        }


def read_audit(vault: Vault, action_prefix: str | None = None) -> Iterator[AuditEvent]:
    """Yield decrypted audit events in order, optionally only actions under a prefix."""
    cipher = vault.service_cipher("audit")
    with vault.engine.connect() as conn:
        for row in conn.execute(select(t.audit).order_by(t.audit.c.id)).mappings():
            if action_prefix and not row["action"].startswith(action_prefix):
                continue
            opened = open_row("audit", row, cipher)
            details = opened.fields.get("details", {})
            yield AuditEvent(
                int(row["id"]), int(row["ts_ms"]), row["actor"], row["action"], dict(details)
            )


def dumps(event: AuditEvent) -> str:
    """Return one JSON line for an audit event."""
    return json.dumps(event.to_json(), ensure_ascii=False)
