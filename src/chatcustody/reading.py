"""Reading records under access control: conversations, messages, search and timelines.

``request_id`` names a retrieval request the caller reads under: its facts (state, expiry,
frozen scope) are loaded into the resource before decide() is asked, its grant then
answers alone, with the request's frozen scope, and the audit event names the request.

Every function here asks ``enforce()`` first, confines what it reads to the decision's
scope (conversations, window, and a request's senders, types and records) in its SQL,
before anything is decrypted, and writes one
audit event with the decision's reason and what was returned. A record or conversation
outside the actor's scope is reported exactly like a missing one ("not found").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from sqlalchemy import Connection, exists, func, select

from chatcustody.access import (
    Action,
    Actor,
    Decision,
    Resource,
    Scope,
    decision_details,
    enforce,
    scope_conditions,
)
from chatcustody.audit import record_audit
from chatcustody.errors import IntegrityError, NotFoundError, UsageError
from chatcustody.model import iso
from chatcustody.rows import conversation_aad, open_row
from chatcustody.store import schema as t
from chatcustody.tags import tags_of
from chatcustody.vault import Vault

MAX_PAGE: Final[int] = 500
SHREDDED_TITLE: Final[str] = "(crypto-shredded)"
_MAX_CONVERSATION_ID: Final[int] = 2**31 - 1  # an INTEGER column


def _title(vault: Vault, conn: Connection, row: Mapping[Any, Any]) -> str:
    if not row["dek_sealed"]:  # crypto-shredded: the title went with the data key
        return SHREDDED_TITLE
    cipher = vault.conversation_cipher(conn, int(row["id"]))
    what = f"conversation {row['id']} title"
    return cipher.open(bytes(row["name_enc"]), conversation_aad(row), what).decode("utf-8")


def _conversation_rows(conn: Connection, ids: Sequence[int]) -> dict[int, Any]:
    rows = conn.execute(select(t.conversations).where(t.conversations.c.id.in_(ids))).mappings()
    return {int(r["id"]): r for r in rows}


def messages_json(
    vault: Vault, conn: Connection, rows: Sequence[Mapping[Any, Any]], raw: bool = False
) -> list[dict[str, Any]]:
    """Decrypt record rows into the API's message form (with tags; ``raw`` adds the source)."""
    convs = _conversation_rows(conn, sorted({int(r["conversation_id"]) for r in rows}))
    titles = {cid: _title(vault, conn, row) for cid, row in convs.items()}
    tags = tags_of(vault, conn, [int(r["id"]) for r in rows])
    out = []
    for row in rows:
        cid = int(row["conversation_id"])
        fields = open_row("records", row, vault.conversation_cipher(conn, cid)).fields
        message = {
            "id": int(row["id"]),
            "conversation_id": cid,
            "conversation": titles[cid],
            "platform": fields["platform"],
            "sender_id": fields["sender_id"],
            "sender": fields["sender_name"],
            "time": iso(int(row["ts_ms"]), int(row["utc_offset_min"])),
            "ts_ms": int(row["ts_ms"]),
            "type": row["type"],
            "text": fields["text"],
            "reply_to": fields.get("reply_to"),
            "attachments": fields.get("attachments", []),
            "tags": tags.get(int(row["id"]), []),
        }
        if raw:
            message["raw"] = fields.get("raw")
            message["message_id"] = fields.get("message_id")
        out.append(message)
    return out


def under_request(vault: Vault, resource: Resource) -> Resource:
    """Return the resource with its retrieval request's facts loaded (decide() reads no DB)."""
    if resource.request_id is None:
        return resource
    from chatcustody.requests import load_grant

    return replace(resource, request=load_grant(vault, resource.request_id))


def _request_details(request_id: int | None) -> dict[str, Any]:
    return {} if request_id is None else {"request": request_id}


def _record(
    vault: Vault, actor: Actor, record_id: int, action: Action, request_id: int | None
) -> tuple[Decision, Any]:
    missing = f"message {record_id} not found"
    c = t.records.c
    with vault.engine.connect() as conn:
        facts = conn.execute(
            select(c.conversation_id, c.ts_ms, c.sender_id, c.type).where(c.id == record_id)
        ).first()
    if facts is None:
        # Decide on the kind of object first: who may not read content at all hears so.
        asked = under_request(vault, Resource("record", record_id, request_id=request_id))
        enforce(vault, actor, action, asked, not_found=missing, **_request_details(request_id))
        raise NotFoundError(missing)
    resource = Resource(
        "record",
        record_id,
        int(facts.conversation_id),
        int(facts.ts_ms),
        request_id,
        sender_id=int(facts.sender_id),
        type=str(facts.type),
    )
    decision = enforce(
        vault,
        actor,
        action,
        under_request(vault, resource),
        not_found=missing,
        **_request_details(request_id),
    )
    return decision, facts


