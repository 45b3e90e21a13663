"""export_request: only a released, unexpired request becomes a package, and it is recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatcustody import requests as rq
from chatcustody.audit import read_audit
from chatcustody.errors import AccessDeniedError
from chatcustody.evidence import Redaction, export_request, verify_package
from chatcustody.reading import get_message
from chatcustody.requests import Output
from chatcustody.vault import Vault
from tests.people import NOW, World, actor, otp
from tests.requests.conftest import form
from tests.requests.conftest import world as world  # noqa: F401 (the fixture)

DAY = 86_400_000


def _released(
    vault: Vault,
    world: World,
    step: int = 0,
    recipient: str = "上海某法院",
    redactions: tuple[str, ...] = (),
    **overrides: object,
) -> int:
    """Return a request approved and released around NOW (+ ``step`` TOTP steps: no replay)."""
    agent = actor(vault, "agent")
    rid = rq.create_request(vault, agent, form(**overrides)).id
    rq.submit(vault, agent, rid)
    at = NOW + step * 30_000
    rq.approve(vault, actor(vault, "team_lead", at), rid, otp(world.users["team_lead"], at))
    first = rq.scoped_record_ids(vault, rq.get_request(vault, agent, rid))[0]
    get_message(vault, actor(vault, "agent", at + 30_000), first, request_id=rid)  # a retrieval
    rq.request_export(vault, agent, rid, "移交法院")
    legal = actor(vault, "legal", at + 60_000)
    rq.review(vault, legal, rid)
    rules = () if Output.ORIGINALS in rq.get_request(vault, legal, rid).outputs else redactions
    rq.release(vault, legal, rid, otp(world.users["legal"], at + 60_000), recipient, rules)
    return rid


def test_released_request_exports_a_verifying_package(
    vault: Vault, world: World, tmp_path: Path
) -> None:
    """The package holds exactly the frozen scope, its approvals, and the export is recorded."""
    rid = _released(
        vault, world, outputs=frozenset({Output.VIEW_ONLY, Output.PACKAGE, Output.ORIGINALS})
    )
    legal = actor(vault, "legal", NOW + 120_000)
    scoped = rq.scoped_record_ids(vault, rq.get_request(vault, legal, rid))
    result = export_request(vault, legal, rid, tmp_path / "pkg.zip")
    assert verify_package(result.path).ok
    assert result.records == len(scoped) and result.originals >= 1
    import zipfile

    with zipfile.ZipFile(result.path) as z:
        manifest = json.loads(z.read("manifest.json"))
        ids = sorted(json.loads(x)["id"] for x in z.read("messages.jsonl").splitlines())
        custody = [json.loads(x) for x in z.read("custody.jsonl").splitlines()]
    assert ids == sorted(scoped)
    steps = [a["action"] for a in manifest["request"]["approvals"]]
    assert steps == ["create", "submit", "approve", "request-export", "review", "release"]
    assert manifest["request"]["case"] == "（2026）沪0101民初1234号"
    retrieved = [c for c in custody if c["event"] == "retrieved"]
    assert [(c["actor"], c["summary"]) for c in retrieved] == [
        ("agent", f"record.view under request {rid}")
    ]
    history = rq.get_request(vault, legal, rid).history
    assert history[-1].transition == "export"
    actions = {e.action for e in read_audit(vault)}
    assert {"request.exported", "evidence.export"} <= actions


def test_export_is_refused_before_release_or_after_expiry(
    vault: Vault, world: World, tmp_path: Path
) -> None:
    """An unreleased or expired request, or a stranger, gets no package and no files."""
    agent = actor(vault, "agent")
    rid = rq.create_request(vault, agent, form()).id
    rq.submit(vault, agent, rid)
    rq.approve(vault, actor(vault, "team_lead"), rid, otp(world.users["team_lead"]))
    with pytest.raises(AccessDeniedError, match="only a released request"):
        export_request(vault, agent, rid, tmp_path / "a")
    released = _released(vault, world, step=4, case_ref="另案")
    stranger = actor(vault, "team_lead", NOW + 300_000)
    with pytest.raises(AccessDeniedError):
        export_request(vault, stranger, released, tmp_path / "b")
    late = actor(vault, "legal", NOW + 8 * DAY)
    with pytest.raises(AccessDeniedError, match="expired"):
        export_request(vault, late, released, tmp_path / "c")
    assert not any((tmp_path / n).exists() for n in "abc")
    refusals = [
        (e.details["request"], e.details["decision"]["reason"])
        for e in read_audit(vault, "access.denied")
        if e.details.get("action") == "record.export"
    ]  # every refusal audited with its request id and reason
    assert [r for r, _ in refusals] == [rid, released, released]
    assert "expired" in refusals[-1][1]


def test_originals_follow_the_request_and_redaction(
    vault: Vault, world: World, tmp_path: Path
) -> None:
    """Without the originals output none are copied; a redacted export verifies."""
    rid = _released(vault, world, redactions=("pii:phone:非当事人",))
    legal = actor(vault, "legal", NOW + 120_000)
    rules = [Redaction("pii", "phone", "非当事人")]
    result = export_request(vault, legal, rid, tmp_path / "pkg", "上海某法院", rules)
    assert result.originals == 0 and not (tmp_path / "pkg" / "originals").exists()
    assert verify_package(result.path).ok


def test_export_follows_the_token_scopes(vault: Vault, world: World, tmp_path: Path) -> None:
    """An "audit" token of the requester gets no package (refusal audited); "download" does."""
    from chatcustody.identity import create_token, resolve

    rid = _released(vault, world)
    at = NOW + 120_000
    audit_secret, _ = create_token(vault, "agent", ["audit"], 30, "admin")
    with pytest.raises(AccessDeniedError, match=r"scopes \(audit\) do not cover record.export"):
        export_request(vault, resolve(vault, audit_secret, "t", at_ms=at), rid, tmp_path / "a")
    assert not (tmp_path / "a").exists()
    denied = [e.details for e in read_audit(vault, "access.denied")]
    assert denied[-1]["request"] == rid and denied[-1]["action"] == "record.export"
    download_secret, _ = create_token(vault, "agent", ["download"], 30, "admin")
    result = export_request(
        vault, resolve(vault, download_secret, "t", at_ms=at), rid, tmp_path / "b"
    )
    assert result.records == 2 and verify_package(result.path).ok
