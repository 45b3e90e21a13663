"""Regressions of the security review: token scopes, titles out of scope, downloads, audit gaps.

F2: the request workflow goes through decide() (API tokens need a scope; none covers filing
or moving a request). F3: under a request, only conversations holding a scoped record are
listed or opened, decided before any title is decrypted. F4: no raw download under a
request. 7: refused moves, views, lists and the inbox are audited with the request ids.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chatcustody import requests as rq
from chatcustody.access import Actor
from chatcustody.audit import read_audit
from chatcustody.errors import AccessDeniedError, ConflictError, NotFoundError
from chatcustody.identity import create_token, resolve
from chatcustody.ingest import import_file
from chatcustody.reading import conversation_messages, download_message, list_conversations
from chatcustody.requests import Output
from chatcustody.vault import Vault
from tests.conftest import message, write_jsonl
from tests.people import NOW, World, actor, otp
from tests.requests.conftest import form

SECRET_TITLE = "SECRET-TITLE 董事会"


def _token(vault: Vault, scopes: list[str], at: int = NOW) -> Actor:
    secret, _ = create_token(vault, "agent", scopes, 30, "admin")
    return resolve(vault, secret, "test", at_ms=at)


def _approved(vault: Vault, world: World, step: int = 0, **overrides: object) -> int:
    agent = actor(vault, "agent")
    rid = rq.create_request(vault, agent, form(**overrides)).id
    rq.submit(vault, agent, rid)
    at = NOW + step * 30_000
    rq.approve(vault, actor(vault, "team_lead", at), rid, otp(world.users["team_lead"], at))
    return rid


def _denied(vault: Vault, rid: int) -> list[dict[str, object]]:
    return [
        e.details for e in read_audit(vault, "access.denied") if e.details.get("request") == rid
    ]


def test_token_without_a_fitting_scope_cannot_file_or_move_a_request(
    vault: Vault, world: World
) -> None:
    """F2: an "audit" token neither creates, views nor moves a request; refusals audited."""
    audit_token = _token(vault, ["audit"])
    with pytest.raises(AccessDeniedError, match=r"scopes \(audit\) do not cover request.create"):
        rq.create_request(vault, audit_token, form())
    rid = rq.create_request(vault, actor(vault, "agent"), form()).id
    for move in (rq.submit, rq.withdraw):
        with pytest.raises(AccessDeniedError, match="do not cover"):
            move(vault, audit_token, rid)
    with pytest.raises(AccessDeniedError, match="do not cover request.view"):
        rq.get_request(vault, audit_token, rid)
    # No scope covers the workflow: even a token with every scope cannot submit.
    with pytest.raises(AccessDeniedError, match="do not cover request.submit"):
        rq.submit(vault, _token(vault, ["read", "search", "download"]), rid)
    assert rq.get_request(vault, _token(vault, ["read"]), rid).status is rq.Status.DRAFT
    assert [d["action"] for d in _denied(vault, rid)] == [
        "request.submit", "request.withdraw", "request.view", "request.submit",
    ]  # fmt: skip


def _with_secret_conversation(vault: Vault, tmp_path: Path) -> int:
    """Import a conversation whose only record is in March; return its vault id."""
    msgs = [
        message(
            conversation_id="conv-secret",
            conversation_name=SECRET_TITLE,
            message_id="s1",
            timestamp="2026-03-18T10:00:00+08:00",
            text="secret",
        )
    ]
    result = import_file(vault, write_jsonl(tmp_path / "secret.jsonl", msgs))
    assert result.error is None
    listed = list_conversations(vault, actor(vault, "legal"))
    return next(int(c["id"]) for c in listed if c["title"] == SECRET_TITLE)


def test_titles_outside_a_window_only_scope_stay_sealed(
    vault: Vault, world: World, tmp_path: Path
) -> None:
    """F3: a window-only request lists and opens only conversations with a scoped record."""
    secret = _with_secret_conversation(vault, tmp_path)
    rid = _approved(vault, world, conversations=(), before="2026-02-15")
    agent = actor(vault, "agent", NOW + 30_000)
    listed = list_conversations(vault, agent, rid)
    assert sorted(c["id"] for c in listed) == sorted(world.conversations.values())
    assert all(c["messages"] == 1 for c in listed)
    assert SECRET_TITLE not in str(listed)
    with pytest.raises(NotFoundError) as hidden:
        conversation_messages(vault, agent, secret, request_id=rid)
    with pytest.raises(NotFoundError) as missing:
        conversation_messages(vault, agent, 999_999, request_id=rid)
    assert str(hidden.value) == f"conversation {secret} not found"
    assert str(missing.value) == "conversation 999999 not found"
    inside = conversation_messages(vault, agent, world.conversations["inside"], request_id=rid)
    assert [m["id"] for m in inside["messages"]] == [world.records[("inside", "old")]]
    reasons = [str(d["decision"]) for d in _denied(vault, rid)]
    assert any(f"conversation {secret} holds no record" in r for r in reasons)


def test_no_raw_download_under_a_request(vault: Vault, world: World) -> None:
    """F4: approved, released or not, a request never lets its requester download raw records."""
    rid = _approved(vault, world, outputs=frozenset({Output.PACKAGE, Output.ORIGINALS}))
    record = world.records[("inside", "old")]
    agent = actor(vault, "agent", NOW + 30_000)
    with pytest.raises(AccessDeniedError, match="evidence package"):
        download_message(vault, agent, record, rid)
    rq.request_export(vault, agent, rid)
    legal = actor(vault, "legal", NOW + 60_000)
    rq.review(vault, legal, rid)
    rq.release(vault, legal, rid, otp(world.users["legal"], NOW + 60_000), "上海某法院")
    with pytest.raises(AccessDeniedError, match="evidence package"):
        download_message(vault, actor(vault, "agent", NOW + 90_000), record, rid)
    downloads = [d for d in _denied(vault, rid) if d["action"] == "record.download"]
    assert len(downloads) == 2


def test_refused_moves_and_request_views_are_audited(vault: Vault, world: World) -> None:
    """7: an illegal move is an access.denied event; views, lists and the inbox are audited."""
    agent = actor(vault, "agent")
    rid = rq.create_request(vault, agent, form(outputs=frozenset({Output.VIEW_ONLY}))).id
    with pytest.raises(ConflictError, match="it is draft"):
        rq.start(vault, agent, rid)
    rq.submit(vault, agent, rid)
    rq.approve(vault, actor(vault, "team_lead"), rid, otp(world.users["team_lead"]))
    with pytest.raises(ConflictError, match="view only"):
        rq.request_export(vault, agent, rid)
    assert [(d["action"], d["decision"]["rule"]) for d in _denied(vault, rid)] == [  # type: ignore[index]
        ("request.start", "request"),
        ("request.request-export", "request"),
    ]
    lead = actor(vault, "team_lead")
    before = len(list(read_audit(vault)))
    rq.get_request(vault, lead, rid)
    rq.list_requests(vault, lead)
    rq.inbox(vault, agent)  # their own request, under "mine"
    events = list(read_audit(vault))[before:]
    assert [e.action for e in events] == ["request.view", "request.list", "request.inbox"]
    assert [e.actor for e in events] == ["team_lead", "team_lead", "agent"]
    assert events[0].details["request"] == rid
    assert events[1].details["requests"] == [rid] and events[2].details["requests"] == [rid]
