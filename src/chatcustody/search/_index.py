"""Write the search index: in each ingest transaction, and whole on ``reindex``.

Layout (migration 0003):

- SQLite: ``search_fts`` — contentless FTS5 (``content=''``, unicode61 tokenizer,
  ``detail=full``), rowid = record id, one column of space-separated positional tokens;
  ``search_fts_bag`` — contentless FTS5, ``detail=none``, rowid = record id, the record's
  distinct bag tokens (characters, words, symbols, markers) for one-character queries.
- PostgreSQL: ``search_fts(id, tsv)`` — a ``tsvector`` whose lexemes are the keyed tokens:
  positional ones with their positions (phrase queries with ``<->``), bag-only ones without;
  GIN index.
- Both: ``search_blocks(block, min_ts, max_ts)`` — the time range of the records whose ids
  fall in each block of 1024 ids, so a newest-first query can stop early while walking the
  index in id order; ``search_oversize(id)`` — records too long for the index, which every
  query checks directly.

Records are never updated or deleted in place, so the index is append-only; ``reindex``
rebuilds it from the records in one transaction (optionally under a fresh key).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import Connection, delete, func, insert, select, text, update

from chatcustody._env import now_ms
from chatcustody.audit import append_audit
from chatcustody.crypto import new_key
from chatcustody.errors import IntegrityError
from chatcustody.model import Record
from chatcustody.rows import parse_payload, row_aad
from chatcustody.search._tokens import DocTokens, TokenHasher, add_markers, doc_tokens
from chatcustody.store import schema as t
from chatcustody.vault import Vault, key_purpose

BLOCK_BITS: Final[int] = 10
REINDEX_FLAG: Final[str] = "search_reindex_required"
_REBUILD_BATCH: Final[int] = 2000
_COMPACT_SHARE: Final[int] = 8  # an import adding >= 1/8 of the records compacts the index

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class IndexDoc:
    """What the index needs of one record."""

    id: int
    ts_ms: int
    conversation_id: int
    sender_id: int
    type: str
    parts: tuple[str, ...]  # the text, then each attachment name
    has_attachments: bool
    # ``part_tokens(parts)`` when already computed (ingest's producer); markers still added
    part_tokens: DocTokens | None = field(default=None, compare=False, repr=False)


@lru_cache(maxsize=4)
def _hasher(key: bytes) -> TokenHasher:
    return TokenHasher(key)


def hasher_for(vault: Vault) -> TokenHasher:
    """Return the (cached) token hasher for the vault's current search key."""
    return _hasher(vault.service["search"])


def open_fields(vault: Vault, conn: Connection, row: Any) -> dict[str, Any]:
    """Authenticate and decrypt a records row; return its sealed fields."""
    cipher = vault.conversation_cipher(conn, int(row["conversation_id"]))
    plain = cipher.open(bytes(row["payload"]), row_aad("records", row), f"record {row['id']}")
    try:
        fields: dict[str, Any] = parse_payload(plain)["fields"]
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"record {row['id']}: payload is malformed ({exc})") from None
    return fields


def doc_from_fields(row: Any, fields: dict[str, Any]) -> IndexDoc:
    """Return the index document of a decrypted records row."""
    names = tuple(str(a.get("name") or "") for a in fields.get("attachments") or ())
    return IndexDoc(
        int(row["id"]),
        int(row["ts_ms"]),
        int(row["conversation_id"]),
        int(row["sender_id"]),
        str(row["type"]),
        (str(fields.get("text") or ""), *names),
        bool(names),
    )


def tokens_of(vault: Vault, doc: IndexDoc) -> DocTokens:
    """Return the keyed tokens of an index document under the vault's search key."""
    if doc.part_tokens is not None:
        out = doc.part_tokens
        add_markers(
            hasher_for(vault),
            out,
            doc.has_attachments,
            doc.conversation_id,
            doc.sender_id,
            doc.type,
        )
        return out
    return doc_tokens(
        hasher_for(vault),
        doc.parts,
        doc.has_attachments,
        doc.conversation_id,
        doc.sender_id,
        doc.type,
    )


def tsvector_literal(tokens: DocTokens) -> str:
    """Return the PostgreSQL tsvector text of a record's tokens (positions from 1)."""
    positions: dict[str, list[str]] = {}
    for i, tok in enumerate(tokens.positional, 1):
        positions.setdefault(tok, []).append(str(i))
    parts = [f"'{tok}':{','.join(p)}" for tok, p in positions.items()]
    parts.extend(f"'{tok}'" for tok in tokens.bag if tok not in positions)
    return " ".join(parts)