def get_message(
    vault: Vault, actor: Actor, record_id: int, request_id: int | None = None
) -> dict[str, Any]:
    """Return one message the actor may read (under a retrieval request, if given); audit it."""
    decision, _ = _record(vault, actor, record_id, Action.READ, request_id)
    with vault.engine.connect() as conn:
        row = conn.execute(select(t.records).where(t.records.c.id == record_id)).mappings().one()
        message = messages_json(vault, conn, [row])[0]
    record_audit(
        vault,
        "record.view",
        decision_details(actor, decision, record=record_id, **_request_details(request_id)),
        actor.name,
    )
    return message


def download_message(
    vault: Vault, actor: Actor, record_id: int, request_id: int | None = None
) -> dict[str, Any]:
    """Return one message with the exporter's raw text, for download; audit the download."""
    decision, _ = _record(vault, actor, record_id, Action.DOWNLOAD, request_id)
    with vault.engine.connect() as conn:
        row = conn.execute(select(t.records).where(t.records.c.id == record_id)).mappings().one()
        message = messages_json(vault, conn, [row], raw=True)[0]
    record_audit(
        vault,
        "record.download",
        decision_details(actor, decision, record=record_id, **_request_details(request_id)),
        actor.name,
    )
    return message


def _in_scope(query: Any, scope: Scope, dialect: str) -> Any:
    """Return a query on ``records`` confined to the scope (every dimension, in SQL)."""
    conditions = scope_conditions(scope, dialect)
    return query.where(*conditions) if conditions else query


def engine_scope(scope: Scope) -> Any:
    """Return the search engine's form of an access scope."""
    from chatcustody import search as engine

    return engine.Scope(
        scope.conversations,
        scope.after_ms,
        scope.before_ms,
        scope.participants,
        scope.types,
        scope.record_ids,
    )


def _scope_of(decision: Decision) -> Scope:
    if decision.scope is None:  # a content grant always carries its scope
        raise IntegrityError(f"decision by rule {decision.rule} grants content without a scope")
    return decision.scope


def _by_request(decision: Decision) -> bool:
    """Return True when a retrieval request (not a role) granted the read."""
    return decision.scope is not None and decision.scope.grant.startswith("request:")


def _holds_scoped_record(scope: Scope, dialect: str) -> Any:
    """Return ``EXISTS`` (a record of the conversation in ``scope``), on ``conversations``."""
    c = t.records.c
    inner = select(c.id).where(
        c.conversation_id == t.conversations.c.id, *scope_conditions(scope, dialect)
    )
    return exists(inner)


def list_conversations(
    vault: Vault, actor: Actor, request_id: int | None = None
) -> list[dict[str, Any]]:
    """Return the conversations in the actor's scope with their message counts in it.

    Under a retrieval request only conversations holding some record in its frozen scope
    are listed (decided in SQL, before any title is decrypted); under a role, every
    conversation of its groups.
    """
    asked = under_request(vault, Resource("collection", request_id=request_id))
    decision = enforce(
        vault, actor, Action.LIST_CONVERSATIONS, asked, **_request_details(request_id)
    )
    scope = _scope_of(decision)
    with vault.engine.connect() as conn:
        conv_query = select(t.conversations).order_by(t.conversations.c.id)
        if scope.conversations is not None:
            conv_query = conv_query.where(t.conversations.c.id.in_(sorted(scope.conversations)))
        if _by_request(decision):
            conv_query = conv_query.where(_holds_scoped_record(scope, conn.dialect.name))
        convs = conn.execute(conv_query).mappings().all()
        counts_query = _in_scope(
            select(t.records.c.conversation_id, func.count()).group_by(t.records.c.conversation_id),
            scope,
            conn.dialect.name,
        )
        counts = {int(c): int(n) for c, n in conn.execute(counts_query)}
        out = [
            {
                "id": int(row["id"]),
                "platform": row["platform"],
                "kind": row["kind"],
                "title": _title(vault, conn, row),
                "messages": counts.get(int(row["id"]), 0),
            }
            for row in convs
        ]
    record_audit(
        vault,
        Action.LIST_CONVERSATIONS.value,
        decision_details(actor, decision, count=len(out), **_request_details(request_id)),
        actor.name,
    )
    return out


def _audit_hidden(
    vault: Vault, actor: Actor, decision: Decision, conversation_id: int, request_id: int | None
) -> None:
    """Audit a conversation read refused under a request: none of its records is in scope."""
    grant = _scope_of(decision).grant.replace(":", " ")
    refusal = Decision(
        False,
        f"conversation {conversation_id} holds no record in the frozen scope of {grant}",
        decision.rule,
        hide=True,
    )
    record_audit(
        vault,
        "access.denied",
        decision_details(
            actor,
            refusal,
            action=Action.READ.value,
            resource={"kind": "conversation", "id": conversation_id},
            **_request_details(request_id),
        ),
        actor.name,
    )


