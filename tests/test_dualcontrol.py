"""Dual control: a second, different, authorised person confirms with TOTP, in time."""

from __future__ import annotations

import pytest

from chatcustody.access import Action, Role, Tier
from chatcustody.audit import AuditQuery, query_audit
from chatcustody.dualcontrol import (
    confirm_action,
    list_actions,
    reject_action,
    request_action,
)
from chatcustody.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConflictError,
    UsageError,
)
from chatcustody.identity import list_users
from chatcustody.vault import Vault
from tests.people import NOW, actor, make_user, otp

STEP = 30_000


def test_role_elevation_needs_a_second_admin(vault: Vault) -> None:
    """The requester cannot confirm twice over; another admin with a code runs it once."""
    a1 = make_user(vault, "admin1", None, [Tier.ADMIN])
    a2 = make_user(vault, "admin2", None, [Tier.ADMIN])
    make_user(vault, "target", Role.AGENT)
    make_user(vault, "legal", Role.LEGAL)
    pending = request_action(
        vault, actor(vault, "admin1"), Action.ROLE_ELEVATE, {"user": "target", "role": "legal"}
    )
    assert pending.status == "pending"
    for at in (NOW, NOW + STEP):
        with pytest.raises(AccessDeniedError, match="second person"):
            confirm_action(vault, actor(vault, "admin1"), pending.id, otp(a1, at), at_ms=at)
    with pytest.raises(AccessDeniedError):  # legal may not elevate roles
        confirm_action(vault, actor(vault, "legal"), pending.id, "000000", at_ms=NOW)
    with pytest.raises(AuthenticationError):
        confirm_action(vault, actor(vault, "admin2"), pending.id, "12345x", at_ms=NOW)
    assert [p.id for p in list_actions(vault, actor(vault, "admin2"))] == [pending.id]
    assert list_actions(vault, actor(vault, "target")) == []
    done = confirm_action(vault, actor(vault, "admin2"), pending.id, otp(a2, NOW), at_ms=NOW)
    assert done.status == "executed" and done.decided_by == "admin2"
    roles = {u.username: u.role for u in list_users(vault, actor(vault, "admin1"))}
    assert roles["target"] is Role.LEGAL
    with pytest.raises(ConflictError):
        confirm_action(vault, actor(vault, "admin2"), pending.id, otp(a2, NOW + STEP), at_ms=NOW)
    refused = [
        e.details["decision"]["reason"]
        for e in query_audit(vault, AuditQuery(action="access.denied", actor="admin1"))
    ]
    assert len(refused) == 2 and all("second person" in r for r in refused)
    trail = [e.action for e in query_audit(vault, AuditQuery(action="approval"))]
    assert trail == ["approval.request", "approval.confirm"]


def test_expired_withdrawn_and_unavailable_actions(vault: Vault) -> None:
    """An action confirmed too late expires; a withdrawn one cannot run; bad parameters refuse."""
    make_user(vault, "admin1", None, [Tier.ADMIN])
    a2 = make_user(vault, "admin2", None, [Tier.ADMIN])
    make_user(vault, "target", Role.AGENT)
    first = request_action(vault, actor(vault, "admin1"), Action.USER_DELETE, {"user": "target"})
    late = first.expires_ms + 1
    with pytest.raises(ConflictError, match="expired"):
        confirm_action(vault, actor(vault, "admin2"), first.id, otp(a2, late), at_ms=late)
    second = request_action(vault, actor(vault, "admin1"), Action.KEYS_ROTATE, {})
    assert reject_action(vault, actor(vault, "admin1"), second.id).status == "withdrawn"
    with pytest.raises(ConflictError):
        confirm_action(vault, actor(vault, "admin2"), second.id, otp(a2, NOW), at_ms=NOW)
    with pytest.raises(UsageError, match="conversation"):  # parameters checked up front
        request_action(vault, actor(vault, "admin1"), Action.CRYPTO_SHRED, {})
    with pytest.raises(AccessDeniedError):
        request_action(vault, actor(vault, "target"), Action.KEYS_ROTATE, {})


def test_key_rotation_under_dual_control(vault: Vault) -> None:
    """A confirmed key rotation runs the real rotation and records its result."""
    make_user(vault, "admin1", None, [Tier.ADMIN])
    a2 = make_user(vault, "admin2", None, [Tier.ADMIN])
    pending = request_action(vault, actor(vault, "admin1"), Action.KEYS_ROTATE, {})
    done = confirm_action(vault, actor(vault, "admin2"), pending.id, otp(a2, NOW), at_ms=NOW)
    assert done.result is not None and done.result["new_version"] == 2
    assert [e.actor for e in query_audit(vault, AuditQuery(action="keys.rotate"))] == ["admin2"]
