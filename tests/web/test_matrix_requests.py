"""The authorisation matrix of retrieval requests, holds, shredding and evidence export.

Every role and tier calls every endpoint; the exact status is asserted and every refusal
(403/404) must be audited as ``access.denied`` (``check()`` of test_matrix).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chatcustody.access import local_actor
from chatcustody.identity import set_supervisor
from chatcustody.vault import Vault
from chatcustody.web import create_app
from tests.people import NOW, PASSWORD, ROLES, build_world, otp
from tests.web.conftest import Api
from tests.web.test_matrix import check, denied_count

SYSTEM = {name for name, (role, _) in ROLES.items() if role is None}
FORM: dict[str, Any] = {
    "case_ref": "（2026）沪0101民初1234号",
    "legal_basis": "民事诉讼法第六十七条",
    "reason": "客户投诉调查",
    "after": "2026-02-01",
    "before": "2026-03-15",
    "conversations": ["conv-guard"],
    "outputs": ["view_only", "package"],
}


class Clock:
    """A movable clock: each fresh TOTP code needs a later step than the last accepted one."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def rapi(vault: Vault, tmp_path: Path) -> Iterator[tuple[Api, Clock]]:
    """Return a client logged in as every role and tier; the agent's supervisor is the lead."""
    world = build_world(vault, tmp_path)
    set_supervisor(vault, local_actor(vault), "agent", "team_lead")
    clock = Clock()
    with TestClient(create_app(vault, clock=clock), base_url="https://testserver") as client:
        tokens = {}
        for name, enrolment in world.users.items():
            r = client.post(
                "/api/v1/auth/login",
                json={"username": name, "password": PASSWORD, "otp": otp(enrolment)},
            )
            assert r.status_code == 200, r.text
            tokens[name] = r.json()["token"]
        client.cookies.clear()
        yield Api(client, world, tokens, vault), clock


def fresh_otp(api: Api, clock: Clock, name: str) -> str:
    """Move the clock one TOTP step on and return the user's code there."""
    clock.now += 30_000
    return otp(api.world.users[name], clock.now)


def conflict(api: Api, name: str, url: str, **kw: Any) -> None:
    """A move the request's state forbids answers 409 and is audited as access.denied."""
    before = denied_count(api, name)
    r = api.client.post(url, headers=api.headers(name), **kw)
    assert r.status_code == 409, (name, url, r.status_code, r.text)
    assert denied_count(api, name) == before + 1, (name, url, "conflict not audited")


def refusals(
    api: Api, url: str, allowed: str | None, sees: set[str], body: Any = None, **kw: Any
) -> None:
    """Everyone but ``allowed`` is refused: 403 if they see the request (or are a tier), else 404.

    System tiers are refused by decide() before the request is looked up (403); a business
    role who may not see the request is told it does not exist (404).
    """
    for name in ROLES:
        if name == allowed:
            continue
        status = 403 if name in sees or name in SYSTEM else 404
        check(api, name, "POST", url, status, json=body, **kw)


