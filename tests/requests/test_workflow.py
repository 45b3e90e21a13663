"""The request workflow: who moves a request where, TOTP, frozen scope, expiry, history."""

from __future__ import annotations

import pytest

from chatcustody import requests as rq
from chatcustody.audit import read_audit
from chatcustody.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    UsageError,
)
from chatcustody.reading import conversation_messages, get_message, search_records
from chatcustody.vault import Vault
from tests.people import NOW, World, actor, otp
from tests.requests.conftest import form

DAY = 86_400_000


def _approved(vault: Vault, world: World, step: int = 0, **overrides: object) -> int:
    """Return a request the team lead approved at NOW (+ ``step`` TOTP steps: no replay)."""
    agent = actor(vault, "agent")
    request = rq.create_request(vault, agent, form(**overrides))
    rq.submit(vault, agent, request.id)
    at = NOW + step * 30_000
    rq.approve(vault, actor(vault, "team_lead", at), request.id, otp(world.users["team_lead"], at))
    return request.id


def test_full_workflow_to_release(vault: Vault, world: World) -> None:
    """draft → … → released → closed, each step by the right person, all in the history."""
    rid = _approved(vault, world)
    agent = actor(vault, "agent")
    assert rq.start(vault, agent, rid).status is rq.Status.IN_USE
    rq.request_export(vault, agent, rid, "移交法院")
    legal = actor(vault, "legal", NOW + 60_000)
    rq.review(vault, legal, rid)
    code = otp(world.users["legal"], NOW + 60_000)
    released = rq.release(vault, legal, rid, code, "上海某法院", ["pii:phone:非当事人"])
    assert released.status is rq.Status.RELEASED
    assert released.terms == rq.ReleaseTerms("上海某法院", ("pii:phone:非当事人",))
    assert released.to_json()["release_terms"] == {
        "recipient": "上海某法院",
        "redactions": ["pii:phone:非当事人"],
    }
    assert rq.require_exportable(vault, legal, rid).id == rid
    ids = rq.scoped_record_ids(vault, released)
    assert ids == [world.records[("inside", "old")], world.records[("inside", "month")]]
    rq.mark_exported(vault, legal, rid, {"files": 3})
    closed = rq.close(vault, agent, rid)
    assert [h.transition for h in closed.history] == [
        "create", "submit", "approve", "start", "request-export", "review", "release",
        "export", "close",
    ]  # fmt: skip
    assert closed.approver == "team_lead" and closed.expires_ms == NOW + 7 * DAY
    actions = [e.action for e in read_audit(vault, "request.")]
    assert "request.release" in actions and "request.exported" in actions


def test_approver_must_be_the_direct_supervisor_with_totp(vault: Vault, world: World) -> None:
    """The requester, another user, or a wrong/reused code cannot approve."""
    agent = actor(vault, "agent")
    rid = rq.create_request(vault, agent, form()).id
    rq.submit(vault, agent, rid)
    with pytest.raises(AccessDeniedError, match="cannot approve their own"):
        rq.approve(vault, agent, rid, otp(world.users["agent"]))
    with pytest.raises(NotFoundError):  # not their report's: they do not even see it
        rq.approve(vault, actor(vault, "executive"), rid, otp(world.users["executive"]))
    with pytest.raises(AuthenticationError):
        rq.approve(vault, actor(vault, "team_lead"), rid, "000000")
    lead = actor(vault, "team_lead")
    rq.approve(vault, lead, rid, otp(world.users["team_lead"]))
    with pytest.raises(ConflictError, match="approved"):
        rq.approve(vault, lead, rid, otp(world.users["team_lead"]))
    denied = [e for e in read_audit(vault, "access.denied") if e.details.get("request") == rid]
    assert len(denied) == 4  # the second approval of an approved request too
    assert "it is approved" in denied[-1].details["decision"]["reason"]


def test_reject_needs_reason_and_ends_it(vault: Vault, world: World) -> None:
    """A rejection without a reason is refused; with one it is final and recorded."""
    agent = actor(vault, "agent")
    rid = rq.create_request(vault, agent, form()).id
    rq.submit(vault, agent, rid)
    lead = actor(vault, "team_lead")
    with pytest.raises(UsageError):
        rq.reject(vault, lead, rid, " ")
    done = rq.reject(vault, lead, rid, "范围过宽")
    assert done.status is rq.Status.REJECTED and done.history[-1].reason == "范围过宽"
    with pytest.raises(ConflictError):
        rq.submit(vault, agent, rid)


