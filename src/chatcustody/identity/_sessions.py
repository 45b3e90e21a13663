"""Logins, server-side sessions, API tokens, and TOTP checks with replay refusal.

- A session or token is a random bearer secret (``ccs_…`` / ``cct_…``); only its SHA-256
  is stored, so a copy of the database holds no usable credential.
- A session expires ``session_minutes`` after login or ``session_idle_minutes`` after its
  last use, whichever comes first; logout, disabling the user, a password or TOTP reset or
  a role change revoke it. An API token carries explicit scopes and an expiry.
- ``lockout_threshold`` failed logins in a row lock the account for ``lockout_minutes``;
  while locked, logins are refused without looking at the password.
- A TOTP code is accepted once: the step it belongs to must be later than the last step
  the user used (a code replayed within its 30 seconds is refused).
- Every login, failed or not, is an audit event (the reason stays in the audit trail; the
  caller only learns "invalid username, password or code").
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, insert, select, update

from chatcustody._env import now_ms
from chatcustody.access import TOKEN_SCOPES, Actor, Role, load_grants
from chatcustody.audit import append_audit, record_audit
from chatcustody.errors import AuthenticationError, LockedOutError, NotFoundError, UsageError
from chatcustody.identity._secrets import check_password, matching_step
from chatcustody.identity._users import (
    ACTIVE,
    USERNAME,
    claim_step,
    parse_tiers,
    seal_mac,
    totp_secret,
    user_row,
    user_row_by_id,
)
from chatcustody.store import schema as t
from chatcustody.vault import Vault

SESSION_PREFIX: Final[str] = "ccs_"
TOKEN_PREFIX: Final[str] = "cct_"
_TOKEN_BYTES: Final[int] = 32
_TOUCH_EVERY_MS: Final[int] = 60_000  # idle clock resolution: at most one write a minute
_MS_PER_MINUTE: Final[int] = 60_000
_MS_PER_DAY: Final[int] = 86_400_000
INVALID: Final[str] = "invalid username, password or code"


@dataclass(frozen=True)
class Login:
    """A successful login: the bearer secret (shown once), its expiry and CSRF token."""

    token: str
    username: str
    expires_ms: int
    csrf: str

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form of the login answer."""
        return {
            "token": self.token,
            "token_type": "bearer",
            "username": self.username,
            "expires_ms": self.expires_ms,
            "csrf_token": self.csrf,
        }


def token_hash(token: str) -> bytes:
    """Return the stored form of a bearer secret."""
    return hashlib.sha256(token.encode()).digest()


def csrf_token(vault: Vault, token: str) -> str:
    """Return the CSRF token tied to a session (an HMAC, so nothing more is stored)."""
    return hmac.new(vault.service["access"], b"csrf|" + token_hash(token), "sha256").hexdigest()


def _fail(
    vault: Vault, username: str, reason: str, client: str, user_id: int | None, at: int
) -> None:
    """Count a failed login (locking the account at the threshold) and audit it."""
    s = vault.settings
    details: dict[str, Any] = {"user": username, "reason": reason, "client": client}
    with vault.begin() as conn:
        if user_id is not None:
            row = user_row_by_id(vault, conn, user_id)
            failed = int(row["failed_logins"]) + 1
            values: dict[str, Any] = {"failed_logins": failed}
            if failed >= s.lockout_threshold:
                values = {
                    "failed_logins": 0,
                    "locked_until_ms": at + s.lockout_minutes * _MS_PER_MINUTE,
                }
                details["locked_until_ms"] = values["locked_until_ms"]
            conn.execute(update(t.users).where(t.users.c.id == user_id).values(values))
            details["failed_logins"] = failed
        writer = vault.ledger_writer(conn)
        append_audit(vault, conn, writer, "auth.login.failed", details, username)
        writer.commit_head(now_ms())


