"""Search without plaintext in the index: keyed tokens, exact re-checks, scoped queries.

The facade re-exports the service (``search``, ``reindex``), the pieces other packages use
(the ingest hook ``index_records``, the verifier's ``check_index``) and the building blocks
tests and benchmarks exercise (``normalise``, ``parse``, ``record_matches``).
"""

from __future__ import annotations

from chatcustody.search._check import IndexReport, check_index
from chatcustody.search._check_sample import DEFAULT_SAMPLE, Sampling
from chatcustody.search._index import (
    IndexDoc,
    ReindexResult,
    compact_after_import,
    hasher_for,
    index_docs,
    index_records,
    open_fields,
    reindex,
    reindex_required,
    remove_docs,
)
from chatcustody.search._match import Snippet, occurrences, record_matches, snippet
from chatcustody.search._query import MODES, Query, Term, parse, parse_time
from chatcustody.search._resolve import resolve_conversations, resolve_participants
from chatcustody.search._search import (
    MAX_LIMIT,
    TOTAL_CAP,
    Hit,
    Scope,
    SearchResult,
    matching_ids,
    run_search,
    search,
)
from chatcustody.search._text import graphemes, normalise
from chatcustody.search._tokens import DocTokens, TokenHasher, doc_tokens, part_tokens, term_tokens

__all__ = [
    "compact_after_import",
    "DEFAULT_SAMPLE",
    "MAX_LIMIT",
    "MODES",
    "TOTAL_CAP",
    "DocTokens",
    "Hit",
    "IndexDoc",
    "IndexReport",
    "Query",
    "ReindexResult",
    "Sampling",
    "Scope",
    "SearchResult",
    "Snippet",
    "Term",
    "TokenHasher",
    "check_index",
    "doc_tokens",
    "graphemes",
    "hasher_for",
    "index_docs",
    "index_records",
    "matching_ids",
    "normalise",
    "occurrences",
    "open_fields",
    "parse",
    "parse_time",
    "part_tokens",
    "record_matches",
    "reindex",
    "reindex_required",
    "remove_docs",
    "resolve_conversations",
    "resolve_participants",
    "run_search",
    "search",
    "snippet",
    "term_tokens",
]
