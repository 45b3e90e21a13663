"""Check the search index against the records (``verify``): full, or sampled by default.

Full (``verify --full``): every record is decrypted and its tokens recomputed; the index
must hold exactly those tokens for it, at the same positions, and nothing for records that
do not exist:

- SQLite: the FTS5 tables are read back through ``fts5vocab`` ('instance': term, record,
  position) and folded into a per-record checksum (a sum of salted hashes of (token,
  position); the salt is per process, so tampering cannot be made to cancel out), compared
  with the same checksum of the recomputed tokens.
- PostgreSQL: each stored ``tsvector`` is compared with the recomputed one.

Also checked: ``search_oversize`` lists exactly the records too long for the index, and
``search_blocks`` holds each id block's true time range (a wrong range would misorder
results). A missing or altered index entry loses search hits; an extra one only costs a
re-check — both are reported.

Default: ``_check_sample`` — every record's presence, and a random sample re-tokenised.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final, Protocol

from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError

from chatcustody.errors import ChatCustodyError, ShreddedError
from chatcustody.search._check_sample import Sampling, check_sampled, parse_tsvector
from chatcustody.search._index import (
    BLOCK_BITS,
    doc_from_fields,
    open_fields,
    reindex_required,
    tokens_of,
    tsvector_literal,
)
from chatcustody.search._tokens import DocTokens
from chatcustody.store import schema as t
from chatcustody.vault import Vault

_MASK: Final[int] = (1 << 64) - 1
_FETCH: Final[int] = 5000


class Report(Protocol):
    """The part of ``verify.VerifyReport`` this check writes to."""

    checked: dict[str, int]
    warnings: list[str]

    def fail(self, message: str) -> None: ...


@dataclass
class IndexReport:
    """A stand-alone report (``check_index`` outside ``verify``)."""

    checked: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        """Record a failure."""
        self.failures.append(message)


def _digest(tokens: DocTokens) -> tuple[int, int]:
    main = sum(hash((tok, i)) for i, tok in enumerate(tokens.positional)) & _MASK
    bag = sum(hash((tok, -1)) for tok in tokens.bag) & _MASK
    return main, bag


def _records(
    vault: Vault, conn: Connection, report: Report
) -> Iterator[tuple[int, DocTokens | None]]:
    """Yield (record id, recomputed tokens or None when unreadable), in id order."""
    result = conn.execute(
        select(t.records).order_by(t.records.c.id), execution_options={"yield_per": _FETCH}
    )
    for row in result.mappings():
        rid = int(row["id"])
        try:
            doc = doc_from_fields(row, open_fields(vault, conn, row))
        except ShreddedError:  # crypto-shredded: unreadable by design, its entries removed
            yield rid, None
            continue
        except ChatCustodyError as exc:
            report.warnings.append(f"search index: record {rid} not checked ({exc})")
            yield rid, None
            continue
        yield rid, tokens_of(vault, doc)


def _check_sqlite(vault: Vault, conn: Connection, report: Report) -> tuple[int, set[int]]:
    max_id = int(conn.execute(select(t.records.c.id).order_by(t.records.c.id.desc())).scalar() or 0)
    size = max_id + 1
    want_main, want_bag = array("Q", bytes(8 * size)), array("Q", bytes(8 * size))
    exists = bytearray(size)
    oversize: set[int] = set()
    checked = 0
    for rid, toks in _records(vault, conn, report):
        exists[rid] = 1 if toks is not None else 2
        if toks is None:
            continue
        checked += 1
        if toks.oversize:
            oversize.add(rid)
        elif toks.bag:
            want_main[rid], want_bag[rid] = _digest(toks)
    for table, want in (("search_fts", want_main), ("search_fts_bag", want_bag)):
        have = array("Q", bytes(8 * size))
        stray: set[int] = set()
        vocab = f"temp.{table}_check_vocab"
        conn.execute(
            text(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {vocab} "
                f"USING fts5vocab(main, {table}, 'instance')"
            )
        )
        try:
            rows = conn.exec_driver_sql(f"SELECT term, doc, offset FROM {vocab}")
            for term, doc, offset in rows:
                if not 0 < doc < size or not exists[doc]:
                    stray.add(int(doc))
                    continue
                have[doc] = (have[doc] + hash((term, -1 if offset is None else offset))) & _MASK
        except DBAPIError as exc:
            report.fail(f"search index: {table} cannot be read ({exc.orig})")
            continue
        finally:
            conn.execute(text(f"DROP TABLE IF EXISTS {vocab}"))
        for doc in sorted(stray):
            report.fail(f"search index: {table} holds record {doc}, which does not exist")
        for rid in range(1, size):
            if exists[rid] == 1 and have[rid] != want[rid]:
                what = "is missing from" if have[rid] == 0 else "does not match"
                report.fail(f"search index: record {rid} {what} {table} (reindex to repair)")
    return checked, oversize


def _check_pg(vault: Vault, conn: Connection, report: Report) -> tuple[int, set[int]]:
    oversize: set[int] = set()
    checked = 0
    pending: dict[int, dict[str, tuple[int, ...]] | None] = {}

    def flush() -> None:
        if not pending:
            return
        lo, hi = min(pending), max(pending)
        stored = {
            int(i): parse_tsvector(str(v))
            for i, v in conn.execute(
                text("SELECT id, tsv::text FROM search_fts WHERE id BETWEEN :lo AND :hi"),
                {"lo": lo, "hi": hi},
            )
        }
        for rid, want in pending.items():
            have = stored.pop(rid, None)
            if want is None and have is not None:
                report.fail(f"search index: record {rid} has entries but no searchable text")
            elif want is not None and have is None:
                report.fail(f"search index: record {rid} is missing from search_fts")
            elif want != have:
                report.fail(f"search index: record {rid} does not match search_fts (reindex)")
        for rid in stored:
            report.fail(f"search index: search_fts holds record {rid}, which does not exist")
        pending.clear()

    for rid, toks in _records(vault, conn, report):
        if toks is None:
            continue
        checked += 1
        if toks.oversize:
            oversize.add(rid)
            pending[rid] = None
        else:
            pending[rid] = parse_tsvector(tsvector_literal(toks)) if toks.bag else None
        if len(pending) >= _FETCH:
            flush()
    flush()
    extra = conn.execute(
        text("SELECT f.id FROM search_fts f LEFT JOIN records r ON r.id = f.id WHERE r.id IS NULL")
    )
    for (rid,) in extra:
        report.fail(f"search index: search_fts holds record {rid}, which does not exist")
    return checked, oversize


def _check_blocks(conn: Connection, report: Report) -> None:
    per_block = f"id / {1 << BLOCK_BITS}"
    want = {
        int(b): (int(lo), int(hi))
        for b, lo, hi in conn.execute(
            text(f"SELECT {per_block}, min(ts_ms), max(ts_ms) FROM records GROUP BY {per_block}")
        )
    }
    have = {
        int(r.block): (int(r.min_ts), int(r.max_ts)) for r in conn.execute(select(t.search_blocks))
    }
    for block in sorted(set(want) | set(have)):
        if want.get(block) != have.get(block):
            report.fail(
                f"search index: time range of id block {block} is {have.get(block)}, "
                f"records say {want.get(block)}"
            )


def check_index(
    vault: Vault,
    conn: Connection,
    report: Report,
    sample: int | None = None,
    seed: int | None = None,
) -> Sampling | None:
    """Check the search index against the records; add failures to ``report``.

    ``sample=None`` re-tokenises every record (``verify --full``); otherwise every record's
    presence is checked and ``sample`` random records are re-tokenised (``_check_sample``),
    and what was sampled is returned.
    """
    if reindex_required(conn):
        report.warnings.append(
            "search index: records stored before it existed are not indexed yet "
            "(run 'chatcustody reindex')"
        )
        return None
    sampling = None
    if sample is not None:
        sampling, _ = check_sampled(vault, conn, report, sample, seed)
        checked = sampling.records
    else:
        check = _check_sqlite if conn.dialect.name == "sqlite" else _check_pg
        checked, oversize = check(vault, conn, report)
        stored: set[int] = {int(i) for (i,) in conn.execute(select(t.search_oversize.c.id))}
        for rid in sorted(oversize ^ stored):
            state = "is missing from" if rid in oversize else "is wrongly in"
            report.fail(f"search index: record {rid} {state} search_oversize")
    _check_blocks(conn, report)
    report.checked["search_index"] = checked
    return sampling
