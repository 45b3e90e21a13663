"""Groups: sealed names, memberships that grant scope, and hand-written rows refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select

from chatcustody.access import add_to_group, create_group, list_groups, local_actor, row_mac
from chatcustody.errors import ConflictError, IntegrityError, NotFoundError
from chatcustody.store import schema as t
from chatcustody.vault import Vault
from tests.people import GROUP, actor, build_world


def test_groups_grant_conversations_and_keep_names_sealed(vault: Vault, tmp_path: Path) -> None:
    """Members of a group get its conversations; group names never sit in clear columns."""
    world = build_world(vault, tmp_path)
    admin = local_actor(vault)
    groups = list_groups(vault, admin)
    assert groups[0].name == GROUP and groups[0].conversations == [world.conversations["inside"]]
    assert "agent" in groups[0].users
    assert actor(vault, "agent").conversations == frozenset({world.conversations["inside"]})
    with pytest.raises(ConflictError):
        create_group(vault, admin, "  护卫队 ")
    with pytest.raises(NotFoundError):
        add_to_group(vault, admin, "no such group", username="agent")
    with pytest.raises(NotFoundError):
        add_to_group(vault, admin, GROUP, conversation_id=999)
    with vault.engine.connect() as conn:
        row = conn.execute(select(t.groups)).mappings().one()
    assert GROUP.encode() not in bytes(row["name_enc"]) + bytes(row["name_key"])


def test_membership_written_by_hand_is_refused(vault: Vault, tmp_path: Path) -> None:
    """A group_conversations row without a valid MAC is an integrity failure, not a grant."""
    world = build_world(vault, tmp_path)
    with vault.begin() as conn:
        conn.execute(
            insert(t.group_conversations).values(
                group_id=1, conversation_id=world.conversations["outside"], mac=b"\0" * 32
            )
        )
    with pytest.raises(IntegrityError):
        actor(vault, "agent")
    assert row_mac(vault, "group_conversations", 1, 2) != b"\0" * 32
