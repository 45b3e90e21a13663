"""decide()'s retrieval-request grant: pure, on the facts loaded into the resource."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chatcustody.access import Action, RequestGrant, Resource, Scope, decide
from tests.access.test_decide import INSIDE, OUTSIDE, TS, make_actor

DAY = 86_400_000
SCOPE = Scope(
    frozenset({INSIDE}),
    TS["old"],
    TS["month"] + 1,
    "request:9",
    participants=frozenset({5}),
    types=frozenset({"text"}),
)
GRANT = RequestGrant(9, 1, "agent", "approved", TS["week"] + DAY, SCOPE, package=False)


def _record(
    cid: int = INSIDE, ts: int = TS["old"], sender: int = 5, kind: str = "text"
) -> Resource:
    return Resource("record", 7, cid, ts, 9, sender_id=sender, type=kind, request=GRANT)


def test_scoped_record_is_granted_with_the_request_scope() -> None:
    """Inside the frozen scope the requester reads, and the decision carries request:9."""
    d = decide(make_actor("agent"), Action.READ, _record())
    assert d.allowed and d.rule == "request" and d.scope is SCOPE


@pytest.mark.parametrize(
    "resource",
    [
        _record(cid=OUTSIDE),
        _record(ts=TS["week"]),
        _record(sender=6),
        _record(kind="image"),
    ],
)
def test_outside_any_dimension_is_hidden(resource: Resource) -> None:
    """Another conversation, time, sender or type: denied as not found (hide)."""
    d = decide(make_actor("agent"), Action.READ, resource)
    assert not d.allowed and d.hide and "frozen scope of request 9" in d.reason


def test_record_id_scope() -> None:
    """With an explicit record set, a record outside it is hidden even inside the window."""
    keyed = replace(GRANT, scope=replace(SCOPE, record_ids=frozenset({8})))
    d = decide(make_actor("agent"), Action.READ, replace(_record(), request=keyed))
    assert not d.allowed and d.hide


def test_expiry_and_state_and_requester() -> None:
    """After expiry, before approval, by someone else, or any download under a request."""
    late = make_actor("agent", at_ms=TS["week"] + DAY)
    d = decide(late, Action.READ, _record())
    assert not d.allowed and "expired" in d.reason and not d.hide
    submitted = replace(_record(), request=replace(GRANT, status="submitted"))
    assert "approved" in decide(make_actor("agent"), Action.READ, submitted).reason
    other = make_actor("legal", user_id=2)
    assert decide(other, Action.READ, _record()).reason == "retrieval request 9 not found"
    assert "grants no downloads" in decide(make_actor("agent"), Action.DOWNLOAD, _record()).reason
    assert not decide(make_actor("agent"), Action.TAG, _record()).allowed


def test_role_scope_does_not_apply_under_a_request() -> None:
    """A record the agent's role could read (this week) is hidden under a request without it."""
    this_week = _record(ts=TS["week"])
    assert decide(make_actor("agent"), Action.READ, replace(this_week, request_id=None)).allowed
    assert not decide(make_actor("agent"), Action.READ, this_week).allowed


def test_missing_request() -> None:
    """A request id without facts is a request that does not exist."""
    d = decide(make_actor("agent"), Action.SEARCH, Resource("collection", request_id=3))
    assert not d.allowed and d.reason == "retrieval request 3 not found"


def test_scope_contains_every_dimension() -> None:
    """Scope.contains judges conversation, time, sender, type and record id."""
    s = replace(SCOPE, record_ids=frozenset({7}))
    assert s.contains(INSIDE, TS["old"], record_id=7, sender_id=5, type="text")
    assert not s.contains(INSIDE, TS["old"], record_id=8)
    assert not s.contains(INSIDE, TS["old"], sender_id=6)
    assert not s.contains(INSIDE, TS["old"], type="image")
    assert not s.contains(OUTSIDE)
    assert s.contains(INSIDE) and s.confined
    assert not Scope(None, None, None, "role:legal").confined


@pytest.mark.parametrize("status", ["approved", "in_use", "export_requested", "legal_review"])
def test_download_is_never_granted_by_a_request(status: str) -> None:
    """No raw download under a request, whatever its state or outputs (only the package leaves)."""
    packaged = replace(GRANT, status=status, package=True)
    d = decide(make_actor("agent"), Action.DOWNLOAD, replace(_record(), request=packaged))
    assert not d.allowed and "evidence package" in d.reason
    released = replace(packaged, status="released")
    assert not decide(
        make_actor("legal"), Action.DOWNLOAD, replace(_record(), request=released)
    ).allowed


def _export(actor_name: str, grant: RequestGrant, **overrides: object) -> bool:
    who = make_actor(actor_name, **overrides)
    return decide(who, Action.EXPORT, Resource("request", 9, request_id=9, request=grant)).allowed


def test_export_only_released_unexpired_package_by_requester_or_legal() -> None:
    """EXPORT under a request: released, unexpired, a package output, the requester or legal."""
    released = replace(GRANT, status="released", package=True)
    assert _export("agent", released) and _export("legal", released, user_id=2)
    assert not _export("executive", released, user_id=3)  # neither requester nor legal
    assert not _export("agent", replace(released, status="legal_review"))
    assert not _export("agent", replace(released, package=False))
    assert not _export("agent", released, at_ms=TS["week"] + DAY)  # expired
    assert not _export("agent", released, token_scopes=frozenset({"audit"}))
    assert _export("agent", released, token_scopes=frozenset({"download"}))
    assert not _export("agent", released, active=False)


def test_workflow_actions_need_a_role_and_no_token_scope_covers_them() -> None:
    """Business roles take part in requests; system tiers and API tokens do not."""
    on_request = Resource("request", 9, request_id=9)
    assert decide(make_actor("agent"), Action.REQUEST_SUBMIT, on_request).allowed
    assert not decide(make_actor("auditor"), Action.REQUEST_CREATE, Resource("request")).allowed
    for scope in ("read", "search", "tag", "download", "audit", "admin", "operate"):
        token = make_actor("agent", token_scopes=frozenset({scope}))
        assert not decide(token, Action.REQUEST_CREATE, Resource("request")).allowed
        assert not decide(token, Action.REQUEST_SUBMIT, on_request).allowed
        viewed = decide(token, Action.REQUEST_VIEW, Resource("request")).allowed
        assert viewed is (scope == "read")
