"""Freezing a request's scope at submission, and listing the records inside it.

Conversations are named by source id or title (``#ID`` names a vault conversation id),
participants by source id or name; each name must match something, and what it matched is
frozen as ids — the approver approves ids, not names that could match more later. With
keywords, the scope is their matches (the search engine, inside the base scope) plus
``context`` messages on each side in the same conversation, also inside the base scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, or_, select

from chatcustody.access import Scope, scope_conditions
from chatcustody.errors import UsageError
from chatcustody.requests._model import Form, FrozenScope, RetrievalRequest
from chatcustody.store import schema as t
from chatcustody.vault import Vault


def _conversations(vault: Vault, conn: Connection, values: Sequence[str]) -> set[int]:
    from chatcustody.search import resolve_conversations

    out: set[int] = set()
    for value in values:
        if value.startswith("#") and value[1:].isdigit():
            cid = int(value[1:])
            found = conn.execute(
                select(t.conversations.c.id).where(t.conversations.c.id == cid)
            ).first()
            if found is None:
                raise UsageError(f"conversation {value}: no such vault conversation id")
            out.add(cid)
            continue
        matched = resolve_conversations(vault, conn, [value])
        if not matched:
            raise UsageError(f"conversation {value!r} matches no conversation in the vault")
        out |= matched
    return out


def _participants(vault: Vault, conn: Connection, values: Sequence[str]) -> set[int]:
    from chatcustody.search import resolve_participants

    out: set[int] = set()
    for value in values:
        matched = resolve_participants(vault, conn, [value])
        if not matched:
            raise UsageError(f"participant {value!r} matches no participant in the vault")
        out |= matched
    return out


def _context(
    conn: Connection, base: Scope, match: int, n: int, conversation: int, ts: int
) -> list[int]:
    """Return up to ``n`` records each side of ``match`` in its conversation, in the base scope."""
    if n <= 0:
        return []
    c = t.records.c
    conds = [c.conversation_id == conversation, *scope_conditions(base, conn.dialect.name)]
    earlier = or_(c.ts_ms < ts, and_(c.ts_ms == ts, c.id < match))
    later = or_(c.ts_ms > ts, and_(c.ts_ms == ts, c.id > match))
    before = conn.execute(
        select(c.id).where(*conds, earlier).order_by(c.ts_ms.desc(), c.id.desc()).limit(n)
    )
    after = conn.execute(select(c.id).where(*conds, later).order_by(c.ts_ms, c.id).limit(n))
    return [int(i) for (i,) in before] + [int(i) for (i,) in after]


def freeze(vault: Vault, form: Form, at_ms: int, default_context: int) -> FrozenScope:
    """Resolve and fix a form's scope: ids, the window in ms, and keyword records."""
    from chatcustody import search

    zone = ZoneInfo(vault.default_tz)
    after = search.parse_time(form.after, zone, "after")
    before = search.parse_time(form.before, zone, "before")
    if after >= before:
        raise UsageError("the window's start (after) must be earlier than its end (before)")
    types = None
    if form.types:
        types = tuple(sorted(set(search.parse(f"type:{','.join(form.types)}", zone).types)))
    context = default_context if form.context is None else form.context
    if not 0 <= context <= 100:
        raise UsageError("context must be 0 to 100 messages on each side")
    keywords = tuple(k.strip() for k in form.keywords if k.strip())
    with vault.engine.connect() as conn:
        convs = _conversations(vault, conn, form.conversations) if form.conversations else None
        people = _participants(vault, conn, form.participants) if form.participants else None
        base = Scope(
            None if convs is None else frozenset(convs),
            after,
            before,
            "request",
            participants=None if people is None else frozenset(people),
            types=None if types is None else frozenset(types),
        )
        record_ids: tuple[int, ...] | None = None
        matches = 0
        if keywords:
            engine_scope = search.Scope(
                base.conversations, after, before, base.participants, base.types
            )
            found: set[int] = set()
            for word in keywords:
                phrase = '"' + word.replace('"', " ").strip() + '"'
                found |= set(search.matching_ids(vault, phrase, "exact", engine_scope))
            matches = len(found)
            chosen = set(found)
            c = t.records.c
            for rid, cid, ts in conn.execute(
                select(c.id, c.conversation_id, c.ts_ms).where(
                    *scope_conditions(
                        Scope(None, None, None, "", record_ids=frozenset(found)),
                        conn.dialect.name,
                    )
                )
            ):
                chosen.update(_context(conn, base, int(rid), context, int(cid), int(ts)))
            record_ids = tuple(sorted(chosen))
    return FrozenScope(
        conversation_ids=None if convs is None else tuple(sorted(convs)),
        participant_ids=None if people is None else tuple(sorted(people)),
        after_ms=after,
        before_ms=before,
        types=types,
        keywords=keywords,
        context=context,
        record_ids=record_ids,
        matches=matches,
        frozen_ms=at_ms,
    )


def scoped_record_ids(vault: Vault, request: RetrievalRequest) -> list[int]:
    """Return the ids of the records in a request's frozen scope, ordered by time (then id)."""
    scope = request.access_scope()
    if scope is None:
        raise UsageError(f"retrieval request {request.id} has no frozen scope (not submitted)")
    c = t.records.c
    with vault.engine.connect() as conn:
        rows = conn.execute(
            select(c.id).where(*scope_conditions(scope, conn.dialect.name)).order_by(c.ts_ms, c.id)
        )
        return [int(i) for (i,) in rows]
