"""The default (sampled) check of the search index, for ``verify`` without ``--full``.

The full check (``_check``) decrypts and re-tokenises every record and reads the whole
index back; on a large vault that costs more than everything else ``verify`` does. By
default ``verify`` instead checks:

- **every record** (cheap, full): each record that should be indexed is in both index
  tables under its own conversation's marker token, and the index holds no entry for a
  record that does not exist or sits under another conversation's marker (SQLite: the
  rowids of each conversation marker; PostgreSQL: a join of ``records`` and
  ``search_fts``); every ``search_oversize`` id is a record; every id block's time range;
- **a random sample** of records (``sample`` records, seeded, the seed is reported):
  decrypted, re-tokenised and compared with their index entries — on PostgreSQL the whole
  ``tsvector`` exactly; on SQLite (contentless FTS5 keeps no per-record copy) every token at
  its position (an anchored phrase query), every bag token, and the oversize flag.

Not caught by the sampled check, caught by ``--full``: altered tokens of a record outside
the sample, and (SQLite) extra tokens appended after a sampled record's last token. An
extra token only makes a search decrypt one more candidate; a missing one loses hits,
which the per-record presence check above catches for whole entries.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, select, text

from chatcustody.errors import ChatCustodyError, ShreddedError
from chatcustody.search._index import (
    doc_from_fields,
    hasher_for,
    open_fields,
    tokens_of,
    tsvector_literal,
)
from chatcustody.search._tokens import DocTokens, conversation_marker
from chatcustody.store import schema as t
from chatcustody.vault import Vault

DEFAULT_SAMPLE: Final[int] = 300
_CHUNK: Final[int] = 500  # ids per IN (...), terms per FTS5 query


@dataclass(frozen=True)
class Sampling:
    """What the sampled check re-tokenised: ``records`` of ``total``, drawn with ``seed``."""

    records: int
    total: int
    seed: int

    def to_json(self) -> dict[str, Any]:
        """Return the ``verify --json`` entry."""
        return {"mode": "sample", "records": self.records, "of": self.total, "seed": self.seed}

    def describe(self) -> str:
        """Return the one-line note ``verify`` prints."""
        if self.records >= self.total:
            return f"search index: all {self.total} records re-tokenised"
        return (
            f"search index: {self.records} of {self.total} records re-tokenised (random sample, "
            f"seed {self.seed}); presence of every record checked; use --full to re-tokenise all"
        )


def _expected(conn: Connection) -> tuple[array[int], array[int], set[int], set[int]]:
    """Return record ids and their conversations (id order, compact), the shredded
    conversations and the stored oversize ids."""
    raw = conn.connection.driver_connection  # same transaction; no per-row wrapping
    assert raw is not None
    ids, convs = array("q"), array("q")
    cursor = raw.cursor()
    cursor.execute("SELECT id, conversation_id FROM records ORDER BY id")
    while rows := cursor.fetchmany(10_000):
        for rid, conv in rows:
            ids.append(rid)
            convs.append(conv)
    cursor.close()
    shredded = {
        int(c)
        for (c,) in conn.execute(
            select(t.conversations.c.id).where(t.conversations.c.dek_sealed == b"")
        )
    }
    oversize = {int(i) for (i,) in conn.execute(select(t.search_oversize.c.id))}
    return ids, convs, shredded, oversize


def _presence_sqlite(
    vault: Vault,
    conn: Connection,
    report: Any,
    ids: array[int],
    convs: array[int],
    conv_of: array[int],
    skip: set[int],
) -> set[int]:
    """Check every record's entry via its conversation marker; return the records missing."""
    size = len(conv_of)
    hasher = hasher_for(vault)
    raw = conn.connection.driver_connection
    assert raw is not None
    missing: set[int] = set()
    for table in ("search_fts", "search_fts_bag"):
        seen = bytearray(size)
        stray: set[int] = set()
        for conv in sorted(set(convs)):
            marker = conversation_marker(hasher, conv)
            rows = raw.execute(
                f"SELECT rowid FROM {table} WHERE {table} MATCH ?", (f'"{marker}"',)
            ).fetchall()
            for (rid,) in rows:
                if 0 < rid < size and conv_of[rid] == conv:
                    seen[rid] = 1
                else:
                    stray.add(int(rid))
        for rid in sorted(stray):
            what = "does not exist" if not 0 < rid < size or not conv_of[rid] else "is elsewhere"
            report.fail(f"search index: {table} holds record {rid}, which {what}")
        for rid in ids:
            if not seen[rid] and rid not in skip and rid not in missing:
                missing.add(rid)
                report.fail(
                    f"search index: record {rid} is missing from {table} (reindex to repair)"
                )
    return missing


def _presence_pg(conn: Connection, report: Any) -> set[int]:
    """Check that every readable, not oversize record has a row and no row lacks a record."""
    missing = {
        int(rid)
        for (rid,) in conn.execute(
            text(
                "SELECT r.id FROM records r JOIN conversations c ON c.id = r.conversation_id "
                "LEFT JOIN search_fts f ON f.id = r.id LEFT JOIN search_oversize o ON o.id = r.id "
                "WHERE f.id IS NULL AND o.id IS NULL AND length(c.dek_sealed) > 0"
            )
        )
    }
    for rid in sorted(missing):
        report.fail(f"search index: record {rid} is missing from search_fts")
    extra = conn.execute(
        text("SELECT f.id FROM search_fts f LEFT JOIN records r ON r.id = f.id WHERE r.id IS NULL")
    )
    for (rid,) in extra:
        report.fail(f"search index: search_fts holds record {rid}, which does not exist")
    return missing


