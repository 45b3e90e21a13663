"""Users: create, list, disable, reset TOTP, change roles, delete.

A user holds at most one business role and any system tiers. Usernames are clear (they
name actors in the audit trail); the display name and e-mail (``profile_enc``) and the
TOTP secret (``totp_enc``) are sealed with the access key, bound to the user's id and
username. The granting columns are covered by the row MAC (``access._sealing``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, insert, or_, select, update

from chatcustody._env import now_ms
from chatcustody.access import (
    COLLECTION,
    Action,
    Actor,
    Resource,
    Role,
    Tier,
    check_mac,
    decision_details,
    enforce,
    open_value,
    row_mac,
    seal_value,
)
from chatcustody.audit import append_audit
from chatcustody.errors import ConflictError, NotFoundError, UsageError
from chatcustody.identity._secrets import (
    MIN_PASSWORD_CHARS,
    hash_password,
    new_password,
    new_totp_secret,
    otpauth_uri,
)
from chatcustody.store import schema as t
from chatcustody.vault import Vault, next_id

USERNAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
ACTIVE: Final[str] = "active"
DISABLED: Final[str] = "disabled"
DELETED: Final[str] = "deleted"


@dataclass(frozen=True)
class User:
    """A user as admins see it (no secrets)."""

    id: int
    username: str
    role: Role | None
    tiers: frozenset[Tier]
    status: str
    display_name: str | None
    email: str | None
    created_ms: int
    locked_until_ms: int | None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role.value if self.role else None,
            "tiers": sorted(t.value for t in self.tiers),
            "status": self.status,
            "display_name": self.display_name,
            "email": self.email,
            "created_ms": self.created_ms,
            "locked_until_ms": self.locked_until_ms,
        }


@dataclass(frozen=True)
class Enrolment:
    """What a new user (or a TOTP reset) is handed once: password and TOTP secret."""

    username: str
    password: str | None
    totp_secret: str
    otpauth_uri: str

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (printed once, never stored in the clear)."""
        return {
            "username": self.username,
            "password": self.password,
            "totp_secret": self.totp_secret,
            "otpauth_uri": self.otpauth_uri,
        }


def _tiers_text(tiers: Iterable[Tier]) -> str:
    return ",".join(sorted(t.value for t in tiers))


def _totp_aad(uid: int, username: str) -> bytes:
    return f"users|{uid}|{username}|totp".encode()


def _profile_aad(uid: int, username: str) -> bytes:
    return f"users|{uid}|{username}|profile".encode()


def _mac_parts(row: Mapping[Any, Any]) -> tuple[object, ...]:
    totp = row["totp_enc"]
    return (
        row["id"],
        row["username"],
        row["role"] or "",
        row["tiers"],
        row["status"],
        row["password_hash"] or "",
        hashlib.sha256(bytes(totp)).hexdigest() if totp is not None else "",
        row["created_ms"],
    )


def seal_mac(vault: Vault, row: dict[str, Any]) -> dict[str, Any]:
    """Set the row's MAC from its granting columns; return the row."""
    row["mac"] = row_mac(vault, "users", *_mac_parts(row))
    return row


def user_row(vault: Vault, conn: Connection, username: str) -> dict[str, Any] | None:
    """Return a user's row with its MAC checked, or None."""
    row = conn.execute(select(t.users).where(t.users.c.username == username)).mappings().first()
    if row is None:
        return None
    check_mac(vault, row["mac"], "users", *_mac_parts(row))
    return dict(row)


def user_row_by_id(vault: Vault, conn: Connection, user_id: int) -> dict[str, Any]:
    """Return a user's row by id with its MAC checked."""
    row = conn.execute(select(t.users).where(t.users.c.id == user_id)).mappings().one()
    check_mac(vault, row["mac"], "users", *_mac_parts(row))
    return dict(row)


def totp_secret(vault: Vault, row: Mapping[Any, Any]) -> str | None:
    """Return a user's TOTP secret, or None when none is enrolled."""
    if row["totp_enc"] is None:
        return None
    what = f"user {row['username']} TOTP secret"
    return str(open_value(vault, _totp_aad(row["id"], row["username"]), row["totp_enc"], what))