def test_reads_follow_the_frozen_scope_and_expiry(vault: Vault, world: World) -> None:
    """Under the request: scoped records only; after expiry every read is refused and audited."""
    rid = _approved(vault, world)
    agent = actor(vault, "agent")
    inside_old = world.records[("inside", "old")]
    assert get_message(vault, agent, inside_old, rid)["id"] == inside_old
    with pytest.raises(NotFoundError):  # this week: outside the request's window
        get_message(vault, agent, world.records[("inside", "week")], rid)
    with pytest.raises(NotFoundError):  # other conversation
        get_message(vault, agent, world.records[("outside", "old")], rid)
    hits = search_records(vault, agent, "巡逻记录", request_id=rid)["hits"]
    assert {h["id"] for h in hits} == {inside_old, world.records[("inside", "month")]}
    page = conversation_messages(vault, agent, world.conversations["inside"], request_id=rid)
    assert {m["id"] for m in page["messages"]} == {inside_old, world.records[("inside", "month")]}
    late = actor(vault, "agent", NOW + 7 * DAY)
    with pytest.raises(AccessDeniedError, match="expired"):
        get_message(vault, late, inside_old, rid)
    with pytest.raises(AccessDeniedError, match="expired"):
        search_records(vault, late, "巡逻记录", request_id=rid)
    denied = [e for e in read_audit(vault, "access.denied") if e.details.get("request") == rid]
    assert len(denied) >= 4
    assert rq.get_request(vault, late, rid).status is rq.Status.EXPIRED


def test_other_users_cannot_read_under_a_request(vault: Vault, world: World) -> None:
    """A request grants only its requester; legal reading under it is refused."""
    rid = _approved(vault, world)
    with pytest.raises(AccessDeniedError, match="retrieval request [0-9]+ not found"):
        get_message(vault, actor(vault, "legal"), world.records[("inside", "old")], rid)


def test_keyword_scope_is_matches_plus_context(vault: Vault, world: World) -> None:
    """With keywords and no context, only the matching records are in scope."""
    rid = _approved(vault, world, keywords=("inside old",), context=0)
    request = rq.get_request(vault, actor(vault, "agent"), rid)
    assert request.scope is not None and request.scope.matches == 1
    assert rq.scoped_record_ids(vault, request) == [world.records[("inside", "old")]]
    rid2 = _approved(vault, world, 1, keywords=("inside old",), context=1)
    wide = rq.get_request(vault, actor(vault, "agent"), rid2)
    assert rq.scoped_record_ids(vault, wide) == [
        world.records[("inside", "old")],
        world.records[("inside", "month")],
    ]


def test_unknown_conversation_is_refused_at_submission(vault: Vault, world: World) -> None:
    """A name that matches nothing cannot be frozen into a scope."""
    agent = actor(vault, "agent")
    rid = rq.create_request(vault, agent, form(conversations=("no-such-chat",))).id
    with pytest.raises(UsageError, match="no-such-chat"):
        rq.submit(vault, agent, rid)
    assert rq.get_request(vault, agent, rid).status is rq.Status.DRAFT


@pytest.mark.parametrize(
    "overrides",
    [
        {"case_ref": " "},
        {"after": "2026-03-15", "before": "2026-03-01"},
        {"after": "not a date"},
        {"context": 101},
    ],
)
def test_malformed_forms_are_refused_at_creation(
    vault: Vault, world: World, overrides: dict[str, object]
) -> None:
    """A blank field, an empty or unreadable window or a huge context: refused up front."""
    with pytest.raises(UsageError):
        rq.create_request(vault, actor(vault, "agent"), form(**overrides))


def test_system_tiers_cannot_ask(vault: Vault, world: World) -> None:
    """Users without a business role read no content and so cannot file a request."""
    with pytest.raises(AccessDeniedError):
        rq.create_request(vault, actor(vault, "admin"), form())
