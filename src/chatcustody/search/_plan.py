"""Compile a parsed query into one index expression, and know when it is exact.

The index expression must select a superset of the matching records (recall is never left
to the index alone: every candidate is decrypted and re-checked). When every part of the
query is one the index answers exactly — a single CJK run, word or symbol per term, exact
mode, exclusions of such terms — the plan is *exact*: its matches need no re-check to be
counted, so the total comes from the index (the page's hits are still re-checked).

SQLite has two tables: positional tokens with phrase queries (``search_fts``), and the bag
of characters, words and symbols (``search_fts_bag``) for terms the positional tokens
cannot express (one CJK character at the end of a term). A query uses one of them; what it
drops there is left to the re-check. PostgreSQL holds both kinds in one ``tsvector``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatcustody.search._query import Query, Term
from chatcustody.search._tokens import (
    ATTACHMENT_MARKER,
    TermTokens,
    TokenHasher,
    conversation_marker,
    sender_marker,
    term_tokens,
    type_marker,
)

# Up to this many conversations (senders, types) are also matched through their marker
# tokens in the index (a fast intersection); the records' clear columns decide either way.
MAX_CONVERSATION_MARKERS = 64


@dataclass(frozen=True)
class Plan:
    """Where to look and how: ``table`` None means scanning records by their filters."""

    table: str | None
    match: str | None
    exact: bool


def _phrase(tokens: Sequence[str]) -> str:
    return '"' + " ".join(tokens) + '"'


@dataclass(frozen=True)
class Facets:
    """Resolved filters the index can also match through marker tokens (None: any)."""

    conversations: set[int] | None = None
    senders: set[int] | None = None
    types: list[str] | None = None


def _markers(
    hasher: TokenHasher, query: Query, facets: Facets, quote: bool = False, or_: str = "OR"
) -> list[str]:
    """Return index clauses for has:attachment and small sets of conversations, senders and
    (non-text) types; the records' clear columns decide in SQL either way."""
    out = []

    def q(tok: str) -> str:
        return _q(tok) if quote else tok

    def any_of(tokens: list[str]) -> None:
        if tokens and len(tokens) <= MAX_CONVERSATION_MARKERS:
            out.append("(" + f" {or_} ".join(q(t) for t in tokens) + ")")

    if query.has_attachment:
        out.append(q(hasher.marker(ATTACHMENT_MARKER)))
    if facets.conversations:
        any_of([conversation_marker(hasher, c) for c in sorted(facets.conversations)])
    if facets.senders:
        any_of([sender_marker(hasher, s) for s in sorted(facets.senders)])
    if facets.types and "text" not in facets.types:
        any_of([m for m in (type_marker(hasher, t) for t in sorted(facets.types)) if m])
    return out


def _compile_sqlite(
    hasher: TokenHasher,
    query: Query,
    mode: str,
    compiled: dict[Term, TermTokens],
    facets: Facets,
) -> Plan:
    markers = _markers(hasher, query, facets)
    clauses = query.clauses
    if not clauses and not query.has_attachment:
        return Plan(None, None, mode == "exact" and not query.excluded)
    positional = all(compiled[t].phrase for c in clauses for t in c)
    table = "search_fts" if positional else "search_fts_bag"
    exact = mode == "exact"
    parts: list[str] = []
    for clause in clauses:
        alts = []
        for term in clause:
            tt = compiled[term]
            if positional:
                alts.append(_phrase(tt.phrase))
                exact = exact and tt.exact
            else:
                alts.append("(" + " AND ".join(tt.bag) + ")")
                exact = exact and tt.exact and len(tt.bag) == 1
        parts.append("(" + " OR ".join(alts) + ")")
    parts.extend(markers)
    expr = " AND ".join(parts)
    for term in query.excluded:
        tt = compiled[term]
        usable = tt.exact and (tt.phrase if positional else len(tt.bag) == 1)
        if usable and mode == "exact":
            expr = f"({expr}) NOT " + (_phrase(tt.phrase) if positional else tt.bag[0])
        else:
            exact = False
    return Plan(table, expr, exact)


def _q(token: str) -> str:
    """Quote a lexeme for tsquery input: taken verbatim, never re-parsed.

    (``to_tsquery`` would run PostgreSQL's parser over it, which splits tokens that look
    like numbers — ``4e7abcd2`` becomes ``'4e7' <-> 'abcd2'`` — and then finds nothing.)
    """
    return f"'{token}'"


def _pg_term(tt: TermTokens) -> str:
    parts = []
    if tt.phrase:
        parts.append(" <-> ".join(_q(t) for t in tt.phrase))
    parts.extend(_q(t) for t in tt.unigrams)
    return "(" + " & ".join(parts) + ")"


def _compile_pg(
    hasher: TokenHasher,
    query: Query,
    mode: str,
    compiled: dict[Term, TermTokens],
    facets: Facets,
) -> Plan:
    markers = _markers(hasher, query, facets, quote=True, or_="|")
    if not query.clauses and not query.has_attachment:
        return Plan(None, None, mode == "exact" and not query.excluded)
    exact = mode == "exact"
    parts = []
    for clause in query.clauses:
        parts.append("(" + " | ".join(_pg_term(compiled[t]) for t in clause) + ")")
        exact = exact and all(compiled[t].exact for t in clause)
    parts.extend(markers)
    for term in query.excluded:
        if compiled[term].exact and mode == "exact":
            parts.append("!" + _pg_term(compiled[term]))
        else:
            exact = False
    return Plan("search_fts", " & ".join(parts), exact)


def compile_plan(
    hasher: TokenHasher,
    query: Query,
    mode: str,
    dialect: str,
    facets: Facets | None = None,
) -> Plan:
    """Return the index plan of ``query`` for a database dialect ("sqlite" or other).

    ``facets`` (resolved ``in:``/``from:``/``type:`` filters and scope) add marker tokens.
    """
    facets = facets or Facets()
    compiled = {t: term_tokens(hasher, t.norm) for t in [*query.terms, *query.excluded]}
    if dialect == "sqlite":
        return _compile_sqlite(hasher, query, mode, compiled, facets)
    return _compile_pg(hasher, query, mode, compiled, facets)