def _to_user(vault: Vault, row: Mapping[Any, Any]) -> User:
    profile: dict[str, Any] = {}
    if row["profile_enc"] is not None:
        aad = _profile_aad(row["id"], row["username"])
        profile = open_value(vault, aad, row["profile_enc"], f"user {row['username']} profile")
    return User(
        int(row["id"]),
        str(row["username"]),
        Role(row["role"]) if row["role"] else None,
        parse_tiers(row["tiers"]),
        str(row["status"]),
        profile.get("display_name"),
        profile.get("email"),
        int(row["created_ms"]),
        row["locked_until_ms"],
    )


def user_by_id(vault: Vault, conn: Connection, user_id: int) -> User:
    """Return a user (profile opened, MAC checked) by id: notifications need the e-mail."""
    return _to_user(vault, user_row_by_id(vault, conn, user_id))


def parse_tiers(text: str) -> frozenset[Tier]:
    """Return the tiers stored as ``a,b``."""
    return frozenset(Tier(v) for v in text.split(",") if v)


def check_roles(role: Role | None, tiers: Iterable[Tier]) -> None:
    """Refuse a user holding neither a business role nor a system tier."""
    if role is None and not list(tiers):
        raise UsageError("a user needs a business role (--role) or a system tier (--tier)")


def create_user(
    vault: Vault,
    actor: Actor,
    username: str,
    role: Role | None,
    tiers: Iterable[Tier] = (),
    password: str | None = None,
    display_name: str | None = None,
    email: str | None = None,
) -> Enrolment:
    """Create a user with an argon2id password and an enrolled TOTP secret."""
    tiers = frozenset(tiers)
    if not USERNAME.fullmatch(username):
        raise UsageError(
            f"bad username {username!r}: 2-64 of a-z 0-9 . _ - (starting with a letter or digit)"
        )
    check_roles(role, tiers)
    if password is not None and len(password) < MIN_PASSWORD_CHARS:
        raise UsageError(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    decision = enforce(vault, actor, Action.MANAGE_USERS, Resource("user", username))
    chosen = password or new_password()
    secret = new_totp_secret()
    hashed = hash_password(vault.settings, chosen)
    with vault.begin() as conn:
        if conn.execute(select(t.users.c.id).where(t.users.c.username == username)).first():
            raise ConflictError(f"user {username!r} already exists")
        uid = next_id(conn, t.users)
        row: dict[str, Any] = {
            "id": uid,
            "username": username,
            "role": role.value if role else None,
            "tiers": _tiers_text(tiers),
            "status": ACTIVE,
            "password_hash": hashed,
            "totp_enc": seal_value(vault, _totp_aad(uid, username), secret),
            "totp_step": None,
            "profile_enc": seal_value(
                vault, _profile_aad(uid, username), {"display_name": display_name, "email": email}
            ),
            "failed_logins": 0,
            "locked_until_ms": None,
            "created_ms": now_ms(),
        }
        conn.execute(insert(t.users).values(seal_mac(vault, row)))
        writer = vault.ledger_writer(conn)
        append_audit(
            vault,
            conn,
            writer,
            "user.create",
            decision_details(
                actor,
                decision,
                user=username,
                role=row["role"],
                tiers=sorted(x.value for x in tiers),
            ),
            actor.name,
        )
        writer.commit_head(now_ms())
    return Enrolment(
        username,
        None if password else chosen,
        secret,
        otpauth_uri(secret, username, vault.settings.totp_issuer),
    )


def list_users(vault: Vault, actor: Actor) -> list[User]:
    """Return every user (admins)."""
    enforce(vault, actor, Action.MANAGE_USERS, COLLECTION)
    with vault.engine.connect() as conn:
        rows = conn.execute(select(t.users).order_by(t.users.c.username)).mappings().all()
        for row in rows:
            check_mac(vault, row["mac"], "users", *_mac_parts(row))
        return [_to_user(vault, row) for row in rows]


def _change(
    vault: Vault,
    actor: Actor,
    username: str,
    audit_action: str,
    changes: Mapping[Any, Any],
    action: Action = Action.MANAGE_USERS,
    revoke: bool = False,
    **details: Any,
) -> dict[str, Any]:
    """Apply column changes to a user (MAC renewed), revoke sessions when asked, audit."""
    decision = enforce(vault, actor, action, Resource("user", username))
    with vault.begin() as conn:
        row = user_row(vault, conn, username)
        if row is None or row["status"] == DELETED:
            raise NotFoundError(f"user {username!r} not found")
        row.update(changes)
        values = {k: row[k] for k in changes}
        values["mac"] = seal_mac(vault, row)["mac"]
        conn.execute(update(t.users).where(t.users.c.id == row["id"]).values(values))
        if changes.get("status", ACTIVE) != ACTIVE or revoke:
            conn.execute(
                update(t.sessions)
                .where(t.sessions.c.user_id == row["id"], t.sessions.c.revoked_ms.is_(None))
                .values(revoked_ms=now_ms())
            )
        writer = vault.ledger_writer(conn)
        append_audit(
            vault,
            conn,
            writer,
            audit_action,
            decision_details(actor, decision, user=username, **details),
            actor.name,
        )
        writer.commit_head(now_ms())
    return row


def disable_user(vault: Vault, actor: Actor, username: str) -> None:
    """Disable a user and revoke their sessions and tokens."""
    _change(vault, actor, username, "user.disable", {"status": DISABLED})


def enable_user(vault: Vault, actor: Actor, username: str) -> None:
    """Enable a disabled user again."""
    _change(vault, actor, username, "user.enable", {"status": ACTIVE, "failed_logins": 0})


def reset_otp(vault: Vault, actor: Actor, username: str) -> Enrolment:
    """Enrol a fresh TOTP secret (the old one stops working; sessions are revoked)."""
    enforce(vault, actor, Action.MANAGE_USERS, Resource("user", username))
    secret = new_totp_secret()
    with vault.engine.connect() as conn:
        row = user_row(vault, conn, username)
    if row is None:
        raise NotFoundError(f"user {username!r} not found")
    sealed = seal_value(vault, _totp_aad(row["id"], username), secret)
    _change(
        vault,
        actor,
        username,
        "user.reset_otp",
        {"totp_enc": sealed, "totp_step": None},
        revoke=True,
    )
    return Enrolment(
        username, None, secret, otpauth_uri(secret, username, vault.settings.totp_issuer)
    )


def set_password(vault: Vault, actor: Actor, username: str, password: str) -> None:
    """Set a user's password (admins); their sessions are revoked."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsageError(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    hashed = hash_password(vault.settings, password)
    _change(vault, actor, username, "user.set_password", {"password_hash": hashed}, revoke=True)


def set_roles(
    vault: Vault, actor: Actor, username: str, role: Role | None, tiers: Iterable[Tier]
) -> None:
    """Change a user's role and tiers (run by dual control: role elevation)."""
    tiers = frozenset(tiers)
    check_roles(role, tiers)
    _change(
        vault,
        actor,
        username,
        "user.set_roles",
        {"role": role.value if role else None, "tiers": _tiers_text(tiers)},
        action=Action.ROLE_ELEVATE,
        role=role.value if role else None,
        tiers=sorted(x.value for x in tiers),
        revoke=True,
    )


def delete_user(vault: Vault, actor: Actor, username: str) -> None:
    """Delete a user (run by dual control): erase secrets and profile, keep the name.

    The username stays reserved because the audit trail names it.
    """
    _change(
        vault,
        actor,
        username,
        "user.delete",
        {
            "status": DELETED,
            "password_hash": None,
            "totp_enc": None,
            "totp_step": None,
            "profile_enc": None,
        },
        action=Action.USER_DELETE,
    )


def claim_step(vault: Vault, conn: Connection, user_id: int, step: int) -> bool:
    """Record ``step`` as the user's last accepted TOTP step; False when not newer (replay).

    One conditional UPDATE, so two requests racing with the same code cannot both win.
    """
    result = conn.execute(
        update(t.users)
        .where(
            t.users.c.id == user_id,
            or_(t.users.c.totp_step.is_(None), t.users.c.totp_step < step),
        )
        .values(totp_step=step)
    )
    return result.rowcount == 1


def user_exists(vault: Vault, username: str) -> bool:
    """Return True when a user of that name exists (any status)."""
    with vault.engine.connect() as conn:
        return (
            conn.execute(select(t.users.c.id).where(t.users.c.username == username)).first()
            is not None
        )
