"""Shared by the identity, access and web tests: users per role, records in and out of scope.

The clock is fixed at Friday 2026-03-20 12:00 in Asia/Shanghai. Two conversations, one in
the guard group and one outside it, each hold a record this week, one earlier this month
(previous week) and one last month.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from chatcustody.access import Actor, Role, Tier, add_to_group, create_group, local_actor
from chatcustody.identity import Enrolment, actor_of, code_at, create_user
from chatcustody.ingest import import_file
from chatcustody.model import to_epoch_ms
from chatcustody.vault import Vault
from tests.conftest import message, write_jsonl

# Cheap password hashing in tests; real users get the defaults (64 MiB, 3 passes).
os.environ.setdefault("CHATCUSTODY_PASSWORD_MEMORY_KIB", "1024")
os.environ.setdefault("CHATCUSTODY_PASSWORD_ITERATIONS", "1")

ZONE: Final = ZoneInfo("Asia/Shanghai")
NOW: Final[int] = to_epoch_ms(datetime(2026, 3, 20, 12, 0, tzinfo=ZONE))
WHEN: Final[dict[str, str]] = {
    "week": "2026-03-20T08:30:00+08:00",
    "month": "2026-03-10T09:00:00+08:00",
    "old": "2026-02-10T09:00:00+08:00",
}
PASSWORD: Final[str] = "pass-word-0123"
ROLES: Final[dict[str, tuple[Role | None, tuple[Tier, ...]]]] = {
    "agent": (Role.AGENT, ()),
    "team_lead": (Role.TEAM_LEAD, ()),
    "legal": (Role.LEGAL, ()),
    "executive": (Role.EXECUTIVE, ()),
    "operator": (None, (Tier.OPERATOR,)),
    "admin": (None, (Tier.ADMIN,)),
    "auditor": (None, (Tier.AUDITOR,)),
}
GROUP: Final[str] = "护卫队"


@dataclass(frozen=True)
class World:
    """Record ids by (conversation side, time) and conversation ids by side."""

    records: dict[tuple[str, str], int]
    conversations: dict[str, int]
    users: dict[str, Enrolment]


def seed_records(vault: Vault, tmp_path: Path) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """Import six records: (inside|outside the group) × (week|month|old)."""
    msgs = []
    for side, conv in (("inside", "conv-guard"), ("outside", "conv-finance")):
        for when, ts in WHEN.items():
            msgs.append(
                message(
                    conversation_id=conv,
                    conversation_name=f"{side} 会话",
                    message_id=f"{side}-{when}",
                    timestamp=ts,
                    text=f"{side} {when} 巡逻记录",
                )
            )
    result = import_file(vault, write_jsonl(tmp_path / "seed.jsonl", msgs))
    assert result.error is None
    from sqlalchemy import select

    from chatcustody.rows import open_row
    from chatcustody.store import schema as t

    records: dict[tuple[str, str], int] = {}
    conversations: dict[str, int] = {}
    with vault.engine.connect() as conn:
        for row in conn.execute(select(t.records)).mappings():
            fields = open_row(
                "records", row, vault.conversation_cipher(conn, row["conversation_id"])
            ).fields
            side, when = str(fields["message_id"]).split("-")
            records[(side, when)] = int(row["id"])
            conversations[side] = int(row["conversation_id"])
    return records, conversations


def make_user(
    vault: Vault,
    name: str,
    role: Role | None,
    tiers: Iterable[Tier] = (),
    groups: Iterable[str] = (),
) -> Enrolment:
    """Create a user (as the local admin) with the test password, in the given groups."""
    admin = local_actor(vault)
    enrolment = create_user(vault, admin, name, role, tiers, password=PASSWORD)
    for g in groups:
        add_to_group(vault, admin, g, username=name)
    return enrolment


def build_world(vault: Vault, tmp_path: Path) -> World:
    """Seed the records, the guard group (inside conversation) and one user per role."""
    records, conversations = seed_records(vault, tmp_path)
    admin = local_actor(vault)
    create_group(vault, admin, GROUP)
    add_to_group(vault, admin, GROUP, conversation_id=conversations["inside"])
    users = {
        name: make_user(vault, name, role, tiers, groups=[GROUP] if role else [])
        for name, (role, tiers) in ROLES.items()
    }
    return World(records, conversations, users)


def actor(vault: Vault, name: str, at_ms: int = NOW) -> Actor:
    """Return the user's actor judged at ``at_ms``."""
    return actor_of(vault, name, at_ms)


def otp(enrolment: Enrolment, at_ms: int = NOW) -> str:
    """Return the user's TOTP code at ``at_ms``."""
    return code_at(enrolment.totp_secret, at_ms)
