"""Crypto-shredding: two admins destroy a conversation's key; the ledger still verifies."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, text, update

from chatcustody.access import Action, Role, Tier
from chatcustody.audit import AuditQuery, query_audit
from chatcustody.dualcontrol import PendingAction, confirm_action, request_action
from chatcustody.errors import AccessDeniedError, ConflictError, ShreddedError
from chatcustody.holds import place_hold
from chatcustody.keys import rotate
from chatcustody.reading import (
    SHREDDED_TITLE,
    conversation_messages,
    get_message,
    list_conversations,
    search_records,
)
from chatcustody.search import reindex, search
from chatcustody.search._index import hasher_for
from chatcustody.search._tokens import conversation_marker
from chatcustody.store import schema as t
from chatcustody.timeline import timeline
from chatcustody.vault import Vault
from chatcustody.verify import verify_vault
from tests.people import NOW, ZONE, World, actor, build_world, make_user, otp


@pytest.fixture
def world(vault: Vault, tmp_path: Path) -> World:
    """Return the seeded world plus a second admin."""
    w = build_world(vault, tmp_path)
    w.users["admin2"] = make_user(vault, "admin2", None, [Tier.ADMIN])
    return w


def _wrapped_key(vault: Vault, conversation_id: int) -> bytes:
    with vault.engine.connect() as conn:
        return bytes(
            conn.execute(
                select(t.conversations.c.dek_sealed).where(t.conversations.c.id == conversation_id)
            ).scalar_one()
        )


def _shred(vault: Vault, world: World, conversation_id: int, at: int = NOW) -> PendingAction:
    params = {"conversation": conversation_id, "reason": "员工离职数据到期 / retention over"}
    pending = request_action(vault, actor(vault, "admin"), Action.CRYPTO_SHRED, params)
    code = otp(world.users["admin2"], at)
    return confirm_action(vault, actor(vault, "admin2"), pending.id, code, at_ms=at)


def _forge_shred(vault: Vault, conversation_id: int) -> None:
    """Do with database access alone what a shred does to the rows (no ledger, no approval)."""
    with vault.begin() as conn:
        conn.execute(
            update(t.conversations)
            .where(t.conversations.c.id == conversation_id)
            .values(dek_sealed=b"", name_enc=b"")
        )
        conn.execute(
            insert(t.shredded_conversations).values(
                conversation_id=conversation_id,
                shredded_ms=NOW,
                requested_by="admin",
                confirmed_by="admin2",
                approval=None,
                records=3,
            )
        )
        conn.execute(  # the content the forgery hides from verify
            update(t.records)
            .where(t.records.c.conversation_id == conversation_id)
            .values(payload=b"\x00")
        )
    vault.forget_ciphers()


def _failures(vault: Vault) -> list[str]:
    report = verify_vault(vault)
    assert not report.ok
    return report.failures


def _pg_relation_file(vault: Vault, table: str) -> Path:
    """Return the table's file, after a checkpoint wrote every dirty page to it."""
    with vault.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))
        data = conn.execute(text("SHOW data_directory")).scalar_one()
        rel = conn.execute(text("SELECT pg_relation_filepath(:t)"), {"t": table}).scalar_one()
    return Path(data) / rel


def _older_open_transactions(vault: Vault) -> int:
    with vault.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                    "AND datname <> current_database() "
                    "AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)"
                )
            ).scalar_one()
        )


def test_shred_needs_two_admins(vault: Vault, world: World) -> None:
    """The requesting admin cannot confirm; legal cannot request or confirm a shred."""
    conv = world.conversations["outside"]
    params = {"conversation": conv, "reason": "retention over"}
    with pytest.raises(AccessDeniedError):
        request_action(vault, actor(vault, "legal"), Action.CRYPTO_SHRED, params)
    pending = request_action(vault, actor(vault, "admin"), Action.CRYPTO_SHRED, params)
    with pytest.raises(AccessDeniedError, match="second person"):
        code = otp(world.users["admin"], NOW)
        confirm_action(vault, actor(vault, "admin"), pending.id, code, at_ms=NOW)
    with pytest.raises(AccessDeniedError):
        code = otp(world.users["legal"], NOW)
        confirm_action(vault, actor(vault, "legal"), pending.id, code, at_ms=NOW)
    assert _wrapped_key(vault, conv)  # nothing happened yet
    done = confirm_action(
        vault, actor(vault, "admin2"), pending.id, otp(world.users["admin2"], NOW), at_ms=NOW
    )
    assert done.status == "executed" and done.result is not None
    assert done.result["records"] == 3 and done.result["unindexed"] == 3
    with pytest.raises(ConflictError, match="already crypto-shredded"):
        request_action(vault, actor(vault, "admin"), Action.CRYPTO_SHRED, params)
    with pytest.raises(ConflictError, match="nothing is left to hold"):
        place_hold(vault, actor(vault, "legal"), conv, "too late", "case")


