"""The search use case: parse, plan, fetch candidates, re-check each, page, count, audit.

Guarantees:
- Every hit is a decrypted record that satisfies the query (``_match``), and every record
  that satisfies it is found (the index expression selects a superset), so results equal
  a brute-force scan of the plaintext.
- A caller's ``Scope`` (conversations, time window, and a retrieval request's senders,
  types and record ids) is applied in the SQL that selects candidates, before any record
  is decrypted: nothing outside it is ever opened.
- ``total`` is exact up to ``TOTAL_CAP``; above it ``total == TOTAL_CAP`` and
  ``total_is_exact`` is False (read it as "at least").
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, RowMapping, select

from chatcustody.audit import record_audit
from chatcustody.errors import UsageError
from chatcustody.model import iso
from chatcustody.search._index import hasher_for, open_fields, reindex_required
from chatcustody.search._match import Snippet, record_matches, snippet
from chatcustody.search._plan import Facets, compile_plan
from chatcustody.search._query import MODES, Query, parse, parse_time
from chatcustody.search._resolve import resolve_conversations, resolve_participants
from chatcustody.search._stream import Filters, candidates, count_index, oversize_rows
from chatcustody.store import schema as t
from chatcustody.tags import tagged_ids
from chatcustody.vault import Vault

TOTAL_CAP: Final[int] = 1000
MAX_LIMIT: Final[int] = 10_000


@dataclass(frozen=True)
class Scope:
    """What the caller may see: vault conversation ids and a window [after_ms, before_ms).

    A retrieval request's scope adds vault participant ids of senders, message types and
    an explicit set of record ids. ``None`` leaves that dimension unrestricted; an empty
    set allows nothing.
    """

    conversation_ids: frozenset[int] | None = None
    after_ms: int | None = None
    before_ms: int | None = None
    sender_ids: frozenset[int] | None = None
    types: frozenset[str] | None = None
    record_ids: frozenset[int] | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form for audit details (record ids counted, not listed)."""
        out: dict[str, Any] = {
            "conversation_ids": None
            if self.conversation_ids is None
            else sorted(self.conversation_ids),
            "after_ms": self.after_ms,
            "before_ms": self.before_ms,
        }
        if self.sender_ids is not None:
            out["sender_ids"] = sorted(self.sender_ids)
        if self.types is not None:
            out["types"] = sorted(self.types)
        if self.record_ids is not None:
            out["records"] = len(self.record_ids)
        return out


@dataclass(frozen=True)
class Hit:
    """One matching record, decrypted, with a highlighted snippet."""

    id: int
    ts_ms: int
    utc_offset_min: int
    vault_conversation_id: int
    platform: str
    conversation_id: str
    conversation: str
    sender_id: str
    sender: str
    type: str
    text: str
    attachments: tuple[str, ...]
    snippet: Snippet

    @property
    def time(self) -> str:
        """Return the time in ISO 8601 with the record's own UTC offset."""
        return iso(self.ts_ms, self.utc_offset_min)

    def to_json(self) -> dict[str, Any]:
        """Return the hit's part of the ``search --json`` contract."""
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "conversation": self.conversation,
            "sender_id": self.sender_id,
            "sender": self.sender,
            "time": self.time,
            "type": self.type,
            "text": self.text,
            "snippet": self.snippet.marked(),
            "platform": self.platform,
            "vault_conversation_id": self.vault_conversation_id,
            "attachments": list(self.attachments),
        }


@dataclass
class SearchResult:
    """One page of results."""

    total: int
    total_is_exact: bool
    took_ms: float
    hits: list[Hit] = field(default_factory=list)
    next_cursor: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the ``search --json`` contract."""
        return {
            "total": self.total,
            "total_is_exact": self.total_is_exact,
            "took_ms": self.took_ms,
            "hits": [h.to_json() for h in self.hits],
            "next_cursor": self.next_cursor,
        }


def encode_cursor(ts_ms: int, record_id: int, newest_first: bool) -> str:
    """Return an opaque cursor after the record (ts_ms, id)."""
    raw = f"{'n' if newest_first else 'o'}:{ts_ms}:{record_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, newest_first: bool) -> tuple[int, int]:
    """Return (ts_ms, id) from a cursor made by ``encode_cursor`` for the same order."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        order, ts, rid = raw.split(":")
        value = (int(ts), int(rid))
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"invalid cursor {cursor!r}") from None
    if order != ("n" if newest_first else "o"):
        raise UsageError("the cursor belongs to the other sort order (--oldest)")
    return value