def login(
    vault: Vault, username: str, password: str, otp: str, client: str = "", at_ms: int | None = None
) -> Login:
    """Check password and TOTP; open a session or raise AuthenticationError."""
    at = now_ms() if at_ms is None else at_ms
    if not USERNAME.fullmatch(username):
        row = None
        username = "(malformed)"
    else:
        with vault.engine.connect() as conn:
            row = user_row(vault, conn, username)
    if row is None or row["status"] != ACTIVE:
        check_password(vault.settings, None, password)
        _fail(vault, username, "unknown or inactive user", client, None, at)
        raise AuthenticationError(INVALID)
    locked = row["locked_until_ms"]
    if locked is not None and locked > at:
        retry = (int(locked) - at + 999) // 1000
        record_audit(
            vault,
            "auth.login.locked",
            {"user": username, "client": client, "locked_until_ms": int(locked)},
            username,
        )
        raise LockedOutError(
            f"too many failed logins: {username} is locked for {retry} more seconds", retry
        )
    if not check_password(vault.settings, row["password_hash"], password):
        _fail(vault, username, "wrong password", client, int(row["id"]), at)
        raise AuthenticationError(INVALID)
    secret = totp_secret(vault, row)
    step = matching_step(secret, otp, at) if secret else None
    if step is None:
        _fail(vault, username, "wrong TOTP code", client, int(row["id"]), at)
        raise AuthenticationError(INVALID)
    token = SESSION_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    expires = at + vault.settings.session_minutes * _MS_PER_MINUTE
    with vault.begin() as conn:
        if not claim_step(vault, conn, int(row["id"]), step):
            replayed = True
        else:
            replayed = False
            conn.execute(
                update(t.users)
                .where(t.users.c.id == row["id"])
                .values(failed_logins=0, locked_until_ms=None)
            )
            conn.execute(
                insert(t.sessions).values(
                    id=token_hash(token),
                    user_id=row["id"],
                    kind="session",
                    scopes=None,
                    created_ms=at,
                    expires_ms=expires,
                    last_seen_ms=at,
                    revoked_ms=None,
                )
            )
            writer = vault.ledger_writer(conn)
            append_audit(
                vault,
                conn,
                writer,
                "auth.login",
                {"user": username, "client": client, "session": token_hash(token).hex()[:12]},
                username,
            )
            writer.commit_head(now_ms())
    if replayed:
        _fail(vault, username, "TOTP code already used", client, int(row["id"]), at)
        raise AuthenticationError(INVALID)
    return Login(token, username, expires, csrf_token(vault, token))


def verify_otp(vault: Vault, actor: Actor, otp: str, at_ms: int | None = None) -> bool:
    """Check a fresh TOTP code of the acting user (dual control); refuse replays."""
    if actor.user_id is None:
        return False
    at = now_ms() if at_ms is None else at_ms
    with vault.begin() as conn:
        row = user_row_by_id(vault, conn, actor.user_id)
        secret = totp_secret(vault, row)
        step = matching_step(secret, otp, at) if secret else None
        return step is not None and claim_step(vault, conn, actor.user_id, step)


def resolve(vault: Vault, token: str, client: str = "", at_ms: int | None = None) -> Actor:
    """Return the actor behind a bearer secret, or raise AuthenticationError."""
    at = now_ms() if at_ms is None else at_ms
    if not token.startswith((SESSION_PREFIX, TOKEN_PREFIX)):
        raise AuthenticationError("not a chatcustody session or API token")
    key = token_hash(token)
    with vault.engine.connect() as conn:
        sess = conn.execute(select(t.sessions).where(t.sessions.c.id == key)).mappings().first()
        if sess is None:
            raise AuthenticationError("unknown session or token: log in again")
        idle = vault.settings.session_idle_minutes * _MS_PER_MINUTE
        if sess["revoked_ms"] is not None:
            raise AuthenticationError("the session or token was revoked: log in again")
        if at >= sess["expires_ms"] or (
            sess["kind"] == "session" and at >= sess["last_seen_ms"] + idle
        ):
            raise AuthenticationError("the session or token expired: log in again")
        row = user_row_by_id(vault, conn, int(sess["user_id"]))
        if row["status"] != ACTIVE:
            raise AuthenticationError(f"{row['username']} is {row['status']}")
        scopes = sess["scopes"]
        actor = _actor(
            vault,
            conn,
            row,
            at,
            None if sess["kind"] == "session" else frozenset(scopes.split(",")),
            key.hex()[:12],
        )
    if sess["kind"] == "session" and at - int(sess["last_seen_ms"]) >= _TOUCH_EVERY_MS:
        with vault.begin() as conn:
            conn.execute(update(t.sessions).where(t.sessions.c.id == key).values(last_seen_ms=at))
    return actor


