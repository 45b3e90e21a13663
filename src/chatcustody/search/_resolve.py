"""Resolve ``from:USER`` and ``in:CONVERSATION`` to vault ids without plaintext columns.

A value names a participant (conversation) when it is its source id on any platform held
in the vault — found through the blind key ``blinder.blind(platform, kind, value)`` — or
when its normalised form occurs in one of the participant's display names (the
conversation's title), which are decrypted for the purpose: those tables are small.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from chatcustody.rows import conversation_aad, participant_name_aad
from chatcustody.search._text import normalise
from chatcustody.store import schema as t
from chatcustody.vault import Vault


def _by_source_id(vault: Vault, conn: Connection, kind: str, value: str) -> set[int]:
    tbl = t.participants if kind == "participant" else t.conversations
    platforms = [p for (p,) in conn.execute(select(tbl.c.platform).distinct())]
    keys = [vault.blinder.blind(p, kind, value) for p in platforms]
    if not keys:
        return set()
    return {int(i) for (i,) in conn.execute(select(tbl.c.id).where(tbl.c.source_key.in_(keys)))}


def participant_names(vault: Vault, conn: Connection) -> dict[int, list[str]]:
    """Return every participant's display names (decrypted)."""
    directory = vault.service_cipher("directory")
    names: dict[int, list[str]] = {}
    for row in conn.execute(select(t.participant_names)).mappings():
        what = f"participant name {row['id']}"
        name = directory.open(bytes(row["name_enc"]), participant_name_aad(row), what)
        names.setdefault(int(row["participant_id"]), []).append(name.decode("utf-8"))
    return names


def conversation_titles(vault: Vault, conn: Connection) -> dict[int, str]:
    """Return every conversation's title (decrypted with its own data key)."""
    titles: dict[int, str] = {}
    for row in conn.execute(select(t.conversations)).mappings():
        if not row["dek_sealed"]:  # crypto-shredded: no title to match
            continue
        cipher = vault.conversation_cipher(conn, int(row["id"]))
        what = f"conversation {row['id']} title"
        titles[int(row["id"])] = cipher.open(
            bytes(row["name_enc"]), conversation_aad(row), what
        ).decode("utf-8")
    return titles


def resolve_participants(vault: Vault, conn: Connection, values: Sequence[str]) -> set[int]:
    """Return the participants any of ``values`` names (source id or part of a name)."""
    found: set[int] = set()
    names: dict[int, list[str]] | None = None
    for value in values:
        found |= _by_source_id(vault, conn, "participant", value)
        needle = normalise(value.strip())
        if not needle:
            continue
        if names is None:
            names = participant_names(vault, conn)
        found |= {pid for pid, ns in names.items() if any(needle in normalise(n) for n in ns)}
    return found


def resolve_conversations(vault: Vault, conn: Connection, values: Sequence[str]) -> set[int]:
    """Return the conversations any of ``values`` names (source id or part of the title)."""
    found: set[int] = set()
    titles: dict[int, str] | None = None
    for value in values:
        found |= _by_source_id(vault, conn, "conversation", value)
        needle = normalise(value.strip())
        if not needle:
            continue
        if titles is None:
            titles = conversation_titles(vault, conn)
        found |= {cid for cid, title in titles.items() if needle in normalise(title)}
    return found


__all__ = [
    "conversation_titles",
    "participant_names",
    "resolve_conversations",
    "resolve_participants",
]