def _intersect(a: set[int] | None, b: frozenset[int] | set[int] | None) -> set[int] | None:
    if a is None:
        return None if b is None else set(b)
    return a if b is None else a & set(b)


def _bound(values: Sequence[int | None], pick: Any) -> int | None:
    present = [v for v in values if v is not None]
    return pick(present) if present else None


def _filters(
    vault: Vault,
    conn: Connection,
    query: Query,
    scope: Scope | None,
    newest_first: bool,
    cursor: tuple[int, int] | None,
) -> Filters:
    scope = scope or Scope()
    convs = resolve_conversations(vault, conn, query.conversations) if query.conversations else None
    senders = resolve_participants(vault, conn, query.senders) if query.senders else None
    types = set(query.types) or None
    if scope.types is not None:
        types = set(scope.types) if types is None else types & scope.types
    return Filters(
        conversation_ids=_intersect(convs, scope.conversation_ids),
        sender_ids=_intersect(senders, scope.sender_ids),
        types=None if types is None else sorted(types),
        after_ms=_bound([query.after_ms, scope.after_ms], max),
        before_ms=_bound([query.before_ms, scope.before_ms], min),
        cursor=cursor,
        newest_first=newest_first,
        record_ids=_intersect(
            tagged_ids(vault, conn, query.tags) if query.tags else None, scope.record_ids
        ),
        dialect=conn.dialect.name,
        shredded=set(conn.execute(select(t.shredded_conversations.c.conversation_id)).scalars())
        or None,
    )


class _Checked:
    """Decrypt and re-check candidates in order; count those the index proposed wrongly."""

    def __init__(self, vault: Vault, conn: Connection, query: Query, mode: str) -> None:
        self.vault, self.conn, self.query, self.mode = vault, conn, query, mode
        self.rejected = 0

    def __call__(self, rows: Iterator[RowMapping]) -> Iterator[tuple[RowMapping, dict[str, Any]]]:
        for row in rows:
            fields = open_fields(self.vault, self.conn, row)
            names = [str(a.get("name") or "") for a in fields.get("attachments") or ()]
            if record_matches(self.query, self.mode, str(fields.get("text") or ""), names):
                yield row, fields
            else:
                self.rejected += 1


def _hit(row: RowMapping, fields: dict[str, Any], query: Query, mode: str) -> Hit:
    text = str(fields.get("text") or "")
    names = tuple(str(a.get("name") or "") for a in fields.get("attachments") or ())
    terms = query.terms
    snip = snippet(text, terms, mode)
    if terms and not any(hl for _, hl in snip.parts):
        for name in names:  # the match is in an attachment name
            named = snippet(name, terms, mode)
            if any(hl for _, hl in named.parts):
                snip = Snippet((("📎 ", False), *named.parts))
                break
    return Hit(
        id=int(row["id"]),
        ts_ms=int(row["ts_ms"]),
        utc_offset_min=int(row["utc_offset_min"]),
        vault_conversation_id=int(row["conversation_id"]),
        platform=str(fields.get("platform", "")),
        conversation_id=str(fields.get("conversation_id", "")),
        conversation=str(fields.get("conversation_name", "")),
        sender_id=str(fields.get("sender_id", "")),
        sender=str(fields.get("sender_name", "")),
        type=str(row["type"]),
        text=text,
        attachments=names,
        snippet=snip,
    )