def _actor(
    vault: Vault,
    conn: Connection,
    row: Mapping[Any, Any],
    at: int,
    scopes: frozenset[str] | None,
    session: str | None,
) -> Actor:
    groups, conversations = load_grants(vault, conn, int(row["id"]))
    return Actor(
        name=str(row["username"]),
        user_id=int(row["id"]),
        role=Role(row["role"]) if row["role"] else None,
        tiers=parse_tiers(row["tiers"]),
        groups=groups,
        conversations=conversations,
        at_ms=at,
        tz=vault.default_tz,
        active=row["status"] == ACTIVE,
        token_scopes=scopes,
        session=session,
    )


def actor_of(vault: Vault, username: str, at_ms: int | None = None) -> Actor:
    """Return the actor a user is, judged at ``at_ms`` (for local tools and tests)."""
    with vault.engine.connect() as conn:
        row = user_row(vault, conn, username)
        if row is None:
            raise NotFoundError(f"user {username!r} not found")
        return _actor(vault, conn, row, now_ms() if at_ms is None else at_ms, None, None)


def logout(vault: Vault, token: str) -> None:
    """Revoke the session or token (idempotent) and audit it."""
    key = token_hash(token)
    with vault.begin() as conn:
        sess = conn.execute(select(t.sessions).where(t.sessions.c.id == key)).mappings().first()
        if sess is None:
            return
        if sess["revoked_ms"] is None:
            conn.execute(
                update(t.sessions).where(t.sessions.c.id == key).values(revoked_ms=now_ms())
            )
        username = conn.execute(
            select(t.users.c.username).where(t.users.c.id == sess["user_id"])
        ).scalar_one()
        writer = vault.ledger_writer(conn)
        append_audit(vault, conn, writer, "auth.logout", {"session": key.hex()[:12]}, str(username))
        writer.commit_head(now_ms())


def create_token(
    vault: Vault, username: str, scopes: Iterable[str], days: int, actor_name: str
) -> tuple[str, int]:
    """Issue an API token for ``username`` with explicit scopes; return (token, expires_ms).

    A token never carries more than its user's rights: decide() applies the user's role
    and tiers, and the token's scopes narrow them further. Callers check who may issue.
    """
    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in TOKEN_SCOPES]
    if not wanted or unknown:
        raise UsageError(
            f"token scopes must be among {', '.join(sorted(TOKEN_SCOPES))}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    if not 1 <= days <= vault.settings.token_max_days:
        raise UsageError(f"a token lives 1 to {vault.settings.token_max_days} days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    at = now_ms()
    expires = at + days * _MS_PER_DAY
    with vault.begin() as conn:
        row = user_row(vault, conn, username)
        if row is None or row["status"] != ACTIVE:
            raise UsageError(f"user {username!r} is not an active user")
        conn.execute(
            insert(t.sessions).values(
                id=token_hash(token),
                user_id=row["id"],
                kind="token",
                scopes=",".join(wanted),
                created_ms=at,
                expires_ms=expires,
                last_seen_ms=at,
                revoked_ms=None,
            )
        )
        writer = vault.ledger_writer(conn)
        append_audit(
            vault,
            conn,
            writer,
            "token.create",
            {
                "user": username,
                "scopes": wanted,
                "expires_ms": expires,
                "token": token_hash(token).hex()[:12],
            },
            actor_name,
        )
        writer.commit_head(now_ms())
    return token, expires


__all__ = [
    "INVALID",
    "actor_of",
    "Login",
    "create_token",
    "csrf_token",
    "login",
    "logout",
    "resolve",
    "seal_mac",
    "token_hash",
    "verify_otp",
]
