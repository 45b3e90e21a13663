"""decide() against the user's role table: every role and tier × action × group × window."""

from __future__ import annotations

from datetime import datetime

import pytest

from chatcustody.access import (
    CONTENT_ACTIONS,
    REQUEST_WORKFLOW,
    Action,
    Actor,
    Resource,
    Role,
    Tier,
    decide,
    month_window,
    months_before,
    week_window,
)
from tests.people import NOW, ROLES, WHEN, ZONE

INSIDE, OUTSIDE = 1, 2
TS = {k: int(datetime.fromisoformat(v).timestamp() * 1000) for k, v in WHEN.items()}
READS = {Action.LIST_CONVERSATIONS, Action.READ, Action.SEARCH, Action.TIMELINE}
TIER_DUTIES = {
    Tier.OPERATOR: {Action.IMPORT, Action.BACKUP, Action.JOBS},
    Tier.ADMIN: {
        Action.MANAGE_USERS,
        Action.MANAGE_GROUPS,
        Action.MANAGE_SETTINGS,
        Action.KEYS_ROTATE,
        Action.ROLE_ELEVATE,
        Action.USER_DELETE,
        Action.CRYPTO_SHRED,
        Action.SUPERVISOR_SET,
    },
    Tier.AUDITOR: {Action.READ_AUDIT, Action.READ_INTEGRITY},
}


def make_actor(name: str, **overrides: object) -> Actor:
    role, tiers = ROLES[name]
    fields: dict[str, object] = {
        "name": name,
        "user_id": 1,
        "role": role,
        "tiers": frozenset(tiers),
        "groups": frozenset({1}),
        "conversations": frozenset({INSIDE}),
        "at_ms": NOW,
        "tz": "Asia/Shanghai",
    }
    fields.update(overrides)
    return Actor(**fields)  # type: ignore[arg-type]


def expected(name: str, action: Action, side: str, when: str) -> bool:
    """The user's table, restated independently of the implementation."""
    role, tiers = ROLES[name]
    if action in REQUEST_WORKFLOW:  # filing and moving requests: business roles
        return role is not None
    if action not in CONTENT_ACTIONS:
        by_tier = any(action in TIER_DUTIES[t] for t in tiers)
        releases = {Action.HOLD_RELEASE, Action.EVIDENCE_RELEASE}
        return by_tier or (role is Role.LEGAL and action in releases)
    if role is None:
        return False
    may = {
        Role.AGENT: READS,
        Role.TEAM_LEAD: READS | {Action.TAG, Action.ARCHIVE},
        Role.LEGAL: READS | {Action.TAG, Action.ARCHIVE, Action.DOWNLOAD, Action.EXPORT},
        Role.EXECUTIVE: READS | {Action.TAG, Action.ARCHIVE, Action.DOWNLOAD},
    }[role]
    if action not in may:
        return False
    if role in (Role.LEGAL, Role.EXECUTIVE):
        return True
    window = {"week"} if role is Role.AGENT else {"week", "month"}
    return side == "inside" and when in window


@pytest.mark.parametrize("name", sorted(ROLES))
def test_role_table_matrix(name: str) -> None:
    """Each role and tier is allowed exactly the user's table, inside groups and windows."""
    who = make_actor(name)
    for action in Action:
        for side, cid in (("inside", INSIDE), ("outside", OUTSIDE)):
            for when, ts in TS.items():
                resource = Resource.record(7, cid, ts)
                d = decide(who, action, resource)
                assert d.allowed is expected(name, action, side, when), (action, side, when, d)
                assert d.reason
                if d.allowed and action in CONTENT_ACTIONS:
                    assert d.scope is not None and d.scope.contains(cid, ts)


