"""End to end over the API: an agent asks, the supervisor approves with TOTP, the agent reads
only the scoped messages, the request expires, and further reads are refused and audited."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chatcustody.access import Tier, local_actor
from chatcustody.audit import read_audit
from chatcustody.identity import set_supervisor
from chatcustody.vault import Vault
from chatcustody.web import create_app
from tests.people import NOW, PASSWORD, World, build_world, make_user, otp

DAY = 86_400_000


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    """Serve a real local HTTP endpoint that records the notices POSTed to it."""
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


class Clock:
    """A movable clock for the app."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


def _login(client: TestClient, world: World, name: str, at: int) -> dict[str, str]:
    r = client.post(
        "/api/v1/auth/login",
        json={"username": name, "password": PASSWORD, "otp": otp(world.users[name], at)},
    )
    assert r.status_code == 200, r.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_agent_asks_supervisor_approves_reads_then_expiry(
    vault: Vault, tmp_path: Path, webhook: str
) -> None:
    """The whole issue-6 story over HTTP, with the webhook notified of each transition."""
    vault.settings = vault.settings.model_copy(update={"notify_webhook_url": webhook})
    world = build_world(vault, tmp_path)
    set_supervisor(vault, local_actor(vault), "agent", "team_lead")
    clock = Clock()
    app = create_app(vault, clock=clock)
    with TestClient(app, base_url="https://testserver") as client:
        agent = _login(client, world, "agent", NOW)
        lead = _login(client, world, "team_lead", NOW)
        body = {
            "case_ref": "（2026）沪0101民初1234号",
            "legal_basis": "民事诉讼法第六十七条",
            "reason": "客户投诉调查",
            "after": "2026-02-01",
            "before": "2026-03-15",
            "conversations": ["conv-guard"],
            "outputs": ["view_only"],
        }
        r = client.post("/api/v1/requests", json=body, headers=agent)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        consent = "客户同意书（电子签名）".encode()
        r = client.post(
            f"/api/v1/requests/{rid}/attachments",
            params={"kind": "consent", "name": "同意书.pdf"},
            content=consent,
            headers={**agent, "Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["attachments"][0]["sha256"] == hashlib.sha256(consent).hexdigest()
        assert client.post(f"/api/v1/requests/{rid}/submit", headers=agent).status_code == 200
        box = client.get("/api/v1/inbox", headers=lead).json()
        assert [x["id"] for x in box["to_approve"]] == [rid]
        # The agent cannot approve their own request; the supervisor needs a valid TOTP.
        r = client.post(
            f"/api/v1/requests/{rid}/approve",
            json={"otp": otp(world.users["agent"], NOW)},
            headers=agent,
        )
        assert r.status_code == 403
        bad = client.post(f"/api/v1/requests/{rid}/approve", json={"otp": "000000"}, headers=lead)
        assert bad.status_code == 401
        clock.now = NOW + 30_000
        r = client.post(
            f"/api/v1/requests/{rid}/approve",
            json={"otp": otp(world.users["team_lead"], clock.now)},
            headers=lead,
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "approved"
        # Reads under the request: exactly the two guard records of February and early March.
        q = {"request_id": rid}
        scoped = {world.records[("inside", "old")], world.records[("inside", "month")]}
        hits = client.get("/api/v1/search", params={"q": "巡逻记录", **q}, headers=agent)
        assert {h["id"] for h in hits.json()["hits"]} == scoped
        for (side, when), record in world.records.items():
            r = client.get(f"/api/v1/messages/{record}", params=q, headers=agent)
            assert r.status_code == (200 if record in scoped else 404), (side, when)
        tl = client.get(
            "/api/v1/timeline", params={"after": "2026-01-01", "before": "2026-04-01", **q},
            headers=agent,
        )  # fmt: skip
        assert tl.status_code == 200, tl.text
        assert {e["id"] for e in tl.json()["entries"]} == scoped
        convs = client.get("/api/v1/conversations", params=q, headers=agent).json()
        assert [c["messages"] for c in convs["conversations"]] == [2]
        outside = world.conversations["outside"]  # no scoped record: as missing, title sealed
        r = client.get(f"/api/v1/conversations/{outside}/messages", params=q, headers=agent)
        assert r.status_code == 404 and "会话" not in r.text
        # No raw download under a request: only a released evidence package leaves.
        inside_old = world.records[("inside", "old")]
        r = client.get(f"/api/v1/messages/{inside_old}/download", params=q, headers=agent)
        assert r.status_code == 403 and "evidence package" in r.json()["detail"]
        # Without the request the agent has only this week; the old record stays hidden.
        old = world.records[("inside", "old")]
        assert client.get(f"/api/v1/messages/{old}", headers=agent).status_code == 404
        # Seven days after approval the request has expired: refused, saying so, audited.
        clock.now = NOW + 30_000 + 7 * DAY
        agent = _login(client, world, "agent", clock.now)
        r = client.get(f"/api/v1/messages/{old}", params=q, headers=agent)
        assert r.status_code == 403 and "expired" in r.json()["detail"]
        r = client.get("/api/v1/search", params={"q": "巡逻记录", **q}, headers=agent)
        assert r.status_code == 403
        assert client.get(f"/api/v1/requests/{rid}", headers=agent).json()["status"] == "expired"
    reads = [e for e in read_audit(vault) if e.details.get("request") == rid]
    views = [e for e in reads if e.action == "record.view"]
    assert {e.details["record"] for e in views} == scoped
    denied = [e for e in reads if e.action == "access.denied"]
    assert any("expired" in e.details["decision"]["reason"] for e in denied)
    assert [e.action for e in reads if e.action.startswith("request.")] == [
        "request.create", "request.attach", "request.submit", "request.approve", "request.expire",
        "request.view",
    ]  # fmt: skip
    assert [(n["transition"], n["to"]) for n in _Hook.received] == [
        ("submit", "submitted"),
        ("approve", "approved"),
    ]


def test_supervisor_change_through_dual_control(vault: Vault, tmp_path: Path) -> None:
    """An admin's change of supervisor waits for a second admin's TOTP confirmation."""
    world = build_world(vault, tmp_path)
    admin2 = make_user(vault, "admin2", None, [Tier.ADMIN])
    clock = Clock()
    with TestClient(create_app(vault, clock=clock), base_url="https://testserver") as client:
        admin = _login(client, world, "admin", NOW)
        r = client.post(
            "/api/v1/approvals",
            json={"action": "user.supervisor", "params": {"user": "agent", "supervisor": "legal"}},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        pending = r.json()["id"]
        other = client.post(
            "/api/v1/auth/login",
            json={"username": "admin2", "password": PASSWORD, "otp": otp(admin2, NOW)},
        ).json()["token"]
        client.cookies.clear()
        clock.now = NOW + 30_000
        r = client.post(
            f"/api/v1/approvals/{pending}/confirm",
            json={"otp": otp(admin2, clock.now)},
            headers={"Authorization": f"Bearer {other}"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "executed"
    changes = [e for e in read_audit(vault, "user.supervisor")]
    assert [(e.actor, e.details["supervisor"]) for e in changes] == [("admin2", "legal")]