def parse_tsvector(value: str) -> dict[str, tuple[int, ...]]:
    """Return {lexeme: positions} of a PostgreSQL tsvector's text form."""
    out: dict[str, tuple[int, ...]] = {}
    for part in value.split(" "):
        lexeme, _, positions = part.partition("':")
        lexeme = lexeme.strip("'")
        out[lexeme] = (
            tuple(int(p.rstrip("ABCD")) for p in positions.split(",")) if positions else ()
        )
    return out


def _sampled_tokens(
    vault: Vault, conn: Connection, report: Any, ids: Sequence[int]
) -> Iterator[tuple[int, DocTokens]]:
    for i in range(0, len(ids), _CHUNK):
        rows = conn.execute(
            select(t.records)
            .where(t.records.c.id.in_(ids[i : i + _CHUNK]))
            .order_by(t.records.c.id)
        ).mappings()
        for row in rows:
            rid = int(row["id"])
            try:
                doc = doc_from_fields(row, open_fields(vault, conn, row))
            except ShreddedError:
                continue
            except ChatCustodyError as exc:
                report.warnings.append(f"search index: record {rid} not checked ({exc})")
                continue
            yield rid, tokens_of(vault, doc)


def _fts_has(conn: Connection, table: str, rid: int, queries: list[str]) -> bool:
    for query in queries:
        found = conn.exec_driver_sql(
            f"SELECT 1 FROM {table} WHERE {table} MATCH ? AND rowid = ?", (query, rid)
        ).first()
        if found is None:
            return False
    return True


def _sqlite_queries(toks: DocTokens) -> tuple[list[str], list[str]]:
    """Return FTS5 queries proving the positional tokens (anchored phrase) and the bag."""
    pos = toks.positional
    phrases = [
        ("^" if i == 0 else "") + '"' + " ".join(pos[i : i + _CHUNK]) + '"'
        for i in range(0, len(pos), _CHUNK)
    ]
    # One query per bag token: FTS5 seeks a single term's doclist to the rowid, but walks
    # every doclist of an AND (0.3 ms against 5.3 ms a record at 1M records).
    return phrases, [f'"{x}"' for x in sorted(toks.bag)]


def check_sampled(
    vault: Vault, conn: Connection, report: Any, sample: int, seed: int | None
) -> tuple[Sampling, set[int]]:
    """Run the sampled check; return what was sampled and the oversize ids it recomputed."""
    ids, convs, shredded, stored_oversize = _expected(conn)
    size = (ids[-1] if ids else 0) + 1
    conv_of = array("q", bytes(8 * size))
    for rid, conv in zip(ids, convs, strict=True):
        conv_of[rid] = conv
    population: Sequence[int] = ids
    skip = set(stored_oversize)
    if shredded:
        skip.update(rid for rid, conv in zip(ids, convs, strict=True) if conv in shredded)
        population = [rid for rid, conv in zip(ids, convs, strict=True) if conv not in shredded]
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        missing = _presence_sqlite(vault, conn, report, ids, convs, conv_of, skip)
    else:
        missing = _presence_pg(conn, report)
    for rid in sorted(stored_oversize):
        if not 0 < rid < size or not conv_of[rid]:
            report.fail(f"search index: record {rid} is wrongly in search_oversize")
    seed = random.SystemRandom().randrange(1 << 32) if seed is None else seed
    sampled = sorted(random.Random(seed).sample(population, min(sample, len(population))))
    checked = 0
    oversize: set[int] = set()
    stored_tsv: dict[int, str] = {}
    if not sqlite:
        for i in range(0, len(sampled), _CHUNK):
            rows = conn.execute(
                text("SELECT id, tsv::text FROM search_fts WHERE id = ANY(:ids)"),
                {"ids": sampled[i : i + _CHUNK]},
            )
            stored_tsv.update((int(r), str(v)) for r, v in rows)
    for rid, toks in _sampled_tokens(vault, conn, report, sampled):
        checked += 1
        if toks.oversize:
            oversize.add(rid)
            if rid not in stored_oversize:
                report.fail(f"search index: record {rid} is missing from search_oversize")
            continue
        if rid in stored_oversize:
            report.fail(f"search index: record {rid} is wrongly in search_oversize")
            continue
        if rid in missing:
            continue
        if sqlite:
            phrases, bags = _sqlite_queries(toks)
            for table, queries in (("search_fts", phrases), ("search_fts_bag", bags)):
                if not _fts_has(conn, table, rid, queries):
                    report.fail(
                        f"search index: record {rid} does not match {table} (reindex to repair)"
                    )
        elif stored_tsv.get(rid) is None:
            report.fail(f"search index: record {rid} is missing from search_fts")
        elif parse_tsvector(stored_tsv[rid]) != parse_tsvector(tsvector_literal(toks)):
            report.fail(f"search index: record {rid} does not match search_fts (reindex)")
    return Sampling(checked, len(population), seed), oversize
