"""Groups (用户分组): users and conversations belong to groups; content scope is granted
through them. Group names are sealed and looked up by keyed hash; each membership row
carries a MAC (see ``_sealing``), so a membership written into the database by hand is
refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from chatcustody._env import now_ms
from chatcustody.access._enforce import decision_details, enforce
from chatcustody.access._model import COLLECTION, Action, Actor, Resource
from chatcustody.access._sealing import blind_name, check_mac, open_value, row_mac, seal_value
from chatcustody.audit import append_audit
from chatcustody.errors import ConflictError, NotFoundError, UsageError
from chatcustody.store import schema as t
from chatcustody.vault import Vault, next_id

_MAX_NAME = 64


@dataclass(frozen=True)
class Group:
    """A group with its members and conversations."""

    id: int
    name: str
    users: list[str]
    conversations: list[int]

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "id": self.id,
            "name": self.name,
            "users": self.users,
            "conversations": self.conversations,
        }


def _name_aad(group_id: int) -> bytes:
    return b"groups|%d|name" % group_id


def _find(vault: Vault, conn: Connection, name: str) -> int:
    gid = conn.execute(
        select(t.groups.c.id).where(t.groups.c.name_key == blind_name(vault, "group", name))
    ).scalar_one_or_none()
    if gid is None:
        raise NotFoundError(f"group {name!r} not found")
    return int(gid)


def create_group(vault: Vault, actor: Actor, name: str) -> Group:
    """Create an empty group; refuse a name already taken (case- and width-insensitive)."""
    name = name.strip()
    if not name or len(name) > _MAX_NAME:
        raise UsageError(f"a group name has 1 to {_MAX_NAME} characters")
    decision = enforce(vault, actor, Action.MANAGE_GROUPS, Resource("group", name))
    key = blind_name(vault, "group", name)
    with vault.begin() as conn:
        if conn.execute(select(t.groups.c.id).where(t.groups.c.name_key == key)).first():
            raise ConflictError(f"group {name!r} already exists")
        gid = next_id(conn, t.groups)
        conn.execute(
            insert(t.groups).values(
                id=gid,
                name_key=key,
                name_enc=seal_value(vault, _name_aad(gid), name),
                created_ms=now_ms(),
            )
        )
        writer = vault.ledger_writer(conn)
        append_audit(
            vault,
            conn,
            writer,
            "group.create",
            decision_details(actor, decision, group=name, group_id=gid),
            actor.name,
        )
        writer.commit_head(now_ms())
    return Group(gid, name, [], [])


def add_to_group(
    vault: Vault,
    actor: Actor,
    group: str,
    username: str | None = None,
    conversation_id: int | None = None,
) -> Group:
    """Add a user or a conversation to a group (idempotent)."""
    if (username is None) == (conversation_id is None):
        raise UsageError("add either a user or a conversation")
    decision = enforce(vault, actor, Action.MANAGE_GROUPS, Resource("group", group))
    with vault.begin() as conn:
        gid = _find(vault, conn, group)
        if username is not None:
            uid = conn.execute(
                select(t.users.c.id).where(t.users.c.username == username)
            ).scalar_one_or_none()
            if uid is None:
                raise NotFoundError(f"user {username!r} not found")
            table, column, member = t.group_members, "user_id", int(uid)
            what: dict[str, Any] = {"user": username}
        else:
            assert conversation_id is not None
            found = conn.execute(
                select(t.conversations.c.id).where(t.conversations.c.id == conversation_id)
            ).first()
            if found is None:
                raise NotFoundError(f"conversation {conversation_id} not found")
            table, column, member = t.group_conversations, "conversation_id", conversation_id
            what = {"conversation_id": conversation_id}
        exists = conn.execute(
            select(table.c.group_id).where(table.c.group_id == gid, table.c[column] == member)
        ).first()
        if exists is None:
            conn.execute(
                insert(table).values(
                    {
                        "group_id": gid,
                        column: member,
                        "mac": row_mac(vault, table.name, gid, member),
                    }
                )
            )
            writer = vault.ledger_writer(conn)
            append_audit(
                vault,
                conn,
                writer,
                "group.add",
                decision_details(actor, decision, group=group, group_id=gid, **what),
                actor.name,
            )
            writer.commit_head(now_ms())
    return _load(vault, gid)


def _load(vault: Vault, gid: int) -> Group:
    with vault.engine.connect() as conn:
        return _groups(vault, conn, gid)[0]


def _groups(vault: Vault, conn: Connection, only: int | None = None) -> list[Group]:
    query = select(t.groups).order_by(t.groups.c.id)
    if only is not None:
        query = query.where(t.groups.c.id == only)
    out = []
    for row in conn.execute(query).mappings().all():
        gid = int(row["id"])
        name = open_value(vault, _name_aad(gid), row["name_enc"], f"group {gid} name")
        users = []
        for uid, username, mac in conn.execute(
            select(t.group_members.c.user_id, t.users.c.username, t.group_members.c.mac)
            .join(t.users, t.users.c.id == t.group_members.c.user_id)
            .where(t.group_members.c.group_id == gid)
            .order_by(t.users.c.username)
        ):
            check_mac(vault, mac, "group_members", gid, uid)
            users.append(str(username))
        convs = []
        for cid, mac in conn.execute(
            select(t.group_conversations.c.conversation_id, t.group_conversations.c.mac)
            .where(t.group_conversations.c.group_id == gid)
            .order_by(t.group_conversations.c.conversation_id)
        ):
            check_mac(vault, mac, "group_conversations", gid, cid)
            convs.append(int(cid))
        out.append(Group(gid, str(name), users, convs))
    return out


def list_groups(vault: Vault, actor: Actor) -> list[Group]:
    """Return every group with its members and conversations (admins)."""
    enforce(vault, actor, Action.MANAGE_GROUPS, COLLECTION)
    with vault.engine.connect() as conn:
        return _groups(vault, conn)


def load_grants(
    vault: Vault, conn: Connection, user_id: int
) -> tuple[frozenset[int], frozenset[int]]:
    """Return a user's groups and the conversations those groups grant (MACs checked)."""
    groups: set[int] = set()
    for gid, mac in conn.execute(
        select(t.group_members.c.group_id, t.group_members.c.mac).where(
            t.group_members.c.user_id == user_id
        )
    ):
        check_mac(vault, mac, "group_members", gid, user_id)
        groups.add(int(gid))
    conversations: set[int] = set()
    if groups:
        for gid, cid, mac in conn.execute(
            select(
                t.group_conversations.c.group_id,
                t.group_conversations.c.conversation_id,
                t.group_conversations.c.mac,
            ).where(t.group_conversations.c.group_id.in_(sorted(groups)))
        ):
            check_mac(vault, mac, "group_conversations", gid, cid)
            conversations.add(int(cid))
    return frozenset(groups), frozenset(conversations)