def test_request_workflow_matrix(rapi: tuple[Api, Clock]) -> None:
    """Each transition: only the documented actor moves it; others 403/404, all audited."""
    api, clock = rapi
    for name, (role, _) in ROLES.items():
        check(api, name, "POST", "/api/v1/requests", 201 if role else 403, json=FORM)
        check(api, name, "GET", "/api/v1/requests", 200 if role else 403)
        check(api, name, "GET", "/api/v1/inbox", 200 if role else 403)
    mine = check(api, "agent", "GET", "/api/v1/requests", 200).json()["requests"]
    assert [r["requester"] for r in mine] == ["agent"]
    rid = mine[0]["id"]
    url = f"/api/v1/requests/{rid}"
    sees = {"agent", "team_lead", "legal"}  # the requester, the supervisor, legal
    for name, (role, _) in ROLES.items():
        status = 200 if name in sees else (404 if role else 403)
        check(api, name, "GET", url, status)
    listed = check(api, "executive", "GET", "/api/v1/requests", 200).json()["requests"]
    assert rid not in {r["id"] for r in listed}
    # Attach (the requester, on the draft).
    for name in ROLES:
        status = 201 if name == "agent" else (403 if name in sees or name in SYSTEM else 404)
        check(
            api, name, "POST", f"{url}/attachments", status,
            params={"kind": "consent", "name": "同意书.pdf"},
            content="客户同意书".encode(),
        )  # fmt: skip
    conflict(api, "agent", f"{url}/start")  # a draft is not started
    refusals(api, f"{url}/submit", "agent", sees)
    check(api, "agent", "POST", f"{url}/submit", 200)
    conflict(  # attaching after submission: refused, and the refusal audited
        api, "agent", f"{url}/attachments",
        params={"kind": "other", "name": "补充.pdf"}, content=b"late",
    )  # fmt: skip
    box = check(api, "team_lead", "GET", "/api/v1/inbox", 200).json()
    assert [x["id"] for x in box["to_approve"]] == [rid]
    refusals(api, f"{url}/withdraw", "agent", sees)
    refusals(api, f"{url}/reject", "team_lead", sees, {"reason": "不充分"})
    refusals(api, f"{url}/approve", "team_lead", sees, {"otp": "000000"})
    code = fresh_otp(api, clock, "team_lead")
    r = check(api, "team_lead", "POST", f"{url}/approve", 200, json={"otp": code})
    assert r.json()["status"] == "approved"
    refusals(api, f"{url}/start", "agent", sees)
    check(api, "agent", "POST", f"{url}/start", 200)
    refusals(api, f"{url}/request-export", "agent", sees)
    check(api, "agent", "POST", f"{url}/request-export", 200)
    box = check(api, "legal", "GET", "/api/v1/inbox", 200).json()
    assert [x["id"] for x in box["to_review"]] == [rid]
    box = check(api, "executive", "GET", "/api/v1/inbox", 200).json()
    assert rid not in {x["id"] for part in box.values() for x in part}
    record = api.world.records[("inside", "old")]  # in scope, but reads end at request-export
    check(api, "agent", "GET", f"/api/v1/messages/{record}", 403, params={"request_id": rid})
    # Export before release: the requester and legal are refused (not released), 403.
    export_refusals(api, url, sees)
    check(api, "agent", "POST", f"{url}/export", 403)
    check(api, "legal", "POST", f"{url}/export", 403)
    refusals(api, f"{url}/review", "legal", sees)
    check(api, "legal", "POST", f"{url}/review", 200)
    release = {"otp": "000000", "recipient": "上海市黄浦区人民法院"}
    refusals(api, f"{url}/release", "legal", sees, release)
    release["otp"] = fresh_otp(api, clock, "legal")
    r = check(api, "legal", "POST", f"{url}/release", 200, json=release)
    assert r.json()["status"] == "released"
    export_refusals(api, url, sees)
    for name in ("agent", "legal"):  # the requester and legal export the released package
        r = check(api, name, "POST", f"{url}/export", 200)
        assert r.headers["content-type"] == "application/zip" and r.content[:2] == b"PK"
    for name in SYSTEM | {"executive"}:  # the requester, approver and legal may close
        check(api, name, "POST", f"{url}/close", 403 if name in SYSTEM else 404)
    check(api, "team_lead", "POST", f"{url}/close", 200)
    box = check(api, "agent", "GET", "/api/v1/inbox", 200).json()
    assert rid in {x["id"] for x in box["mine"]}
    conflict(api, "agent", f"{url}/start")  # closed is final
    other = check(api, "agent", "POST", "/api/v1/requests", 201, json=FORM).json()["id"]
    check(api, "agent", "POST", f"/api/v1/requests/{other}/submit", 200)
    check(api, "agent", "POST", f"/api/v1/requests/{other}/withdraw", 200)
    conflict(api, "agent", f"/api/v1/requests/{other}/withdraw")


