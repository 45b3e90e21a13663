"""The audit trail: every operation appends a sealed, ledgered audit event.

Actions are dotted names (``vault.init``, ``source.acquire``, ``import.finish``,
``keys.rotate``, ``verify.run``, ``auth.login``, ``search``, ``access.denied``); details are
sealed with the audit key because they can name files and queries. Actor, action and time
stay clear so auditors can filter by them in SQL (``query_audit``) and export the result
as CSV or JSON lines (``export_audit``).

Retention: events are kept at least ``RETENTION_MONTHS`` calendar months. Nothing in the
library deletes them; a database trigger (migration 0004) refuses deleting younger rows,
and every event is a ledger leaf, so a deleted row is reported by ``verify``.
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TextIO

from sqlalchemy import Connection, func, insert, or_, select

from chatcustody._env import now_ms, os_user
from chatcustody.ledger import LedgerWriter
from chatcustody.model import iso
from chatcustody.rows import open_row, seal_row
from chatcustody.store import schema as t
from chatcustody.vault import Vault, next_id

RETENTION_MONTHS: Final[int] = 6
EXPORT_FORMATS: Final[tuple[str, ...]] = ("jsonl", "csv")
_FETCH_ROWS: Final[int] = 1000
_MAX_BATCH: Final[int] = 200  # audit events per group commit


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
    """Append one audit event in its own transaction and sign the new head.

    Concurrent callers share transactions (group commit): each call still returns only
    once its event is committed, but one commit and one signed head serve many events.
    """
    batcher = getattr(vault, "_audit_batcher", None)
    if batcher is None:
        batcher = _GroupCommit()
        setattr(vault, "_audit_batcher", batcher)  # noqa: B010 (Vault is not ours to extend)
    return batcher.submit(vault, _Pending(action, details, actor))


@dataclass
class _Pending:
    action: str
    details: dict[str, Any]
    actor: str | None
    event_id: int | None = None
    error: BaseException | None = None


class _GroupCommit:
    """Commit audit events of concurrent threads together; the first waiter writes.

    A batch that fails is retried one event at a time, so one bad event fails only its
    own caller.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: list[_Pending] = []
        self._writing = False

    def submit(self, vault: Vault, item: _Pending) -> int:
        with self._cond:
            self._pending.append(item)
            while item.event_id is None and item.error is None:
                if self._writing:
                    self._cond.wait()
                    continue
                self._writing = True
                batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
                self._cond.release()
                try:
                    _write_batch(vault, batch)
                finally:
                    self._cond.acquire()
                    self._writing = False
                    self._cond.notify_all()
        if item.error is not None:
            raise item.error
        assert item.event_id is not None
        return item.event_id


def _write_batch(vault: Vault, batch: list[_Pending]) -> None:
    try:
        _commit(vault, batch)
    except Exception as exc:
        if len(batch) == 1:
            batch[0].error = exc
            return
        for item in batch:
            try:
                _commit(vault, [item])
            except Exception as one:  # handed to that item's own caller
                item.error = one


def _commit(vault: Vault, batch: list[_Pending]) -> None:
    with vault.begin() as conn:
        writer = vault.ledger_writer(conn)
        ids = [
            append_audit(vault, conn, writer, item.action, item.details, item.actor)
            for item in batch
        ]
        writer.commit_head(now_ms())
    for item, event_id in zip(batch, ids, strict=True):
        item.event_id = event_id


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


@dataclass(frozen=True)
class AuditQuery:
    """Filters on the clear columns: time [after, before), exact actor, action or prefix.

    ``action`` matches the action itself and every action below it (``auth`` matches
    ``auth.login`` and ``auth.login.failed``). ``after_id`` pages on from a previous page.
    """

    after_ms: int | None = None
    before_ms: int | None = None
    actor: str | None = None
    action: str | None = None
    after_id: int | None = None
    limit: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the filters that are set."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


def query_audit(vault: Vault, query: AuditQuery) -> Iterator[AuditEvent]:
    """Yield decrypted audit events matching ``query``, oldest first (no access check)."""
    c = t.audit.c
    stmt = select(t.audit).order_by(c.id)
    if query.after_ms is not None:
        stmt = stmt.where(c.ts_ms >= query.after_ms)
    if query.before_ms is not None:
        stmt = stmt.where(c.ts_ms < query.before_ms)
    if query.actor is not None:
        stmt = stmt.where(c.actor == query.actor)
    if query.action:
        prefix = query.action.rstrip(".")
        stmt = stmt.where(
            or_(c.action == prefix, func.substr(c.action, 1, len(prefix) + 1) == prefix + ".")
        )
    if query.after_id is not None:
        stmt = stmt.where(c.id > query.after_id)
    if query.limit is not None:
        stmt = stmt.limit(query.limit)
    cipher = vault.service_cipher("audit")
    with vault.engine.connect() as conn:
        result = conn.execution_options(yield_per=_FETCH_ROWS).execute(stmt).mappings()
        for row in result:
            opened = open_row("audit", row, cipher)
            yield AuditEvent(
                int(row["id"]),
                int(row["ts_ms"]),
                row["actor"],
                row["action"],
                dict(opened.fields.get("details", {})),
            )


def export_audit(events: Iterable[AuditEvent], fmt: str, out: TextIO) -> int:
    """Write events as JSON lines or CSV (id, ts_ms, time_utc, actor, action, details)."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown audit export format {fmt!r}")
    count = 0
    if fmt == "jsonl":
        for event in events:
            out.write(dumps(event) + "\n")
            count += 1
        return count
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "ts_ms", "time_utc", "actor", "action", "details"])
    for event in events:
        writer.writerow(
            [
                event.id,
                event.ts_ms,
                iso(event.ts_ms, 0),
                event.actor,
                event.action,
                json.dumps(event.details, ensure_ascii=False, sort_keys=True),
            ]
        )
        count += 1
    return count


def retained_until_ms(ts_ms: int, tz: str) -> int:
    """Return the earliest instant an event written at ``ts_ms`` may ever be removed."""
    from chatcustody.access import shift_months  # access builds on audit: import lazily

    return shift_months(ts_ms, tz, RETENTION_MONTHS)


def audit_trail(vault: Vault, actor: Any, query: AuditQuery) -> list[AuditEvent]:
    """Return the events an auditor asked for; the read itself is audited with its filters."""
    from chatcustody.access import Action, Resource, decision_details, enforce  # see above

    decision = enforce(vault, actor, Action.READ_AUDIT, Resource("audit"), filters=query.to_json())
    events = list(query_audit(vault, query))
    record_audit(
        vault,
        "audit.read",
        decision_details(actor, decision, filters=query.to_json(), count=len(events)),
        actor.name,
    )
    return events
