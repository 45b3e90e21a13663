"""Audit trail queries and exports; events younger than six calendar months can't be deleted."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy.exc
from sqlalchemy import delete, select

from chatcustody.access import Role, Tier
from chatcustody.audit import (
    AuditQuery,
    audit_trail,
    export_audit,
    query_audit,
    record_audit,
    retained_until_ms,
)
from chatcustody.errors import AccessDeniedError
from chatcustody.store import schema as t
from chatcustody.vault import Vault
from tests.people import NOW, actor, make_user


def test_query_by_time_actor_and_action(vault: Vault) -> None:
    """Filters on time, actor and action (with dotted prefixes) select exactly their events."""
    ids = [
        record_audit(vault, "auth.login", {"n": 1}, "alice"),
        record_audit(vault, "auth.login.failed", {"n": 2}, "bob"),
        record_audit(vault, "authority.other", {"n": 3}, "alice"),
        record_audit(vault, "search.run", {"query": "巡逻"}, "alice"),
    ]
    events = list(query_audit(vault, AuditQuery()))
    by_id = {e.id: e for e in events}
    assert [e.id for e in query_audit(vault, AuditQuery(action="auth"))] == ids[:2]
    assert [e.id for e in query_audit(vault, AuditQuery(actor="alice"))] == [ids[0], *ids[2:]]
    assert [e.details for e in query_audit(vault, AuditQuery(action="search.run"))] == [
        {"query": "巡逻"}
    ]
    t2 = by_id[ids[1]].ts_ms
    after = [e.id for e in query_audit(vault, AuditQuery(after_ms=t2))]
    assert ids[1] in after and ids[0] not in after or by_id[ids[0]].ts_ms == t2
    assert [e.id for e in query_audit(vault, AuditQuery(after_id=ids[2], limit=5))] == [ids[3]]


def test_exports_are_csv_and_json_lines(vault: Vault) -> None:
    """CSV and JSON lines carry every event with its details, readable by standard tools."""
    record_audit(vault, "search.run", {"query": '订单, "8842"'}, "alice")
    events = list(query_audit(vault, AuditQuery(action="search")))
    out = io.StringIO()
    assert export_audit(events, "jsonl", out) == 1
    assert json.loads(out.getvalue())["details"]["query"] == '订单, "8842"'
    out = io.StringIO()
    export_audit(events, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["actor"] == "alice" and json.loads(rows[0]["details"])["query"] == '订单, "8842"'


def test_only_auditors_read_the_trail_and_reading_is_audited(vault: Vault) -> None:
    """Auditors query the trail (their query is itself an event); others are refused."""
    make_user(vault, "aud", None, [Tier.AUDITOR])
    make_user(vault, "legal", Role.LEGAL)
    events = audit_trail(vault, actor(vault, "aud"), AuditQuery(action="user"))
    assert [e.action for e in events] == ["user.create", "user.create"]
    last = list(query_audit(vault, AuditQuery(actor="aud")))[-1]
    assert last.action == "audit.read" and last.details["count"] == 2
    with pytest.raises(AccessDeniedError):
        audit_trail(vault, actor(vault, "legal"), AuditQuery())


def test_recent_audit_events_cannot_be_deleted(vault: Vault) -> None:
    """The database refuses deleting audit rows younger than six calendar months."""
    record_audit(vault, "auth.login", {}, "alice")
    with pytest.raises(sqlalchemy.exc.DatabaseError), vault.begin() as conn:
        conn.execute(delete(t.audit))
    with vault.engine.connect() as conn:
        assert conn.execute(select(t.audit.c.id)).first() is not None
    kept = retained_until_ms(NOW, "Asia/Shanghai") - NOW
    assert 181 * 86_400_000 <= kept <= 184 * 86_400_000


def test_concurrent_events_share_commits_and_all_land(vault: Vault) -> None:
    """Audit events from many threads are each committed once, in the ledger, verifiable."""
    from concurrent.futures import ThreadPoolExecutor

    from chatcustody.verify import verify_vault

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(
            pool.map(lambda i: record_audit(vault, "search.run", {"i": i}, "bot"), range(64))
        )
    assert len(set(ids)) == 64
    stored = {e.details["i"]: e.id for e in query_audit(vault, AuditQuery(actor="bot"))}
    assert sorted(stored) == list(range(64)) and set(stored.values()) == set(ids)
    assert verify_vault(vault).ok