def export_refusals(api: Api, url: str, sees: set[str]) -> None:
    """Neither the supervisor nor others export: 403 for the supervisor, 404 to the rest.

    Export looks the request up first, so a user who cannot see it — a system tier too —
    is told it does not exist.
    """
    for name in ROLES:
        if name in ("agent", "legal"):
            continue
        check(api, name, "POST", f"{url}/export", 403 if name in sees else 404)


def test_reads_under_a_request(rapi: tuple[Api, Clock]) -> None:
    """With ?request_id=, only the requester reads, exactly the frozen scope; others refused."""
    api, clock = rapi
    agent = api.headers("agent")
    rid = api.client.post("/api/v1/requests", json=FORM, headers=agent).json()["id"]
    assert api.client.post(f"/api/v1/requests/{rid}/submit", headers=agent).status_code == 200
    code = fresh_otp(api, clock, "team_lead")
    r = api.client.post(
        f"/api/v1/requests/{rid}/approve", json={"otp": code}, headers=api.headers("team_lead")
    )
    assert r.status_code == 200, r.text
    q = {"request_id": rid}
    scoped = {api.world.records[("inside", "old")], api.world.records[("inside", "month")]}
    for name in ROLES:
        requester = name == "agent"
        for record in api.world.records.values():
            want = (200 if record in scoped else 404) if requester else 403
            check(api, name, "GET", f"/api/v1/messages/{record}", want, params=q)
            check(api, name, "GET", f"/api/v1/messages/{record}/download", 403, params=q)
        r = check(
            api, name, "GET", "/api/v1/search", 200 if requester else 403,
            params={"q": "巡逻记录", **q},
        )  # fmt: skip
        if requester:
            assert {h["id"] for h in r.json()["hits"]} == scoped
        window = {"after": "2026-01-01", "before": "2026-04-01", **q}
        r = check(api, name, "GET", "/api/v1/timeline", 200 if requester else 403, params=window)
        if requester:
            assert {e["id"] for e in r.json()["entries"]} == scoped
        r = check(api, name, "GET", "/api/v1/conversations", 200 if requester else 403, params=q)
        if requester:
            ids = {c["id"] for c in r.json()["conversations"]}
            assert ids == {api.world.conversations["inside"]}
        for side, cid in api.world.conversations.items():
            want = (200 if side == "inside" else 404) if requester else 403
            r = check(api, name, "GET", f"/api/v1/conversations/{cid}/messages", want, params=q)
            if want == 200:
                assert {m["id"] for m in r.json()["messages"]} == scoped
        # A request that does not exist grants nothing: refused and audited.
        missing = check(
            api, name, "GET", f"/api/v1/messages/{min(scoped)}", 403, params={"request_id": 999}
        )
        if not requester:
            # Someone else's request answers exactly like a missing one: no existence, no name.
            theirs = check(api, name, "GET", f"/api/v1/messages/{min(scoped)}", 403, params=q)
            assert theirs.json()["detail"] == missing.json()["detail"].replace("999", str(rid))
            assert "agent" not in theirs.json()["detail"]
    # Seven days after the approval the request has expired: every read is 403, by the clock.
    clock.now += 7 * 86_400_000
    r = api.client.post(
        "/api/v1/auth/login",
        json={"username": "agent", "password": PASSWORD, "otp": fresh_otp(api, clock, "agent")},
    )
    assert r.status_code == 200, r.text
    api.client.cookies.clear()
    api.tokens["agent"] = r.json()["token"]
    for record in api.world.records.values():
        r = check(api, "agent", "GET", f"/api/v1/messages/{record}", 403, params=q)
        assert "expired" in r.json()["detail"]
    check(api, "agent", "GET", "/api/v1/search", 403, params={"q": "巡逻记录", **q})


