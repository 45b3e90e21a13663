"""Logins, lockout, sessions and tokens: who gets in, for how long, and what is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from chatcustody.access import Action, Resource, Role, Tier, decide, local_actor
from chatcustody.audit import AuditQuery, query_audit
from chatcustody.errors import AuthenticationError, IntegrityError, LockedOutError, UsageError
from chatcustody.identity import (
    create_token,
    disable_user,
    login,
    logout,
    reset_otp,
    resolve,
)
from chatcustody.store import schema as t
from chatcustody.vault import Vault
from tests.people import NOW, PASSWORD, make_user, otp

MINUTE = 60_000
STEP = 30_000


def actions(vault: Vault, who: str) -> list[str]:
    return [e.action for e in query_audit(vault, AuditQuery(actor=who))]


def test_login_opens_a_session_and_every_attempt_is_audited(vault: Vault) -> None:
    """A right password and code open a session; wrong ones fail alike and are audited."""
    alice = make_user(vault, "alice", Role.LEGAL)
    with pytest.raises(AuthenticationError) as wrong_pw:
        login(vault, "alice", "nope-nope-nope", otp(alice), at_ms=NOW)
    with pytest.raises(AuthenticationError) as wrong_code:
        login(vault, "alice", PASSWORD, "000000" if otp(alice) != "000000" else "111111", at_ms=NOW)
    with pytest.raises(AuthenticationError) as nobody:
        login(vault, "mallory", PASSWORD, "123456", at_ms=NOW)
    assert str(wrong_pw.value) == str(wrong_code.value) == str(nobody.value)
    session = login(vault, "alice", PASSWORD, otp(alice), client="10.0.0.7", at_ms=NOW)
    who = resolve(vault, session.token, at_ms=NOW + MINUTE)
    assert who.name == "alice" and who.role is Role.LEGAL and who.token_scopes is None
    failed = list(query_audit(vault, AuditQuery(action="auth.login.failed")))
    assert [e.details["reason"] for e in failed] == [
        "wrong password",
        "wrong TOTP code",
        "unknown or inactive user",
    ]
    assert actions(vault, "alice")[-1] == "auth.login"
    with vault.engine.connect() as conn:
        stored = conn.execute(select(t.sessions.c.id)).scalars().all()
    assert session.token.encode() not in stored  # only its hash is kept


def test_totp_code_is_refused_when_replayed(vault: Vault) -> None:
    """A TOTP code used once is refused again within its step, and so is an older step."""
    bob = make_user(vault, "bob", Role.AGENT)
    code = otp(bob, NOW)
    login(vault, "bob", PASSWORD, code, at_ms=NOW)
    with pytest.raises(AuthenticationError):
        login(vault, "bob", PASSWORD, code, at_ms=NOW + 5_000)
    with pytest.raises(AuthenticationError):
        login(vault, "bob", PASSWORD, otp(bob, NOW - STEP), at_ms=NOW + 5_000)
    reasons = [e.details["reason"] for e in query_audit(vault, AuditQuery(actor="bob"))
               if e.action == "auth.login.failed"]  # fmt: skip
    assert reasons == ["TOTP code already used", "TOTP code already used"]
    login(vault, "bob", PASSWORD, otp(bob, NOW + STEP), at_ms=NOW + STEP)


def test_lockout_after_repeated_failures_then_cool_down(vault: Vault) -> None:
    """Five failures lock the account; even the right password is refused until cool-down."""
    carol = make_user(vault, "carol", Role.EXECUTIVE)
    threshold = vault.settings.lockout_threshold
    for i in range(threshold):
        with pytest.raises(AuthenticationError) as err:
            login(vault, "carol", "wrong-password", otp(carol), at_ms=NOW + i)
        assert not isinstance(err.value, LockedOutError)
    with pytest.raises(LockedOutError) as locked:
        login(vault, "carol", PASSWORD, otp(carol), at_ms=NOW + MINUTE)
    assert locked.value.http_status == 429 and locked.value.retry_after_s > 0
    assert "auth.login.locked" in actions(vault, "carol")
    later = NOW + (vault.settings.lockout_minutes + 1) * MINUTE
    login(vault, "carol", PASSWORD, otp(carol, later), at_ms=later)


def test_sessions_expire_and_can_be_revoked(vault: Vault) -> None:
    """Idle and absolute expiry, logout and disabling the user all end a session."""
    dave = make_user(vault, "dave", Role.TEAM_LEAD)
    s = vault.settings
    first = login(vault, "dave", PASSWORD, otp(dave, NOW), at_ms=NOW)
    resolve(vault, first.token, at_ms=NOW + (s.session_idle_minutes - 1) * MINUTE)
    with pytest.raises(AuthenticationError, match="expired"):
        resolve(vault, first.token, at_ms=NOW + (2 * s.session_idle_minutes) * MINUTE)
    t1 = NOW + STEP
    second = login(vault, "dave", PASSWORD, otp(dave, t1), at_ms=t1)
    at = t1
    while at < t1 + s.session_minutes * MINUTE - s.session_idle_minutes * MINUTE:
        at += (s.session_idle_minutes - 1) * MINUTE
        resolve(vault, second.token, at_ms=at)  # kept alive by use…
    with pytest.raises(AuthenticationError, match="expired"):
        resolve(vault, second.token, at_ms=t1 + s.session_minutes * MINUTE)  # …until its end
    t2 = t1 + STEP
    third = login(vault, "dave", PASSWORD, otp(dave, t2), at_ms=t2)
    logout(vault, third.token)
    with pytest.raises(AuthenticationError, match="revoked"):
        resolve(vault, third.token, at_ms=t2)
    t3 = t2 + STEP
    fourth = login(vault, "dave", PASSWORD, otp(dave, t3), at_ms=t3)
    disable_user(vault, local_actor(vault), "dave")
    with pytest.raises(AuthenticationError):
        resolve(vault, fourth.token, at_ms=t3)
    with pytest.raises(AuthenticationError):
        login(vault, "dave", PASSWORD, otp(dave, t3 + STEP), at_ms=t3 + STEP)
    assert "auth.logout" in actions(vault, "dave")


def test_api_tokens_carry_scope_and_expiry(vault: Vault) -> None:
    """A token acts only within its scopes and its user's rights, and expires."""
    make_user(vault, "bot", Role.LEGAL, [Tier.AUDITOR])
    token, expires = create_token(vault, "bot", ["search"], 1, "admin")
    who = resolve(vault, token)
    assert who.token_scopes == frozenset({"search"})
    assert decide(who, Action.SEARCH, Resource("collection")).allowed
    for action in (Action.READ, Action.READ_AUDIT, Action.TAG):
        d = decide(who, action, Resource("record", 1, 1, who.at_ms))
        assert not d.allowed and d.rule == "token_scope"
    with pytest.raises(AuthenticationError, match="expired"):
        resolve(vault, token, at_ms=expires)
    with pytest.raises(UsageError):
        create_token(vault, "bot", ["everything"], 1, "admin")
    with pytest.raises(UsageError):
        create_token(vault, "bot", ["search"], vault.settings.token_max_days + 1, "admin")
    audit_token, _ = create_token(vault, "bot", ["audit"], 1, "admin")
    assert decide(resolve(vault, audit_token), Action.READ_AUDIT, Resource("audit")).allowed


