"""/api/v1/holds and /api/v1/conversations/{id}/shred: holds, releases and shreds end to end."""

from __future__ import annotations

from chatcustody.access import Role, Tier
from tests.people import NOW, PASSWORD, make_user, otp
from tests.web.conftest import Api

STEP = 30_000


def _login(api: Api, name: str, role: Role | None, tiers: list[Tier]) -> tuple[dict[str, str], str]:
    """Create a user, log them in; return their headers and TOTP secret."""
    enrolment = make_user(api.vault, name, role, tiers)
    r = api.client.post(
        "/api/v1/auth/login",
        json={"username": name, "password": PASSWORD, "otp": otp(enrolment, NOW)},
    )
    assert r.status_code == 200, r.text
    api.client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}, enrolment.totp_secret


def _code(secret: str) -> str:
    from chatcustody.identity import code_at

    return code_at(secret, NOW + STEP)


def test_hold_release_and_shred_through_the_api(api: Api) -> None:
    """Legal holds, a held shred is refused (409), releases and shreds need a second person."""
    c = api.client
    conv = api.world.conversations["outside"]
    legal2, legal2_secret = _login(api, "legal2", Role.LEGAL, [])
    admin2, admin2_secret = _login(api, "admin2", None, [Tier.ADMIN])
    body = {"conversation_id": conv, "reason": "劳动争议诉讼保全", "case": "（2026）沪01民初1号"}
    assert c.post("/api/v1/holds", json=body, headers=api.headers("agent")).status_code == 403
    assert c.post("/api/v1/holds", json=body, headers=api.headers("admin")).status_code == 403
    placed = c.post("/api/v1/holds", json=body, headers=api.headers("legal"))
    assert placed.status_code == 201 and placed.json()["active"] is True
    hold = placed.json()["id"]
    listed = c.get("/api/v1/holds", params={"active": True}, headers=api.headers("auditor"))
    assert [h["id"] for h in listed.json()["holds"]] == [hold]
    assert c.get("/api/v1/holds", headers=api.headers("agent")).status_code == 403
    shred = {"reason": "retention period over"}
    url = f"/api/v1/conversations/{conv}/shred"
    refused = c.post(url, json=shred, headers=api.headers("admin"))
    assert refused.status_code == 409 and "legal hold" in refused.json()["detail"]
    asked = c.post(f"/api/v1/holds/{hold}/release", headers=api.headers("legal"))
    assert asked.status_code == 201 and asked.json()["action"] == "hold.release"
    confirm = f"/api/v1/approvals/{asked.json()['id']}/confirm"
    own = c.post(
        confirm,
        json={"otp": otp(api.world.users["legal"], NOW + STEP)},
        headers=api.headers("legal"),
    )
    assert own.status_code == 403
    done = c.post(confirm, json={"otp": _code(legal2_secret)}, headers=legal2)
    assert done.status_code == 200 and done.json()["status"] == "executed"
    asked = c.post(url, json=shred, headers=api.headers("admin"))
    assert asked.status_code == 201 and asked.json()["action"] == "crypto.shred"
    confirm = f"/api/v1/approvals/{asked.json()['id']}/confirm"
    done = c.post(confirm, json={"otp": _code(admin2_secret)}, headers=admin2)
    assert done.status_code == 200 and done.json()["result"]["records"] == 3
    record = api.world.records[("outside", "old")]
    gone = c.get(f"/api/v1/messages/{record}", headers=api.headers("legal"))
    assert gone.status_code == 410
    assert f"conversation {conv} was crypto-shredded" in gone.json()["detail"]
    kept = api.world.records[("inside", "old")]
    assert c.get(f"/api/v1/messages/{kept}", headers=api.headers("legal")).status_code == 200
