"""Users: enrolment, validation, and no plaintext names or secrets in clear columns."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from chatcustody.access import Role, Tier, local_actor
from chatcustody.errors import AccessDeniedError, ConflictError, UsageError
from chatcustody.identity import create_user, list_users, qr_svg
from chatcustody.store import schema as t
from chatcustody.vault import Vault
from tests.people import actor, make_user


def test_enrolment_hands_out_secrets_once_and_seals_them(vault: Vault) -> None:
    """The password and TOTP secret are printed once; the database holds neither in clear."""
    new = create_user(
        vault,
        local_actor(vault),
        "wang.min",
        Role.AGENT,
        display_name="王敏",
        email="wang.min@example.cn",
    )
    assert new.password and len(new.password) >= 16
    assert new.otpauth_uri.startswith("otpauth://totp/chatcustody:wang.min?secret=")
    assert "<svg" in qr_svg(new.otpauth_uri)
    with vault.engine.connect() as conn:
        row = conn.execute(select(t.users)).mappings().one()
    dump = repr(dict(row)).encode() + b"".join(
        bytes(v) for v in row.values() if isinstance(v, bytes | memoryview)
    )
    for secret in (
        "王敏".encode(),
        b"wang.min@example",
        new.totp_secret.encode(),
        new.password.encode(),
    ):
        assert secret not in dump
    assert row["password_hash"].startswith("$argon2id$")
    listed = list_users(vault, local_actor(vault))
    assert listed[0].display_name == "王敏" and listed[0].email == "wang.min@example.cn"


@pytest.mark.parametrize("name", ["A", "x", "has space", "os:root", "中文名", "-dash", "a" * 65])
def test_bad_usernames_are_refused(vault: Vault, name: str) -> None:
    """Usernames are 2-64 of a-z 0-9 . _ - (they name actors in the audit trail)."""
    with pytest.raises(UsageError):
        create_user(vault, local_actor(vault), name, Role.AGENT)


def test_duplicates_roleless_users_and_non_admins_are_refused(vault: Vault) -> None:
    """A taken name conflicts, a user needs a role or tier, only admins create users."""
    make_user(vault, "lead", Role.TEAM_LEAD)
    with pytest.raises(ConflictError):
        create_user(vault, local_actor(vault), "lead", Role.AGENT)
    with pytest.raises(UsageError):
        create_user(vault, local_actor(vault), "nobody", None, [])
    with pytest.raises(AccessDeniedError):
        create_user(vault, actor(vault, "lead"), "sneaky", Role.LEGAL)
    make_user(vault, "ops", None, [Tier.ADMIN])
    create_user(vault, actor(vault, "ops"), "newbie", Role.AGENT)