def index_docs(vault: Vault, conn: Connection, docs: Sequence[IndexDoc]) -> None:
    """Add records to the index inside the caller's transaction."""
    if not docs:
        return
    sqlite = conn.dialect.name == "sqlite"
    main: list[tuple[int, str]] = []
    bag: list[tuple[int, str]] = []
    oversize: list[dict[str, Any]] = []
    for d in docs:
        toks = tokens_of(vault, d)
        if toks.oversize:
            oversize.append({"id": d.id})
        elif not toks.bag:
            continue
        elif sqlite:
            main.append((d.id, " ".join(toks.positional)))
            bag.append((d.id, " ".join(sorted(toks.bag))))
        else:
            main.append((d.id, tsvector_literal(toks)))
    # Driver-level executemany: SQLAlchemy's per-row parameter handling cost more than FTS5.
    if sqlite:
        if main:
            conn.exec_driver_sql("INSERT INTO search_fts (rowid, tokens) VALUES (?, ?)", main)
            conn.exec_driver_sql("INSERT INTO search_fts_bag (rowid, tokens) VALUES (?, ?)", bag)
    elif main:
        conn.exec_driver_sql(
            "INSERT INTO search_fts (id, tsv) VALUES (%s, CAST(%s AS tsvector))", main
        )
    if oversize:
        conn.execute(insert(t.search_oversize), oversize)
    _extend_blocks(conn, ((d.id, d.ts_ms) for d in docs))


def remove_docs(vault: Vault, conn: Connection, docs: Sequence[IndexDoc]) -> int:
    """Remove records' entries from the index inside the caller's transaction (shredding).

    The SQLite tables are contentless, so each record's exact tokens (recomputed from its
    decrypted text) are handed to FTS5's 'delete' command; PostgreSQL deletes by id.
    ``search_blocks`` keeps its ranges: they describe the records table, which keeps its rows.
    Return how many records had entries.
    """
    removed = 0
    sqlite = conn.dialect.name == "sqlite"
    ids = [d.id for d in docs]
    for d in docs:
        toks = tokens_of(vault, d)
        if toks.oversize or not toks.bag:
            continue
        removed += 1
        if sqlite:
            for table, value in (
                ("search_fts", " ".join(toks.positional)),
                ("search_fts_bag", " ".join(sorted(toks.bag))),
            ):
                conn.execute(
                    text(
                        f"INSERT INTO {table} ({table}, rowid, tokens) VALUES ('delete', :id, :t)"
                    ),
                    {"id": d.id, "t": value},
                )
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        if not sqlite:
            conn.execute(text("DELETE FROM search_fts WHERE id = ANY(:ids)"), {"ids": part})
        conn.execute(delete(t.search_oversize).where(t.search_oversize.c.id.in_(part)))
    return removed


def compact_after_import(conn: Connection, added: int) -> bool:
    """Rewrite each FTS5 table as one segment when an import added ≥ 1/8 of the records.

    Each segment repeats the terms it holds, so an index left as FTS5's automerge builds it
    (up to three segments a level) is larger: 88.0 MB against 81.7 MB merged, at 1M records of
    ``bench/search_bench.py``. Merging inside every batch cost up to 1 s a batch at 1M; one
    'optimize' after a big import costs about 1 s per million records (SQLite). Smaller imports
    leave the merging to automerge, so the rewrite's cost stays proportional to what
    imports add. Return True when the tables were rewritten (PostgreSQL: never, GIN merges
    its own pending list).
    """
    if conn.dialect.name != "sqlite" or added <= 0:
        return False
    # The highest record id stands for the count (ids are dense): one index lookup, where
    # count(*) would scan a 10M-record table after every import.
    total = int(conn.execute(select(func.coalesce(func.max(t.records.c.id), 0))).scalar_one())
    if added * _COMPACT_SHARE < total:
        return False
    for table in ("search_fts", "search_fts_bag"):
        conn.execute(text(f"INSERT INTO {table} ({table}) VALUES ('optimize')"))
    return True


def _extend_blocks(conn: Connection, id_ts: Iterable[tuple[int, int]]) -> None:
    bounds: dict[int, tuple[int, int]] = {}
    for rid, ts in id_ts:
        b = rid >> BLOCK_BITS
        lo, hi = bounds.get(b, (ts, ts))
        bounds[b] = (min(lo, ts), max(hi, ts))
    least, greatest = ("min", "max") if conn.dialect.name == "sqlite" else ("LEAST", "GREATEST")
    conn.execute(
        text(
            "INSERT INTO search_blocks (block, min_ts, max_ts) VALUES (:b, :lo, :hi) "
            "ON CONFLICT (block) DO UPDATE SET "
            f"min_ts = {least}(search_blocks.min_ts, excluded.min_ts), "
            f"max_ts = {greatest}(search_blocks.max_ts, excluded.max_ts)"
        ),
        [{"b": b, "lo": lo, "hi": hi} for b, (lo, hi) in sorted(bounds.items())],
    )