@pytest.mark.parametrize("name", ["operator", "admin", "auditor"])
def test_system_tiers_read_no_content(name: str) -> None:
    """System tiers are refused every content action, with a reason saying so."""
    who = make_actor(name, tiers=frozenset(Tier))
    for action in CONTENT_ACTIONS:
        d = decide(who, action, Resource.record(1, INSIDE, TS["week"]))
        assert not d.allowed and "reads no chat content" in d.reason


def test_out_of_scope_denials_hide_existence() -> None:
    """A record outside the groups or window is denied as hidden (answered 404)."""
    agent = make_actor("agent")
    d = decide(agent, Action.READ, Resource.record(1, OUTSIDE, TS["week"]))
    assert not d.allowed and d.hide and "not in agent's groups" in d.reason
    d = decide(agent, Action.READ, Resource.record(1, INSIDE, TS["month"]))
    assert not d.allowed and d.hide and "calendar week" in d.reason
    d = decide(make_actor("team_lead"), Action.READ, Resource.record(1, INSIDE, TS["old"]))
    assert not d.allowed and d.hide and "calendar month" in d.reason


def test_guards_come_first() -> None:
    """A disabled account or a token without the scope is refused whatever the role grants."""
    legal = make_actor("legal", active=False)
    assert not decide(legal, Action.READ, Resource.record(1, 1, TS["week"])).allowed
    token = make_actor("legal", token_scopes=frozenset({"search"}))
    d = decide(token, Action.READ, Resource.record(1, 1, TS["week"]))
    assert not d.allowed and "scopes (search)" in d.reason
    assert decide(token, Action.SEARCH, Resource("collection")).allowed
    assert not decide(token, Action.KEYS_ROTATE, Resource("approval")).allowed


def test_windows_are_calendar_ones() -> None:
    """The week starts Monday 00:00 and the month on the 1st, in the vault's zone."""
    week = week_window(NOW, "Asia/Shanghai")
    month = month_window(NOW, "Asia/Shanghai")
    assert datetime.fromtimestamp(week[0] / 1000, ZONE).isoformat() == "2026-03-16T00:00:00+08:00"
    assert datetime.fromtimestamp(week[1] / 1000, ZONE).isoformat() == "2026-03-23T00:00:00+08:00"
    assert datetime.fromtimestamp(month[0] / 1000, ZONE).isoformat() == "2026-03-01T00:00:00+08:00"
    assert datetime.fromtimestamp(month[1] / 1000, ZONE).isoformat() == "2026-04-01T00:00:00+08:00"
    # The same instant is already Saturday in Auckland: another week's bounds.
    assert week_window(NOW, "Pacific/Auckland") != week
    # Six calendar months before 31 August is 28 February: 184 days, not 180.
    aug31 = int(datetime(2026, 8, 31, 10, tzinfo=ZONE).timestamp() * 1000)
    back = datetime.fromtimestamp(months_before(aug31, "Asia/Shanghai", 6) / 1000, ZONE)
    assert back.date().isoformat() == "2026-02-28"


def test_grants_compose() -> None:
    """A further grant rule (a retrieval request) widens access without touching the others."""
    from chatcustody.access import Decision, Scope, _rules

    def grant_request(actor: Actor, action: Action, resource: Resource) -> Decision | None:
        if resource.request_id == 9 and action is Action.READ:
            scope = Scope(frozenset({OUTSIDE}), None, None, "request:9")
            if scope.contains(resource.conversation_id or -1, resource.ts_ms):
                return Decision(True, "request 9 covers it", "request", scope)
        return None

    agent = make_actor("agent")
    asked = Resource("record", 1, OUTSIDE, TS["old"], request_id=9)
    assert not decide(agent, Action.READ, asked).allowed
    saved = _rules.GRANTS
    _rules.GRANTS = (*saved, grant_request)
    try:
        d = decide(agent, Action.READ, asked)
        assert d.allowed and d.scope is not None and d.scope.grant == "request:9"
        assert not decide(agent, Action.TAG, asked).allowed
    finally:
        _rules.GRANTS = saved