def test_holds_and_shred_matrix(rapi: tuple[Api, Clock]) -> None:
    """Holds: legal places and asks release; legal, admins, auditors list; admins ask a shred."""
    api, _ = rapi
    inside, outside = api.world.conversations["inside"], api.world.conversations["outside"]
    listers = {"legal", "admin", "auditor"}
    hold = {"conversation_id": inside, "reason": "诉讼保全", "case": "（2026）沪0101民初1234号"}
    for name in ROLES:
        check(api, name, "POST", "/api/v1/holds", 201 if name == "legal" else 403, json=hold)
    hid = check(api, "legal", "GET", "/api/v1/holds", 200).json()["holds"][0]["id"]
    for name in ROLES:
        r = check(
            api, name, "GET", "/api/v1/holds", 200 if name in listers else 403,
            params={"active": True},
        )  # fmt: skip
        if name in listers:
            assert [h["id"] for h in r.json()["holds"]] == [hid]
    for name in ROLES:
        if name != "legal":
            check(api, name, "POST", f"/api/v1/holds/{hid}/release", 403)
    r = check(api, "legal", "POST", f"/api/v1/holds/{hid}/release", 201)
    assert r.json()["action"] == "hold.release"
    shred = {"reason": "保存期限届满"}
    for name, (_, tiers) in ROLES.items():
        admin = any(t.value == "admin" for t in tiers)
        status = 201 if admin else 403
        check(api, name, "POST", f"/api/v1/conversations/{outside}/shred", status, json=shred)
    # A held conversation cannot be shredded: the admin's request is refused, not pending.
    r = api.client.post(
        f"/api/v1/conversations/{inside}/shred", json=shred, headers=api.headers("admin")
    )
    assert r.status_code == 409, r.text


def released(api: Api, clock: Clock) -> int:
    """Return the agent's request, approved by the lead, reviewed and released by legal."""
    agent, lead, legal = (api.headers(n) for n in ("agent", "team_lead", "legal"))
    rid = api.client.post("/api/v1/requests", json=FORM, headers=agent).json()["id"]
    url = f"/api/v1/requests/{rid}"
    steps = [
        (f"{url}/submit", agent, None),
        (f"{url}/approve", lead, {"otp": fresh_otp(api, clock, "team_lead")}),
        (f"{url}/start", agent, None),
        (f"{url}/request-export", agent, None),
        (f"{url}/review", legal, None),
        (f"{url}/release", legal, {"otp": fresh_otp(api, clock, "legal"), "recipient": "法院"}),
    ]
    for step, headers, body in steps:
        r = api.client.post(step, json=body, headers=headers)
        assert r.status_code == 200, (step, r.text)
    return int(rid)


def mint(api: Api, sessions: dict[str, str], name: str, scopes: list[str]) -> None:
    """Act as the user through an API token with these scopes, minted by their session."""
    r = api.client.post(
        "/api/v1/auth/tokens",
        json={"scopes": scopes, "days": 1},
        headers={"Authorization": f"Bearer {sessions[name]}"},
    )
    assert r.status_code == 201, r.text
    api.tokens[name] = r.json()["token"]


def test_api_tokens_under_requests(rapi: tuple[Api, Clock]) -> None:
    """A token views requests (read) and exports (download) but never files or moves one."""
    api, clock = rapi
    rid = released(api, clock)
    url = f"/api/v1/requests/{rid}"
    sessions = dict(api.tokens)
    every = ["read", "search", "tag", "download", "audit", "admin", "operate"]
    for name, (role, _) in ROLES.items():
        mint(api, sessions, name, every)
        check(api, name, "GET", "/api/v1/requests", 200 if role else 403)
        check(api, name, "GET", "/api/v1/inbox", 200 if role else 403)
        check(api, name, "POST", "/api/v1/requests", 403, json=FORM)
    for name in ("agent", "team_lead", "legal"):  # a person's session moves a request
        check(api, name, "POST", f"{url}/close", 403)
    for name in ("agent", "legal"):  # the download scope covers the released package
        check(api, name, "POST", f"{url}/export", 200)
        mint(api, sessions, name, ["read", "search"])
        check(api, name, "GET", url, 200)
        check(api, name, "POST", f"{url}/export", 403)
