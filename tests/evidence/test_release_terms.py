"""Release terms: legal fixes the recipient and redactions; every export applies exactly them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update

from chatcustody import requests as rq
from chatcustody.audit import read_audit
from chatcustody.errors import AccessDeniedError, UsageError
from chatcustody.evidence import Redaction, export_request, verify_package
from chatcustody.ingest import import_file
from chatcustody.requests import Output
from chatcustody.requests import _store as store
from chatcustody.store import schema as t
from chatcustody.vault import Vault
from tests.conftest import message, write_jsonl
from tests.people import NOW, World, actor, otp
from tests.requests.conftest import form
from tests.requests.conftest import world as world  # noqa: F401 (the fixture)

PHONE = "13812345678"
COURT = "上海某法院"


def _in_review(
    vault: Vault, world: World, tmp_path: Path, step: int = 0, **overrides: object
) -> int:
    """Return a request (its scope holding a message with a phone number) under legal review."""
    if not (tmp_path / "phone.jsonl").exists():
        _import_phone(vault, tmp_path)
    agent = actor(vault, "agent")
    rid = rq.create_request(vault, agent, form(**overrides)).id
    rq.submit(vault, agent, rid)
    at = NOW + step * 30_000  # a fresh TOTP step: codes are not replayed
    rq.approve(vault, actor(vault, "team_lead", at), rid, otp(world.users["team_lead"], at))
    rq.request_export(vault, agent, rid, "移交法院")
    rq.review(vault, actor(vault, "legal", NOW + 60_000), rid)
    return rid


def _import_phone(vault: Vault, tmp_path: Path) -> None:
    phone_msg = message(
        conversation_id="conv-guard",
        conversation_name="inside 会话",
        message_id="inside-phone",
        timestamp="2026-03-01T10:00:00+08:00",
        text=f"第三人电话 {PHONE}",
    )
    assert import_file(vault, write_jsonl(tmp_path / "phone.jsonl", [phone_msg])).error is None


def _release(vault: Vault, world: World, rid: int, *rules: str) -> rq.RetrievalRequest:
    at = NOW + 60_000
    return rq.release(
        vault, actor(vault, "legal", at), rid, otp(world.users["legal"], at), COURT, rules
    )


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_requester_export_applies_the_released_redactions(
    vault: Vault, world: World, tmp_path: Path
) -> None:
    """The requester exporting without rules gets legal's redactions and legal's recipient."""
    rid = _in_review(vault, world, tmp_path)
    released = _release(vault, world, rid, "pii:phone:非当事人")
    assert released.terms == rq.ReleaseTerms(COURT, ("pii:phone:非当事人",))
    agent = actor(vault, "agent", NOW + 120_000)
    result = export_request(vault, agent, rid, tmp_path / "pkg")
    assert verify_package(result.path).ok
    assert result.withheld_fields >= 1
    data = _all_bytes(tmp_path / "pkg")
    assert PHONE.encode() not in data
    manifest = json.loads((tmp_path / "pkg" / "manifest.json").read_text("utf-8"))
    assert manifest["recipient"] == COURT
    assert COURT in (tmp_path / "pkg" / "transcript.html").read_text("utf-8")


def test_an_export_differing_from_the_terms_is_refused(
    vault: Vault, world: World, tmp_path: Path
) -> None:
    """Other rules (even none) or another recipient are refused before anything is written."""
    rid = _in_review(vault, world, tmp_path)
    _release(vault, world, rid, "pii:phone:非当事人")
    agent = actor(vault, "agent", NOW + 120_000)
    with pytest.raises(UsageError, match="redaction rule"):
        export_request(vault, agent, rid, tmp_path / "a", redactions=[])
    with pytest.raises(UsageError, match=f"released for recipient '{COURT}'"):
        export_request(vault, agent, rid, tmp_path / "b", "我的朋友")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    same = [Redaction("pii", "phone", "非当事人")]
    result = export_request(vault, agent, rid, tmp_path / "c", COURT, same)
    assert verify_package(result.path).ok and PHONE.encode() not in _all_bytes(tmp_path / "c")


def test_release_refuses_a_bad_rule_naming_it(vault: Vault, world: World, tmp_path: Path) -> None:
    """A bad rule, or redacting a request with originals, is refused at release, still in review."""
    rid = _in_review(vault, world, tmp_path)
    with pytest.raises(UsageError, match="'pii:fax:非当事人'"):
        _release(vault, world, rid, "pii:fax:非当事人")
    with pytest.raises(UsageError, match="KIND:VALUE:REASON"):
        _release(vault, world, rid, "phone")
    assert rq.get_request(vault, actor(vault, "legal"), rid).status is rq.Status.LEGAL_REVIEW
    with_originals = _in_review(
        vault,
        world,
        tmp_path,
        step=4,
        case_ref="另案",
        outputs=frozenset({Output.VIEW_ONLY, Output.PACKAGE, Output.ORIGINALS}),
    )
    with pytest.raises(UsageError, match="originals"):
        _release(vault, world, with_originals, "pii:phone:非当事人")
    # the refused attempts used no TOTP code: the release still goes through with the same one
    assert _release(vault, world, rid, "value:张三:非当事人").status is rq.Status.RELEASED


def test_release_audit_names_recipient_and_rule_count_not_literals(
    vault: Vault, world: World, tmp_path: Path
) -> None:
    """The release event records the recipient and the number of rules, no value literal."""
    rid = _in_review(vault, world, tmp_path)
    _release(vault, world, rid, "value:张三:非当事人", "pii:phone:非当事人")
    event = [e for e in read_audit(vault, "request.release") if e.details["request"] == rid][-1]
    assert event.details["recipient"] == COURT and event.details["redactions"] == 2
    assert "张三" not in json.dumps(event.details, ensure_ascii=False)
    step = rq.get_request(vault, actor(vault, "legal"), rid).history[-1]
    assert step.transition == "release" and step.reason is not None
    assert COURT in step.reason and "张三" not in step.reason


def test_a_request_released_without_terms_loads_and_only_legal_exports_it(
    vault: Vault, world: World, tmp_path: Path
) -> None:
    """A request released before terms existed loads; legal exports it naming the recipient."""
    rid = _in_review(vault, world, tmp_path)
    _release(vault, world, rid)
    with vault.begin() as conn:  # re-seal the body as an older version wrote it: no terms
        row = store.request_row(vault, conn, rid)
        form_, frozen = store.open_body(vault, row)
        store.seal_body(vault, row, form_, frozen)
        conn.execute(
            update(t.requests)
            .where(t.requests.c.id == rid)
            .values(body_enc=row["body_enc"], mac=row["mac"])
        )
    legal = actor(vault, "legal", NOW + 120_000)
    assert rq.get_request(vault, legal, rid).terms is None
    with pytest.raises(AccessDeniedError, match="without release terms"):
        export_request(vault, actor(vault, "agent", NOW + 120_000), rid, tmp_path / "a")
    with pytest.raises(UsageError, match="name the recipient"):
        export_request(vault, legal, rid, tmp_path / "b")
    result = export_request(vault, legal, rid, tmp_path / "c", COURT)
    assert verify_package(result.path).ok