def run_search(
    vault: Vault,
    query: Query,
    mode: str = "exact",
    limit: int = 50,
    oldest: bool = False,
    cursor: str | None = None,
    scope: Scope | None = None,
) -> SearchResult:
    """Run a parsed query and return one page (no audit event; see ``search``)."""
    started = time.perf_counter()
    if mode not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be between 1 and {MAX_LIMIT}")
    if not (query.clauses or query.excluded or query.senders or query.conversations):
        timed = query.after_ms is not None or query.before_ms is not None
        if not (query.types or timed or query.has_attachment or query.tags):
            raise UsageError("empty query: give words, phrases or filters")
    newest = not oldest
    after = decode_cursor(cursor, newest) if cursor else None
    with vault.engine.connect() as conn:
        if reindex_required(conn):
            raise UsageError(
                "the search index does not cover records stored before it existed: "
                "run 'chatcustody reindex' once"
            )
        filters = _filters(vault, conn, query, scope, newest, after)
        facets = Facets(filters.conversation_ids, filters.sender_ids, filters.types)
        plan = compile_plan(hasher_for(vault), query, mode, conn.dialect.name, facets)
        page: list[tuple[RowMapping, dict[str, Any]]] = []
        more = False
        check = _Checked(vault, conn, query, mode)
        stream = check(candidates(conn, plan, filters))
        for item in stream:
            if len(page) == limit:
                more = True
                break
            page.append(item)
        # An index match that fails the re-check (a token collision) voids exactness.
        if plan.exact and not check.rejected:
            total = count_index(conn, plan, filters, TOTAL_CAP + 1)
            if plan.table is not None:  # records too long for the index are checked here
                unindexed = iter(oversize_rows(conn, replace(filters, cursor=None)))
                total += sum(1 for _ in check(unindexed))
        else:
            if after is not None:
                stream = check(candidates(conn, plan, replace(filters, cursor=None)))
                total = 0
            else:
                total = len(page) + more
            for _ in stream:
                if total > TOTAL_CAP:
                    break
                total += 1
        hits = [_hit(row, fields, query, mode) for row, fields in page]
    exact_total = total <= TOTAL_CAP
    next_cursor = encode_cursor(hits[-1].ts_ms, hits[-1].id, newest) if more and hits else None
    took = round((time.perf_counter() - started) * 1000, 2)
    return SearchResult(min(total, TOTAL_CAP), exact_total, took, hits, next_cursor)


def matching_ids(
    vault: Vault, text: str, mode: str = "exact", scope: Scope | None = None
) -> list[int]:
    """Return the ids of every record matching ``text``, newest first (not audited).

    For bulk consumers (exports, the benchmark's exhaustive comparison): the same
    candidates and re-checks as ``search``, without snippets or pages. Callers audit.
    """
    zone = ZoneInfo(vault.default_tz)
    query = parse(text, zone)
    with vault.engine.connect() as conn:
        filters = _filters(vault, conn, query, scope, True, None)
        facets = Facets(filters.conversation_ids, filters.sender_ids, filters.types)
        plan = compile_plan(hasher_for(vault), query, mode, conn.dialect.name, facets)
        check = _Checked(vault, conn, query, mode)
        return [int(row["id"]) for row, _ in check(candidates(conn, plan, filters))]


def search(
    vault: Vault,
    text: str,
    *,
    senders: Sequence[str] = (),
    conversations: Sequence[str] = (),
    types: Sequence[str] = (),
    after: str | None = None,
    before: str | None = None,
    mode: str = "exact",
    limit: int = 50,
    oldest: bool = False,
    cursor: str | None = None,
    scope: Scope | None = None,
    actor: str | None = None,
    audit: bool = True,
) -> SearchResult:
    """Search the vault; options add to the query's own filters. Audited as search.run."""
    zone = ZoneInfo(vault.default_tz)
    query = parse(text, zone)
    query.senders.extend(senders)
    query.conversations.extend(conversations)
    if types:
        query.types.extend(parse(f"type:{','.join(types)}", zone).types)
    if after:
        ms = parse_time(after, zone, "--after")
        query.after_ms = ms if query.after_ms is None else max(query.after_ms, ms)
    if before:
        ms = parse_time(before, zone, "--before")
        query.before_ms = ms if query.before_ms is None else min(query.before_ms, ms)
    result = run_search(vault, query, mode, limit, oldest, cursor, scope)
    if audit:
        record_audit(
            vault,
            "search.run",
            {
                "query": text,
                "mode": mode,
                "filters": query.describe(),
                "scope": None if scope is None else scope.to_json(),
                "oldest": oldest,
                "cursor": cursor is not None,
                "total": result.total,
                "total_is_exact": result.total_is_exact,
                "hit_ids": [h.id for h in result.hits],
            },
            actor,
        )
    return result
