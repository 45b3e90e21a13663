"""The authorisation matrix over the API: every endpoint × role and tier × group × window."""

from __future__ import annotations

from typing import Any

from chatcustody.access import Role
from chatcustody.audit import AuditQuery, query_audit
from tests.people import ROLES
from tests.web.conftest import Api

BUSINESS = {"agent", "team_lead", "legal", "executive"}


def reads(name: str, side: str, when: str) -> bool:
    """The user's table: who reads which record."""
    role = ROLES[name][0]
    if role in (Role.LEGAL, Role.EXECUTIVE):
        return True
    if role is Role.TEAM_LEAD:
        return side == "inside" and when in ("week", "month")
    return role is Role.AGENT and side == "inside" and when == "week"


def denied_count(api: Api, name: str) -> int:
    return sum(1 for _ in query_audit(api.vault, AuditQuery(actor=name, action="access.denied")))


def check(api: Api, name: str, method: str, url: str, expected: int, **kw: Any) -> Any:
    """Call as ``name``; assert the status, and that a refusal left one audit event."""
    before = denied_count(api, name)
    r = api.client.request(method, url, headers=api.headers(name), **kw)
    assert r.status_code == expected, (name, method, url, r.status_code, r.text)
    after = denied_count(api, name)
    if expected in (403, 404):
        assert after == before + 1, (name, url, "denial not audited")
        assert r.headers["content-type"] == "application/problem+json"
    else:
        assert after == before, (name, url)
    return r


def test_record_endpoints(api: Api) -> None:
    """Read, download and tag each record: exactly the table's allowed set; others 404/403."""
    for name in ROLES:
        role = ROLES[name][0]
        for (side, when), rid in api.world.records.items():
            inside = reads(name, side, when)
            no = 404 if role else 403
            check(api, name, "GET", f"/api/v1/messages/{rid}", 200 if inside else no)
            may_download = role in (Role.LEGAL, Role.EXECUTIVE)
            check(
                api, name, "GET", f"/api/v1/messages/{rid}/download", 200 if may_download else 403
            )
            may_tag = role in (Role.TEAM_LEAD, Role.LEGAL, Role.EXECUTIVE)
            tag_status = (201 if inside else 404) if may_tag else 403
            check(
                api, name, "POST", f"/api/v1/messages/{rid}/tags", tag_status, json={"name": "核查"}
            )


def test_conversation_endpoints(api: Api) -> None:
    """Conversations and their pages hold only in-scope records; others are 404/403."""
    for name in ROLES:
        role = ROLES[name][0]
        listing = check(api, name, "GET", "/api/v1/conversations", 200 if role else 403)
        for side, cid in api.world.conversations.items():
            whole = role in (Role.LEGAL, Role.EXECUTIVE)
            status = 200 if whole or (role and side == "inside") else (404 if role else 403)
            r = check(api, name, "GET", f"/api/v1/conversations/{cid}/messages", status)
            if status == 200:
                got = {m["id"] for m in r.json()["messages"]}
                want = {
                    rid
                    for (s, w), rid in api.world.records.items()
                    if s == side and reads(name, s, w)
                }
                assert got == want, (name, side)
        if role:
            sides = {c["id"] for c in listing.json()["conversations"]}
            expect = (
                set(api.world.conversations.values())
                if role in (Role.LEGAL, Role.EXECUTIVE)
                else {api.world.conversations["inside"]}
            )
            assert sides == expect


def test_search_and_timeline(api: Api) -> None:
    """Search returns exactly the readable records; system tiers are refused."""
    for name in ROLES:
        role = ROLES[name][0]
        r = check(
            api, name, "GET", "/api/v1/search", 200 if role else 403, params={"q": "巡逻记录"}
        )
        if role:
            got = {h["id"] for h in r.json()["hits"]}
            want = {rid for (s, w), rid in api.world.records.items() if reads(name, s, w)}
            assert got == want, name
        params = {"after": "2026-01-01", "before": "2026-04-01"}
        if not role:
            check(api, name, "GET", "/api/v1/timeline", 403, params=params)
        else:  # confined timelines: exactly the records the role reads
            r = check(api, name, "GET", "/api/v1/timeline", 200, params=params)
            got = {e["id"] for e in r.json()["entries"]}
            want = {rid for (s, w), rid in api.world.records.items() if reads(name, s, w)}
            assert got == want, name


def test_administration_endpoints(api: Api) -> None:
    """Users and groups are admins', the audit trail auditors'; approvals list for everyone."""
    admin = api.headers("admin")
    api.client.post("/api/v1/users", json={"username": "victim", "role": "agent"}, headers=admin)
    pending = api.client.post(
        "/api/v1/approvals", json={"action": "keys.rotate"}, headers=admin
    ).json()["id"]
    for name in ROLES:
        tiers = {t.value for t in ROLES[name][1]}
        is_admin, auditor = "admin" in tiers, "auditor" in tiers
        check(api, name, "GET", "/api/v1/auth/me", 200)
        check(api, name, "GET", "/api/v1/users", 200 if is_admin else 403)
        check(
            api,
            name,
            "POST",
            "/api/v1/users",
            201 if is_admin else 403,
            json={"username": f"new-{name}", "role": "agent"},
        )
        check(api, name, "POST", "/api/v1/users/victim/reset-otp", 200 if is_admin else 403)
        check(api, name, "GET", "/api/v1/groups", 200 if is_admin else 403)
        check(
            api,
            name,
            "POST",
            "/api/v1/groups",
            201 if is_admin else 403,
            json={"name": f"g-{name}"},
        )
        check(
            api, name, "POST", "/api/v1/groups/护卫队/members", 200 if is_admin else 403,
            json={"conversation_id": api.world.conversations["outside"]},
        )  # fmt: skip
        check(api, name, "GET", "/api/v1/audit", 200 if auditor else 403)
        check(api, name, "GET", "/api/v1/approvals", 200)
        check(
            api,
            name,
            "POST",
            "/api/v1/approvals",
            201 if is_admin else 403,
            json={"action": "user.delete", "params": {"user": "victim"}},
        )
        # Nobody confirms alone: the requesting admin is refused like everyone else here.
        check(
            api, name, "POST", f"/api/v1/approvals/{pending}/confirm", 403, json={"otp": "123456"}
        )
        if not is_admin:
            check(api, name, "POST", f"/api/v1/approvals/{pending}/reject", 403)
        r = check(
            api, name, "POST", "/api/v1/auth/tokens", 201, json={"scopes": ["search"], "days": 1}
        )
        assert r.json()["token"].startswith("cct_")
    check(api, "admin", "POST", "/api/v1/users/victim/disable", 200)
    check(api, "admin", "POST", f"/api/v1/approvals/{pending}/reject", 200)