def test_reset_otp_revokes_sessions_and_old_codes(vault: Vault) -> None:
    """After a TOTP reset the old secret no longer logs in and old sessions are revoked."""
    erin = make_user(vault, "erin", Role.AGENT)
    session = login(vault, "erin", PASSWORD, otp(erin, NOW), at_ms=NOW)
    fresh = reset_otp(vault, local_actor(vault), "erin")
    with pytest.raises(AuthenticationError):
        resolve(vault, session.token, at_ms=NOW)
    later = NOW + STEP
    with pytest.raises(AuthenticationError):
        login(vault, "erin", PASSWORD, otp(erin, later), at_ms=later)
    login(vault, "erin", PASSWORD, otp(fresh, later + STEP), at_ms=later + STEP)


def test_role_written_into_the_database_is_refused(vault: Vault) -> None:
    """Editing a user's role or password hash by hand breaks its MAC: refused, loudly."""
    frank = make_user(vault, "frank", Role.AGENT)
    session = login(vault, "frank", PASSWORD, otp(frank, NOW), at_ms=NOW)
    with vault.begin() as conn:
        conn.execute(update(t.users).where(t.users.c.username == "frank").values(role="legal"))
    with pytest.raises(IntegrityError):
        resolve(vault, session.token, at_ms=NOW)
    with pytest.raises(IntegrityError):
        login(vault, "frank", PASSWORD, otp(frank, NOW + STEP), at_ms=NOW + STEP)
