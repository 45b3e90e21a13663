"""API behaviour beyond the matrix: problem details, cookies and CSRF, headers, rate limits."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from chatcustody.web import create_app
from tests.conftest import PASSPHRASE
from tests.people import NOW, PASSWORD, otp
from tests.web.conftest import Api

STEP = 30_000


def test_errors_are_problem_details(api: Api) -> None:
    """Errors answer RFC 9457 JSON: type, title, status, detail, instance."""
    c = api.client
    r = c.get("/api/v1/messages/999999", headers=api.headers("legal"))
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 404 and body["title"] == "Not Found"
    assert body["type"] == "urn:chatcustody:problem:not-found"
    assert body["instance"] == "/api/v1/messages/999999" and "999999" in body["detail"]
    r = c.get("/api/v1/messages/not-a-number", headers=api.headers("legal"))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][-1] == "message_id"
    r = c.get("/api/v1/conversations")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert c.get("/api/v1/nowhere").json()["status"] == 404
    assert (
        c.get("/api/v1/search", params={"q": "a\x00b"}, headers=api.headers("legal")).status_code
        == 422
    )


def test_out_of_scope_is_indistinguishable_from_missing(api: Api) -> None:
    """An agent asking for a record of another group gets the missing record's answer."""
    hidden = api.world.records[("outside", "week")]
    a = api.client.get(f"/api/v1/messages/{hidden}", headers=api.headers("agent")).json()
    b = api.client.get("/api/v1/messages/987654", headers=api.headers("agent")).json()
    assert a["detail"].replace(str(hidden), "N") == b["detail"].replace("987654", "N")
    assert a.keys() == b.keys() and a["status"] == b["status"] == 404


def test_security_headers(api: Api) -> None:
    """Every answer carries the security headers; the API forbids framing and scripts."""
    r = api.client.get("/api/v1/auth/me", headers=api.headers("agent"))
    assert r.json()["username"] == "agent"
    h = r.headers
    assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
    assert h["content-security-policy"].startswith("default-src 'none'")
    assert h["cache-control"] == "no-store" and h["referrer-policy"] == "no-referrer"
    assert "max-age" in h["strict-transport-security"]
    assert api.client.get("/openapi.json").json()["paths"]["/api/v1/search"]
    assert "swagger" in api.client.get("/docs").text.lower()


def test_cookie_sessions_need_the_csrf_token(api: Api) -> None:
    """With the session cookie, state changes need X-CSRF-Token; reads do not."""
    c = api.client
    login = c.post(
        "/api/v1/auth/login",
        json={
            "username": "team_lead",
            "password": PASSWORD,
            "otp": otp(api.world.users["team_lead"], NOW + STEP),
        },
    )
    assert login.status_code == 200
    assert "httponly" in login.headers["set-cookie"].lower()
    assert "samesite=strict" in login.headers["set-cookie"].lower()
    csrf = login.json()["csrf_token"]
    assert c.get("/api/v1/conversations").status_code == 200  # cookie only
    rid = api.world.records[("inside", "week")]
    r = c.post(f"/api/v1/messages/{rid}/tags", json={"name": "x"})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = c.post(
        f"/api/v1/messages/{rid}/tags", json={"name": "x"}, headers={"X-CSRF-Token": "0" * 64}
    )
    assert r.status_code == 403
    r = c.post(f"/api/v1/messages/{rid}/tags", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201 and r.json()["tags"] == ["x"]
    assert c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    c.cookies.clear()
    c.cookies.set("cc_session", login.json()["token"])
    assert c.get("/api/v1/conversations").status_code == 401  # revoked
    c.cookies.clear()


def test_login_rate_limit(api: Api) -> None:
    """Past the per-minute limit, logins from one address get 429 with Retry-After."""
    app = create_app(api.vault, clock=lambda: NOW)
    with TestClient(app, base_url="https://testserver") as c:
        limit = api.vault.settings.login_rate_per_minute
        codes = [
            c.post(
                "/api/v1/auth/login", json={"username": "ghost", "password": "x", "otp": "1"}
            ).status_code
            for _ in range(limit + 2)
        ]
    assert codes[:limit] == [401] * limit and codes[limit:] == [429, 429]


def test_tokens_and_approvals_over_the_api(api: Api) -> None:
    """A user mints a scoped token; two admins run a dual-control action; tokens can't."""
    c = api.client
    r = c.post(
        "/api/v1/auth/tokens", json={"scopes": ["search"], "days": 7}, headers=api.headers("legal")
    )
    assert r.status_code == 201
    token = {"Authorization": f"Bearer {r.json()['token']}"}
    assert c.get("/api/v1/search", params={"q": "巡逻"}, headers=token).status_code == 200
    assert c.get("/api/v1/conversations", headers=token).status_code == 403
    assert (
        c.post(
            "/api/v1/auth/tokens", json={"scopes": ["search"], "days": 1}, headers=token
        ).status_code
        == 403
    )
    c.post(
        "/api/v1/users",
        json={"username": "admin2", "tiers": ["admin"], "password": PASSWORD},
        headers=api.headers("admin"),
    )
    enrol = c.post("/api/v1/users/admin2/reset-otp", headers=api.headers("admin")).json()
    login = c.post(
        "/api/v1/auth/login",
        json={"username": "admin2", "password": PASSWORD, "otp": otp_of(enrol["totp_secret"], NOW)},
    ).json()
    c.cookies.clear()
    second = {"Authorization": f"Bearer {login['token']}"}
    asked = c.post(
        "/api/v1/approvals",
        json={"action": "role.elevate", "params": {"user": "agent", "role": "team_lead"}},
        headers=api.headers("admin"),
    ).json()
    mine = c.post(
        f"/api/v1/approvals/{asked['id']}/confirm",
        json={"otp": otp(api.world.users["admin"], NOW + STEP)},
        headers=api.headers("admin"),
    )
    assert mine.status_code == 403
    seen = c.get("/api/v1/approvals", params={"pending": True}, headers=second).json()
    assert [a["id"] for a in seen["approvals"]] == [asked["id"]]
    done = c.post(
        f"/api/v1/approvals/{asked['id']}/confirm",
        json={"otp": otp_of(enrol["totp_secret"], NOW + STEP)},
        headers=second,
    )
    assert done.status_code == 200 and done.json()["status"] == "executed"
    # The agent's session was revoked by the role change.
    assert c.get("/api/v1/auth/me", headers=api.headers("agent")).status_code == 401


def otp_of(secret: str, at: int) -> str:
    from chatcustody.identity import code_at

    return code_at(secret, at)


def test_server_workers_open_the_vault_from_the_environment(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server worker (serve --workers N) opens the vault named by the environment."""
    from chatcustody.web import app_from_environment

    monkeypatch.setenv("CHATCUSTODY_VAULT", str(api.vault.path))
    monkeypatch.setenv("CHATCUSTODY_PASSPHRASE", PASSPHRASE)
    if api.vault.settings.database_url:
        monkeypatch.setenv("CHATCUSTODY_DATABASE_URL", api.vault.settings.database_url)
    app = app_from_environment()
    try:
        with TestClient(app, base_url="https://testserver") as c:
            now = int(time.time() * 1000)  # a real clock: log in afresh
            code = otp(api.world.users["auditor"], now)
            login = c.post(
                "/api/v1/auth/login",
                json={"username": "auditor", "password": PASSWORD, "otp": code},
            )
            bearer = {"Authorization": f"Bearer {login.json()['token']}"}
            assert c.get("/api/v1/auth/me", headers=bearer).json()["tiers"] == ["auditor"]
    finally:
        app.state.context.vault.close()