def index_records(
    vault: Vault,
    conn: Connection,
    record_rows: Sequence[dict[str, Any]],
    items: Sequence[Any],
    part_tokens: dict[bytes, DocTokens] | None = None,
) -> None:
    """Index the records an ingest batch has just inserted (same transaction).

    ``record_rows`` are the inserted rows; ``items`` the batch's (item, dedupe key) pairs,
    where the first item with a row's dedupe key is the one that row holds;
    ``part_tokens`` the already computed ``part_tokens`` of records, by dedupe key.
    """
    pre = part_tokens or {}
    if not record_rows:
        return
    by_key: dict[bytes, Record] = {}
    for item, key in items:
        if isinstance(item, Record):
            by_key.setdefault(key, item)
    docs = []
    for row in record_rows:
        r = by_key[row["dedupe"]]
        names = tuple(a.name for a in r.attachments)
        docs.append(
            IndexDoc(
                int(row["id"]),
                int(row["ts_ms"]),
                int(row["conversation_id"]),
                int(row["sender_id"]),
                str(row["type"]),
                (r.text, *names),
                bool(names),
                pre.get(row["dedupe"]),
            )
        )
    index_docs(vault, conn, docs)


def clear(conn: Connection) -> None:
    """Empty every search table."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("INSERT INTO search_fts (search_fts) VALUES ('delete-all')"))
        conn.execute(text("INSERT INTO search_fts_bag (search_fts_bag) VALUES ('delete-all')"))
    else:
        conn.execute(text("DELETE FROM search_fts"))
    conn.execute(delete(t.search_oversize))
    conn.execute(delete(t.search_blocks))


def iter_docs(vault: Vault, conn: Connection) -> Iterable[IndexDoc]:
    """Yield every record's index document, in id order (decrypting each record)."""
    shredded = select(t.shredded_conversations.c.conversation_id)
    result = conn.execute(
        select(t.records)
        .where(t.records.c.conversation_id.not_in(shredded))  # unreadable: never indexed
        .order_by(t.records.c.id),
        execution_options={"yield_per": _REBUILD_BATCH},
    )
    for row in result.mappings():
        yield doc_from_fields(row, open_fields(vault, conn, row))


def rebuild(vault: Vault, conn: Connection, progress: Progress | None = None) -> int:
    """Rebuild the whole index from the records; return how many were indexed."""
    clear(conn)
    # The highest record id stands for the count (ids are dense): one index lookup, where
    # count(*) would scan a 10M-record table after every import.
    total = int(conn.execute(select(func.coalesce(func.max(t.records.c.id), 0))).scalar_one())
    done = 0
    batch: list[IndexDoc] = []
    for doc in iter_docs(vault, conn):
        batch.append(doc)
        if len(batch) >= _REBUILD_BATCH:
            index_docs(vault, conn, batch)
            done += len(batch)
            batch = []
            if progress:
                progress("reindex", done, total)
    index_docs(vault, conn, batch)
    done += len(batch)
    if conn.dialect.name == "sqlite":  # one segment per table: the smallest index
        for table in ("search_fts", "search_fts_bag"):
            conn.execute(text(f"INSERT INTO {table} ({table}) VALUES ('optimize')"))
    conn.execute(delete(t.vault_meta).where(t.vault_meta.c.key == REINDEX_FLAG))
    return done


@dataclass(frozen=True)
class ReindexResult:
    """What ``reindex`` did."""

    records: int
    new_key: bool
    took_ms: float

    def to_json(self) -> dict[str, Any]:
        """Return the ``reindex --json`` contract."""
        return {"records": self.records, "new_key": self.new_key, "took_ms": self.took_ms}


def reindex(
    vault: Vault,
    fresh_key: bool = False,
    actor: str | None = None,
    progress: Progress | None = None,
) -> ReindexResult:
    """Rebuild the search index from the records, optionally under a fresh search key.

    One transaction: the new key (sealed by the current master key) and the rebuilt index
    commit together, or neither does.
    """
    started = time.perf_counter()
    old = vault.service["search"]
    try:
        with vault.begin() as conn:
            writer = vault.ledger_writer(conn)
            if fresh_key:
                key = new_key()
                version, sealed = vault.keyring.wrap(key, key_purpose("service", "search"))
                conn.execute(
                    update(t.service_keys)
                    .where(t.service_keys.c.purpose == "search")
                    .values(mk_version=version, sealed=sealed, created_ms=now_ms())
                )
                vault.service["search"] = key
            count = rebuild(vault, conn, progress)
            took = round((time.perf_counter() - started) * 1000, 1)
            append_audit(
                vault,
                conn,
                writer,
                "search.reindex",
                {"records": count, "new_key": fresh_key, "took_ms": took},
                actor,
            )
            writer.commit_head(now_ms())
    except BaseException:
        vault.service["search"] = old
        vault.forget_ciphers()
        raise
    return ReindexResult(count, fresh_key, took)


def reindex_required(conn: Connection) -> bool:
    """Return True when records stored before the index existed still need ``reindex``."""
    flag = conn.execute(
        select(t.vault_meta.c.value).where(t.vault_meta.c.key == REINDEX_FLAG)
    ).scalar_one_or_none()
    return flag is not None


__all__ = [
    "BLOCK_BITS",
    "IndexDoc",
    "ReindexResult",
    "doc_from_fields",
    "hasher_for",
    "index_docs",
    "index_records",
    "open_fields",
    "rebuild",
    "reindex",
    "remove_docs",
    "reindex_required",
]