def test_after_shred_reads_fail_clearly_and_verify_passes(vault: Vault, world: World) -> None:
    """Reads name the shredded conversation; search, timeline, verify, reindex, rotate go on."""
    gone, kept = world.conversations["outside"], world.conversations["inside"]
    legal = actor(vault, "legal")
    assert search(vault, "outside", audit=False).total == 3
    _shred(vault, world, gone)
    record = world.records[("outside", "week")]
    with pytest.raises(ShreddedError, match=f"conversation {gone} was crypto-shredded"):
        get_message(vault, legal, record)
    with pytest.raises(ShreddedError, match=f"conversation {gone}"):
        conversation_messages(vault, legal, gone)
    titles = {c["id"]: c["title"] for c in list_conversations(vault, legal)}
    assert titles[gone] == SHREDDED_TITLE and titles[kept] == "inside 会话"
    assert search(vault, "outside", audit=False).total == 0
    hits = search(vault, "巡逻记录", audit=False).hits
    assert sorted(h.id for h in hits) == sorted(
        world.records[("inside", w)] for w in ("week", "month", "old")
    )
    assert search(vault, "type:text", audit=False).total == 3  # filter-only: records scanned
    assert search_records(vault, legal, "巡逻")["total"] == 3
    after = datetime(2026, 2, 1, tzinfo=ZONE).isoformat()
    before = datetime(2026, 4, 1, tzinfo=ZONE).isoformat()
    entries = timeline(vault, after, before, audit=False).entries
    assert {e.conversation for e in entries} == {kept} and len(entries) == 3
    report = verify_vault(vault)
    assert report.ok, report.failures
    assert report.checked["shredded"] == 3 and report.checked["records"] == 6
    assert not any("record" in w for w in report.warnings), report.warnings
    assert reindex(vault).records == 3
    rotate(vault)
    report = verify_vault(vault)
    assert report.ok, report.failures
    shred_events = list(query_audit(vault, AuditQuery(action="crypto.shred")))
    assert len(shred_events) == 1
    details = shred_events[0].details
    assert details["conversation"] == gone and details["reason"].startswith("员工离职")
    assert details["requested_by"] == "admin" and details["confirmed_by"] == "admin2"


def test_shredded_key_is_gone_from_every_vault_file(vault: Vault, world: World) -> None:
    """No vault file (database, WAL, blobs) holds the wrapped key or the records' tokens."""
    conv = world.conversations["outside"]
    wrapped = _wrapped_key(vault, conv)
    assert len(wrapped) >= 32
    # Every record of the conversation, and no other, carries its marker token in the index.
    marker = conversation_marker(hasher_for(vault), conv).encode()[2:]  # past FTS5 prefixes
    sqlite = vault.engine.dialect.name == "sqlite"
    tables = ("conversations", "search_fts")
    if sqlite:
        files = [p for p in vault.path.rglob("*") if p.is_file()]
        before = b"".join(p.read_bytes() for p in files)
        assert wrapped in before and marker in before  # the grep below can find them
    else:
        old_files = [_pg_relation_file(vault, name) for name in tables]
        assert marker in old_files[1].read_bytes()  # the server runs on this machine
    done = _shred(vault, world, conv)
    assert done.result is not None and _wrapped_key(vault, conv) == b""
    files = [p for p in vault.path.rglob("*") if p.is_file()]
    if sqlite:
        assert done.result["scrubbed"] is True
    else:  # VACUUM FULL wrote both tables anew: the live files hold no old tuple...
        new_files = [_pg_relation_file(vault, name) for name in tables]
        assert not set(new_files) & set(old_files)
        files += new_files
        if not done.result["scrubbed"]:
            # ...unless a transaction older than the shred was still open (on this shared
            # server, another database's): the shred says so instead of claiming success.
            assert _older_open_transactions(vault) > 0
            return
    for path in files:
        data = path.read_bytes()
        assert wrapped not in data, f"{path} still holds the wrapped key"
        assert marker not in data, f"{path} still holds the shredded records' tokens"


def test_forged_shred_fails_verify(vault: Vault, world: World) -> None:
    """Rows made to look shredded, without the ledgered approved crypto.shred, fail verify."""
    conv = world.conversations["outside"]
    assert verify_vault(vault).ok
    _forge_shred(vault, conv)
    failures = _failures(vault)
    assert any(
        f.startswith(f"conversation {conv}: shredded without a ledgered, approved crypto.shred")
        and "no crypto.shred event in the ledger names it" in f
        for f in failures
    ), failures
    # The forger left the index alone: the records' tokens are still there, and reported.
    assert any(
        f"crypto-shredded conversation {conv}: search_fts still holds records" in f
        for f in failures
    ), failures
    assert not any(f"conversation {world.conversations['inside']}:" in f for f in failures)