def conversation_messages(
    vault: Vault,
    actor: Actor,
    conversation_id: int,
    after_ms: int | None = None,
    before_ms: int | None = None,
    limit: int = 100,
    after_id: int | None = None,
    request_id: int | None = None,
) -> dict[str, Any]:
    """Return a page of one conversation's messages in scope, oldest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise UsageError(f"limit must be 1 to {MAX_PAGE}")
    missing = f"conversation {conversation_id} not found"
    decision = enforce(
        vault,
        actor,
        Action.READ,
        under_request(
            vault,
            Resource("conversation", conversation_id, conversation_id, request_id=request_id),
        ),
        not_found=missing,
        **_request_details(request_id),
    )
    scope = _scope_of(decision).narrow(after_ms, before_ms)
    if not 0 < conversation_id <= _MAX_CONVERSATION_ID:
        raise NotFoundError(missing)
    with vault.engine.connect() as conn:
        conv_query = select(t.conversations).where(t.conversations.c.id == conversation_id)
        if _by_request(decision):  # no in-scope record: as missing (its title stays sealed)
            conv_query = conv_query.where(
                _holds_scoped_record(_scope_of(decision), conn.dialect.name)
            )
        conv = conn.execute(conv_query).mappings().first()
        if conv is None:
            if _by_request(decision):
                _audit_hidden(vault, actor, decision, conversation_id, request_id)
            raise NotFoundError(missing)
        c = t.records.c
        query = _in_scope(
            select(t.records).where(c.conversation_id == conversation_id),
            scope,
            conn.dialect.name,
        )
        if after_id is not None:
            query = query.where(c.id > after_id)
        rows = conn.execute(query.order_by(c.id).limit(limit + 1)).mappings().all()
        more = len(rows) > limit
        messages = messages_json(vault, conn, rows[:limit])
        title = _title(vault, conn, conv)
    record_audit(
        vault,
        "conversation.read",
        decision_details(
            actor,
            decision,
            conversation=conversation_id,
            after_ms=after_ms,
            before_ms=before_ms,
            count=len(messages),
            **_request_details(request_id),
        ),
        actor.name,
    )
    return {
        "conversation": {"id": conversation_id, "title": title, "platform": conv["platform"]},
        "messages": messages,
        "next_after_id": messages[-1]["id"] if more and messages else None,
    }


def search_records(
    vault: Vault,
    actor: Actor,
    query: str,
    senders: Sequence[str] = (),
    conversations: Sequence[str] = (),
    types: Sequence[str] = (),
    after: str | None = None,
    before: str | None = None,
    mode: str = "exact",
    limit: int = 50,
    oldest: bool = False,
    cursor: str | None = None,
    request_id: int | None = None,
) -> dict[str, Any]:
    """Search within the actor's scope (applied inside the index query); audit it.

    Returns the search service's JSON (``total``, ``total_is_exact``, ``took_ms``, ``hits``,
    ``next_cursor``). The audit event (``search.run``) carries the query, the filters, the
    scope, the result count and the decision's reason.
    """
    asked = under_request(vault, Resource("collection", request_id=request_id))
    decision = enforce(
        vault, actor, Action.SEARCH, asked, query=query, **_request_details(request_id)
    )
    scope = _scope_of(decision)
    from chatcustody import search as engine  # heavy (OpenCC): loaded on first search

    result = engine.search(
        vault,
        query,
        senders=senders,
        conversations=conversations,
        types=types,
        after=after,
        before=before,
        mode=mode,
        limit=limit,
        oldest=oldest,
        cursor=cursor,
        scope=engine_scope(scope),
        actor=actor.name,
        audit=False,
    )
    record_audit(
        vault,
        "search.run",
        decision_details(
            actor,
            decision,
            query=query,
            filters={
                "from": list(senders),
                "in": list(conversations),
                "type": list(types),
                "after": after,
                "before": before,
            },
            mode=mode,
            oldest=oldest,
            cursor=cursor is not None,
            total=result.total,
            total_is_exact=result.total_is_exact,
            hit_ids=[h.id for h in result.hits],
            **_request_details(request_id),
        ),
        actor.name,
    )
    return result.to_json()


def timeline_records(
    vault: Vault,
    actor: Actor,
    after: str,
    before: str,
    conversations: Sequence[str] = (),
    participants: Sequence[str] = (),
    events: bool = False,
    gap_minutes: int = 30,
    request_id: int | None = None,
) -> dict[str, Any]:
    """Build a timeline within the actor's scope (the timeline service's JSON); audit it.

    The timeline service applies the scope in its SQL; imported events (which belong to no
    conversation) appear only when the scope restricts nothing but time.
    """
    asked = under_request(vault, Resource("collection", request_id=request_id))
    decision = enforce(vault, actor, Action.TIMELINE, asked, **_request_details(request_id))
    scope = _scope_of(decision)
    from chatcustody import timeline as service

    result = service.timeline(
        vault,
        after,
        before,
        conversations=list(conversations),
        participants=list(participants),
        events=events,
        gap_minutes=gap_minutes,
        actor=actor.name,
        audit=False,
        scope=engine_scope(scope),
    )
    answer: dict[str, Any] = result.to_json()
    record_audit(
        vault,
        "timeline.run",
        decision_details(
            actor,
            decision,
            after=after,
            before=before,
            conversations=list(conversations),
            participants=list(participants),
            events=events,
            gap_minutes=gap_minutes,
            entries=len(result.entries),
            **_request_details(request_id),
        ),
        actor.name,
    )
    return answer
