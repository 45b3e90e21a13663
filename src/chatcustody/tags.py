"""Tags: "mark, don't delete". Users allowed to tag mark records; tags are audited.

Tag names are sealed with the access key and looked up by keyed hash of their normalised
form (NFKC, case-folded), so ``tag:紧急`` and ``tag:紧急`` in full width find the same
records. Tags are only ever added: a mark is evidence of who marked what, and when.
Marking a record ``archived`` is the archive action (the role table's 归档 column).

Search calls ``tagged_ids(vault, conn, names)`` for ``tag:NAME`` (repeated ``tag:`` filters
must all hold) and applies it, with its scope, in the SQL that selects candidates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from sqlalchemy import Connection, insert, select

from chatcustody._env import now_ms
from chatcustody.access import (
    Action,
    Actor,
    Resource,
    blind_name,
    decision_details,
    enforce,
    normalise_name,
    open_value,
    seal_value,
)
from chatcustody.audit import append_audit
from chatcustody.errors import NotFoundError, UsageError
from chatcustody.store import schema as t
from chatcustody.vault import Vault, next_id

ARCHIVED: Final[str] = "archived"
TAG_NAME: Final = re.compile(r"[^\s:\"]{1,64}")  # no spaces, colons or quotes: tag:NAME parses


def _aad(tag_id: int, record_id: int) -> bytes:
    return b"tags|%d|%d|name" % (tag_id, record_id)


def record_facts(conn: Connection, record_id: int) -> tuple[int, int] | None:
    """Return a record's (conversation id, ts_ms) from its clear columns, or None."""
    row = conn.execute(
        select(t.records.c.conversation_id, t.records.c.ts_ms).where(t.records.c.id == record_id)
    ).first()
    return None if row is None else (int(row[0]), int(row[1]))


def add_tag(vault: Vault, actor: Actor, record_id: int, name: str) -> list[str]:
    """Mark a record with a tag (idempotent); return the record's tags."""
    name = name.strip()
    if not TAG_NAME.fullmatch(name):
        raise UsageError("a tag has 1 to 64 characters, without spaces, colons or quotes")
    action = Action.ARCHIVE if normalise_name(name) == ARCHIVED else Action.TAG
    missing = f"message {record_id} not found"
    with vault.engine.connect() as conn:
        facts = record_facts(conn, record_id)
    if facts is None:
        enforce(vault, actor, action, Resource("record", record_id), not_found=missing)
        raise NotFoundError(missing)
    resource = Resource.record(record_id, *facts)
    decision = enforce(vault, actor, action, resource, not_found=missing, tag=name)
    key = blind_name(vault, "tag", name)
    with vault.begin() as conn:
        exists = conn.execute(
            select(t.tags.c.id).where(t.tags.c.record_id == record_id, t.tags.c.name_key == key)
        ).first()
        if exists is None:
            tag_id = next_id(conn, t.tags)
            conn.execute(
                insert(t.tags).values(
                    id=tag_id,
                    record_id=record_id,
                    name_key=key,
                    name_enc=seal_value(vault, _aad(tag_id, record_id), name),
                    created_by=actor.name,
                    created_ms=now_ms(),
                )
            )
            writer = vault.ledger_writer(conn)
            append_audit(
                vault,
                conn,
                writer,
                action.value,
                decision_details(actor, decision, record=record_id, tag=name),
                actor.name,
            )
            writer.commit_head(now_ms())
        return tags_of(vault, conn, [record_id]).get(record_id, [])


def tagged_record_ids(vault: Vault, name: str) -> set[int]:
    """Return the ids of records marked with tag ``name`` (no access check: callers scope)."""
    key = blind_name(vault, "tag", name)
    with vault.engine.connect() as conn:
        return {
            int(r)
            for r in conn.execute(
                select(t.tags.c.record_id).where(t.tags.c.name_key == key)
            ).scalars()
        }


def tagged_ids(vault: Vault, conn: Connection, names: Iterable[str]) -> set[int]:
    """Return the ids of records marked with *every* tag in ``names`` (search's ``tag:``)."""
    out: set[int] | None = None
    for name in names:
        key = blind_name(vault, "tag", name.strip())
        ids = set(
            conn.execute(select(t.tags.c.record_id).where(t.tags.c.name_key == key)).scalars()
        )
        out = ids if out is None else out & ids
        if not out:
            return set()
    return out or set()


def tags_of(vault: Vault, conn: Connection, record_ids: Iterable[int]) -> dict[int, list[str]]:
    """Return the tags of each given record (records without tags are absent)."""
    ids = sorted(set(record_ids))
    out: dict[int, list[str]] = {}
    for chunk in range(0, len(ids), 500):
        for row in conn.execute(
            select(t.tags)
            .where(t.tags.c.record_id.in_(ids[chunk : chunk + 500]))
            .order_by(t.tags.c.id)
        ).mappings():
            rid = int(row["record_id"])
            name = open_value(vault, _aad(int(row["id"]), rid), row["name_enc"], f"tag {row['id']}")
            out.setdefault(rid, []).append(str(name))
    return out