def test_genuine_shred_verifies_and_rows_must_agree_with_ledger(vault: Vault, world: World) -> None:
    """A real shred verifies; its row edited, copied to another conversation or deleted fails."""
    gone, kept = world.conversations["outside"], world.conversations["inside"]
    done = _shred(vault, world, gone)
    report = verify_vault(vault)
    assert report.ok, report.failures
    assert report.checked["shreds"] == 1 and report.checked["shredded"] == 3
    s = t.shredded_conversations.c
    with vault.begin() as conn:
        conn.execute(update(t.shredded_conversations).values(records=1))
    assert any(
        f.startswith(f"conversation {gone}: shredded without a ledgered")
        and "its row says records 1" in f
        for f in _failures(vault)
    )
    with vault.begin() as conn:  # the real row back; a copy of it claims the other one
        conn.execute(update(t.shredded_conversations).values(records=3))
    assert verify_vault(vault).ok
    _forge_shred(vault, kept)
    with vault.begin() as conn:  # reuse the real approval: still no ledgered shred of `kept`
        conn.execute(
            update(t.shredded_conversations)
            .where(s.conversation_id == kept)
            .values(approval=done.id)
        )
    failures = _failures(vault)
    assert any(f.startswith(f"conversation {kept}: shredded without a ledgered") for f in failures)
    assert not any(f.startswith(f"conversation {gone}:") for f in failures), failures
    with vault.begin() as conn:
        conn.execute(delete(t.shredded_conversations).where(s.conversation_id == gone))
    failures = _failures(vault)
    assert any(
        f.startswith(f"conversation {gone}: the ledger records its crypto.shred")
        and "shredded_conversations row is missing" in f
        for f in failures
    ), failures


def test_shred_under_a_ledgered_hold_fails_verify(vault: Vault, world: World) -> None:
    """A hold released by the ledger allows a shred; one released only in its row does not."""
    inside, outside = world.conversations["inside"], world.conversations["outside"]
    world.users["legal2"] = make_user(vault, "legal2", Role.LEGAL)
    released = place_hold(vault, actor(vault, "legal"), inside, "诉讼保全", "case-1")
    pending = request_action(
        vault, actor(vault, "legal"), Action.HOLD_RELEASE, {"hold": released.id}
    )
    code = otp(world.users["legal2"], NOW)
    assert confirm_action(vault, actor(vault, "legal2"), pending.id, code, at_ms=NOW).result
    _shred(vault, world, inside)
    assert verify_vault(vault).ok
    hidden = place_hold(vault, actor(vault, "legal"), outside, "诉讼保全", "case-2")
    with vault.begin() as conn:  # released in the table only: no hold.release in the ledger
        conn.execute(
            update(t.legal_holds)
            .where(t.legal_holds.c.id == hidden.id)
            .values(released_by="legal2", released_ms=NOW)
        )
    _shred(vault, world, outside, at=NOW + 30_000)
    failures = _failures(vault)
    assert any(
        f.startswith(f"conversation {outside}: shredded without a ledgered")
        and f"legal hold {hidden.id} was in force" in f
        for f in failures
    ), failures
    assert not any(f.startswith(f"conversation {inside}:") for f in failures), failures


def test_index_entries_left_for_shredded_records_fail_verify(vault: Vault, world: World) -> None:
    """An index entry put back for a shredded record (a token oracle) is reported."""
    conv = world.conversations["outside"]
    record = world.records[("outside", "week")]
    _shred(vault, world, conv)
    marker = conversation_marker(hasher_for(vault), conv)
    with vault.begin() as conn:
        if vault.engine.dialect.name == "sqlite":
            conn.execute(
                text("INSERT INTO search_fts (rowid, tokens) VALUES (:id, :m)"),
                {"id": record, "m": marker},
            )
        else:
            conn.execute(
                text("INSERT INTO search_fts (id, tsv) VALUES (:id, CAST(:m AS tsvector))"),
                {"id": record, "m": marker},
            )
    failures = _failures(vault)
    assert any(
        f"crypto-shredded conversation {conv}: search_fts still holds records {record}" in f
        for f in failures
    ), failures


def test_shredded_key_put_back_fails_verify(vault: Vault, world: World) -> None:
    """A wrapped key restored (from a copy) after its shred is reported: the shred was undone."""
    conv = world.conversations["outside"]
    wrapped = _wrapped_key(vault, conv)
    _shred(vault, world, conv)
    with vault.begin() as conn:
        conn.execute(
            update(t.conversations).where(t.conversations.c.id == conv).values(dek_sealed=wrapped)
        )
    vault.forget_ciphers()
    failures = _failures(vault)
    assert f"conversation {conv}: recorded as shredded, but its key is back" in failures
