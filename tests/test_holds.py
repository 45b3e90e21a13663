"""Legal holds: placed by legal, released only under dual control, and they block shredding."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatcustody.access import Action, Role, Tier
from chatcustody.audit import AuditQuery, query_audit
from chatcustody.dualcontrol import confirm_action, request_action
from chatcustody.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    UsageError,
)
from chatcustody.holds import get_hold, list_holds, place_hold
from chatcustody.reading import get_message
from chatcustody.vault import Vault
from tests.people import NOW, World, actor, build_world, make_user, otp

STEP = 30_000


@pytest.fixture
def world(vault: Vault, tmp_path: Path) -> World:
    """Return the seeded world plus a second legal user and a second admin."""
    w = build_world(vault, tmp_path)
    w.users["legal2"] = make_user(vault, "legal2", Role.LEGAL)
    w.users["admin2"] = make_user(vault, "admin2", None, [Tier.ADMIN])
    return w


def test_release_needs_a_second_legal_user_with_totp(vault: Vault, world: World) -> None:
    """Legal places a hold at once; its release waits for another legal user's fresh code."""
    conv = world.conversations["outside"]
    hold = place_hold(
        vault, actor(vault, "legal"), conv, "诉讼保全：劳动争议", "（2026）沪01民初123号"
    )
    assert hold.active and hold.conversation_id == conv
    assert get_hold(vault, hold.id).case == "（2026）沪01民初123号"
    pending = request_action(vault, actor(vault, "legal"), Action.HOLD_RELEASE, {"hold": hold.id})
    for at in (NOW, NOW + STEP):  # the requester can never confirm, whatever the code
        code = otp(world.users["legal"], at)
        with pytest.raises(AccessDeniedError, match="second person"):
            confirm_action(vault, actor(vault, "legal"), pending.id, code, at_ms=at)
    with pytest.raises(AccessDeniedError):  # admins do not release holds
        code = otp(world.users["admin"], NOW)
        confirm_action(vault, actor(vault, "admin"), pending.id, code, at_ms=NOW)
    with pytest.raises(AuthenticationError):
        confirm_action(vault, actor(vault, "legal2"), pending.id, "000000", at_ms=NOW)
    assert get_hold(vault, hold.id).active
    code = otp(world.users["legal2"], NOW)
    done = confirm_action(vault, actor(vault, "legal2"), pending.id, code, at_ms=NOW)
    assert done.status == "executed"
    assert done.result == {"hold": hold.id, "conversation": conv, "status": "released"}
    released = get_hold(vault, hold.id)
    assert not released.active and released.released_by == "legal2"
    with pytest.raises(ConflictError, match="already released"):
        request_action(vault, actor(vault, "legal"), Action.HOLD_RELEASE, {"hold": hold.id})
    trail = list(query_audit(vault, AuditQuery(action="hold")))
    assert [e.action for e in trail if e.action != "hold.list"] == ["hold.place", "hold.release"]
    placed = next(e for e in trail if e.action == "hold.place")
    assert placed.details["reason"] == "诉讼保全：劳动争议"
    release = next(e for e in trail if e.action == "hold.release")
    assert release.details["requested_by"] == "legal"
    assert release.details["confirmed_by"] == "legal2"
    assert release.details["approval"] == pending.id


def test_only_legal_places_holds_and_denials_are_audited(vault: Vault, world: World) -> None:
    """Admins, agents and executives cannot place holds; each refusal is an audit event."""
    conv = world.conversations["inside"]
    for name in ("admin", "agent", "executive", "auditor", "operator"):
        with pytest.raises(AccessDeniedError):
            place_hold(vault, actor(vault, name), conv, "reason", "case")
    denied = {e.actor for e in query_audit(vault, AuditQuery(action="access.denied"))}
    assert {"admin", "agent", "executive", "auditor", "operator"} <= denied
    with pytest.raises(UsageError, match="reason"):
        place_hold(vault, actor(vault, "legal"), conv, "  ", "case")
    with pytest.raises(NotFoundError):
        place_hold(vault, actor(vault, "legal"), 999_999, "reason", "case")


def test_listing_holds(vault: Vault, world: World) -> None:
    """Legal, admins and auditors list holds (active only on request); content roles do not."""
    inside, outside = world.conversations["inside"], world.conversations["outside"]
    first = place_hold(vault, actor(vault, "legal"), inside, "r1", "c1")
    second = place_hold(vault, actor(vault, "legal"), outside, "r2", "c2")
    pending = request_action(vault, actor(vault, "legal"), Action.HOLD_RELEASE, {"hold": first.id})
    code = otp(world.users["legal2"], NOW)
    confirm_action(vault, actor(vault, "legal2"), pending.id, code, at_ms=NOW)
    for name in ("legal", "admin", "auditor"):
        assert [h.id for h in list_holds(vault, actor(vault, name))] == [second.id, first.id]
        active = list_holds(vault, actor(vault, name), active_only=True)
        assert [h.id for h in active] == [second.id]
    assert [h.id for h in list_holds(vault, actor(vault, "legal"), conversation_id=inside)] == [
        first.id
    ]
    for name in ("agent", "team_lead", "executive", "operator"):
        with pytest.raises(AccessDeniedError):
            list_holds(vault, actor(vault, name))


def test_hold_blocks_shred_at_request_and_at_confirmation(vault: Vault, world: World) -> None:
    """A held conversation cannot be shredded, even when the hold came after the request."""
    conv = world.conversations["outside"]
    params = {"conversation": conv, "reason": "retention period over"}
    early = request_action(vault, actor(vault, "admin"), Action.CRYPTO_SHRED, params)
    hold = place_hold(vault, actor(vault, "legal"), conv, "new lawsuit", "case-7")
    with pytest.raises(ConflictError, match=f"legal hold \\({hold.id}\\)"):
        request_action(vault, actor(vault, "admin"), Action.CRYPTO_SHRED, params)
    code = otp(world.users["admin2"], NOW)
    with pytest.raises(ConflictError, match="under legal hold"):
        confirm_action(vault, actor(vault, "admin2"), early.id, code, at_ms=NOW)
    record = world.records[("outside", "week")]
    assert get_message(vault, actor(vault, "legal"), record)["text"] == "outside week 巡逻记录"
    failed = [e for e in query_audit(vault, AuditQuery(action="approval.failed"))]
    assert len(failed) == 1 and "legal hold" in failed[0].details["error"]
