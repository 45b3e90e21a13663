"""Candidate records in result order, straight from SQL: filters and scope applied inside.

Every stream yields whole ``records`` rows in exact (ts_ms, id) order — newest first or
oldest first — restricted by the clear columns (conversation, sender, type, time window,
cursor) in the SQL itself, before anything is decrypted. Keys (ts_ms, id) are found first;
rows are fetched in small batches as the caller consumes them.

On SQLite the FTS5 expression already holds the marker tokens of small conversation,
sender and type filters, and a time window narrows the rowid ranges through
``search_blocks`` (id blocks of 1024 records with their time range). Then:

- *all matches* — the index has few matches: fetch them all and sort;
- *by blocks* — many matches: walk the blocks latest first, fetching each block's matches,
  and release a candidate once no unread block can hold a later one. Imports in time order
  make that a block or two per export for the first page.

PostgreSQL lets the planner sort the GIN matches by (ts_ms, id). Records in
``search_oversize`` are merged in on both.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Final

from sqlalchemy import Connection, RowMapping, bindparam, text

from chatcustody.search._index import BLOCK_BITS
from chatcustody.search._plan import Plan

Key = tuple[int, int]  # (ts_ms, id)

_ALL_MATCHES_MAX: Final[int] = 512  # index matches: fetch them all
_ROW_BATCH: Final[int] = 64
_FIRST_CHUNK: Final[int] = 128
_MAX_CHUNK: Final[int] = 4096


@dataclass
class Filters:
    """Restrictions on clear columns, all applied in SQL (None: no restriction)."""

    conversation_ids: set[int] | None = None
    sender_ids: set[int] | None = None
    types: list[str] | None = None
    after_ms: int | None = None
    before_ms: int | None = None
    cursor: Key | None = None  # (ts_ms, id) of the last record already shown
    newest_first: bool = True
    record_ids: set[int] | None = None  # a retrieval request's explicit records
    shredded: set[int] | None = None  # crypto-shredded conversations: never candidates
    dialect: str = "sqlite"  # how ``record_ids`` is passed: one JSON or array parameter

    @property
    def empty(self) -> bool:
        """Return True when no record can pass (an empty set or an empty window)."""
        return (
            (self.conversation_ids is not None and not self.conversation_ids)
            or (self.sender_ids is not None and not self.sender_ids)
            or (self.types is not None and not self.types)
            or (self.record_ids is not None and not self.record_ids)
            or (
                self.after_ms is not None
                and self.before_ms is not None
                and self.after_ms >= self.before_ms
            )
        )

    def restricts(self, with_cursor: bool = True) -> bool:
        """Return True when some filter needs the records table joined."""
        values: list[object] = [self.conversation_ids, self.sender_ids, self.types]
        values.append(self.record_ids)
        values += [self.after_ms, self.before_ms, self.cursor if with_cursor else None]
        return any(x is not None for x in values) or bool(self.shredded)

    def sql(self, with_cursor: bool = True) -> tuple[str, dict[str, Any], list[str]]:
        """Return (conditions on alias r, parameters, names of expanding parameters)."""
        conds: list[str] = []
        params: dict[str, Any] = {}
        expanding: list[str] = []
        for name, column, values in (
            ("convs", "conversation_id", self.conversation_ids),
            ("senders", "sender_id", self.sender_ids),
            ("types", "type", self.types),
        ):
            if values is not None:
                conds.append(f"r.{column} IN :{name}")
                params[name] = sorted(values)
                expanding.append(name)
        if self.record_ids is not None:
            # One parameter however many ids (a keyword scope may hold thousands).
            if self.dialect == "sqlite":
                conds.append("r.id IN (SELECT value FROM json_each(:rids))")
                params["rids"] = json.dumps(sorted(self.record_ids))
            else:
                conds.append("r.id = ANY(CAST(:rids AS BIGINT[]))")
                params["rids"] = sorted(self.record_ids)
        if self.shredded:
            conds.append("r.conversation_id NOT IN :shredded")
            params["shredded"] = sorted(self.shredded)
            expanding.append("shredded")
        if self.after_ms is not None:
            conds.append("r.ts_ms >= :after_ms")
            params["after_ms"] = self.after_ms
        if self.before_ms is not None:
            conds.append("r.ts_ms < :before_ms")
            params["before_ms"] = self.before_ms
        if with_cursor and self.cursor is not None:
            op = "<" if self.newest_first else ">"
            conds.append(f"(r.ts_ms {op} :cts OR (r.ts_ms = :cts AND r.id {op} :cid))")
            params["cts"], params["cid"] = self.cursor
        return " AND ".join(conds) or "1 = 1", params, expanding


def _run(
    conn: Connection, sql: str, params: dict[str, Any], expanding: list[str]
) -> list[RowMapping]:
    stmt = text(sql)
    if expanding:
        stmt = stmt.bindparams(*(bindparam(n, expanding=True) for n in expanding))
    return list(conn.execute(stmt, params).mappings())


def _run_keys(
    conn: Connection, sql: str, params: dict[str, Any], expanding: list[str]
) -> list[Key]:
    """Run a query selecting (r.id, r.ts_ms); on SQLite through the raw cursor (hot path)."""
    if conn.dialect.name != "sqlite":
        return _keys(_run(conn, sql, params, expanding))
    params = dict(params)
    for name in expanding:
        values = params.pop(name)
        names = [f"{name}_{i}" for i in range(len(values))]
        params.update(zip(names, values, strict=True))
        sql = sql.replace(f":{name}", "(" + ", ".join(f":{n}" for n in names) + ")")
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        return [(int(ts), int(rid)) for rid, ts in cursor.execute(sql, params).fetchall()]
    finally:
        cursor.close()


def _sort_key(key: Key, newest: bool) -> Key:
    return (-key[0], -key[1]) if newest else key


def _keys(rows: list[RowMapping]) -> list[Key]:
    return [(int(r["ts_ms"]), int(r["id"])) for r in rows]


def _keyset(
    conn: Connection, source: str, extra: str, params: dict[str, Any], f: Filters
) -> Iterator[Key]:
    """Yield keys ordered by (ts_ms, id), in growing chunks continued by keyset."""
    direction = "DESC" if f.newest_first else "ASC"
    cursor = f.cursor
    n = _FIRST_CHUNK
    while True:
        where, fparams, expanding = replace(f, cursor=cursor).sql()
        keys = _run_keys(
            conn,
            f"SELECT r.id, r.ts_ms FROM {source} WHERE {extra} AND {where} "
            f"ORDER BY r.ts_ms {direction}, r.id {direction} LIMIT :n",
            {**params, **fparams, "n": n},
            expanding,
        )
        yield from keys
        if len(keys) < n:
            return
        cursor = keys[-1]
        n = min(n * 4, _MAX_CHUNK)


def _blocks(conn: Connection, f: Filters) -> list[tuple[int, int, int]]:
    """Return (block, min_ts, max_ts) of the id blocks that can hold records in the window."""
    conds, params = ["1 = 1"], {}
    if f.after_ms is not None:
        conds.append("max_ts >= :a")
        params["a"] = f.after_ms
    if f.before_ms is not None:
        conds.append("min_ts < :b")
        params["b"] = f.before_ms
    if f.cursor is not None:
        conds.append("min_ts <= :c" if f.newest_first else "max_ts >= :c")
        params["c"] = f.cursor[0]
    rows = conn.execute(
        text(f"SELECT block, min_ts, max_ts FROM search_blocks WHERE {' AND '.join(conds)}"),
        params,
    ).all()
    return [(int(b), int(lo), int(hi)) for b, lo, hi in rows]


def _ranges(blocks: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """Merge blocks into contiguous id ranges (inclusive)."""
    out: list[tuple[int, int]] = []
    for b in sorted(x[0] for x in blocks):
        lo, hi = b << BLOCK_BITS, ((b + 1) << BLOCK_BITS) - 1
        if out and out[-1][1] + 1 == lo:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _sqlite_select(plan: Plan, where: str) -> str:
    t = plan.table
    return (
        f"SELECT r.id, r.ts_ms FROM {t} CROSS JOIN records AS r ON r.id = {t}.rowid "
        f"WHERE {t} MATCH :q AND {where} AND {t}.rowid BETWEEN :lo AND :hi"
    )


def _sqlite_keys(conn: Connection, plan: Plan, f: Filters) -> Iterator[Key]:
    newest = f.newest_first
    blocks = _blocks(conn, f)
    where, params, expanding = f.sql()
    params = {**params, "q": plan.match}
    select_ = _sqlite_select(plan, where)
    found: list[Key] = []
    for lo, hi in _ranges(blocks):
        room = _ALL_MATCHES_MAX + 1 - len(found)
        found += _run_keys(
            conn, f"{select_} LIMIT :n", {**params, "lo": lo, "hi": hi, "n": room}, expanding
        )
        if len(found) > _ALL_MATCHES_MAX:
            break
    else:  # few matches: all of them are known
        yield from sorted(found, key=lambda k: _sort_key(k, newest))
        return
    blocks.sort(key=lambda b: -b[2] if newest else b[1])
    heap: list[Key] = []
    for block, min_ts, max_ts in blocks:
        # Nothing unread can rank before a held key strictly later (earlier) than this block.
        while heap and (-heap[0][0] > max_ts if newest else heap[0][0] < min_ts):
            yield _sort_key(heapq.heappop(heap), newest)
        lo = block << BLOCK_BITS
        rows = _run_keys(
            conn, select_, {**params, "lo": lo, "hi": lo + (1 << BLOCK_BITS) - 1}, expanding
        )
        for key in rows:
            heapq.heappush(heap, _sort_key(key, newest))
    while heap:
        yield _sort_key(heapq.heappop(heap), newest)


def oversize_rows(conn: Connection, filters: Filters) -> list[RowMapping]:
    """Return the records kept out of the full-text index that pass the filters."""
    if filters.empty or conn.execute(text("SELECT 1 FROM search_oversize LIMIT 1")).first() is None:
        return []
    where, params, expanding = filters.sql()
    join = "CROSS JOIN" if conn.dialect.name == "sqlite" else "JOIN"  # oversize rows first
    return _run(
        conn,
        f"SELECT r.* FROM search_oversize AS o {join} records AS r ON r.id = o.id WHERE {where}",
        params,
        expanding,
    )


def candidate_keys(conn: Connection, plan: Plan, f: Filters) -> Iterator[Key]:
    """Yield the keys of candidate records in result order (oversize ones merged in)."""
    if f.empty:
        return
    if plan.table is None:
        yield from _keyset(conn, "records AS r", "1 = 1", {}, f)
        return
    if conn.dialect.name == "sqlite":
        main = _sqlite_keys(conn, plan, f)
    else:
        main = _keyset(
            conn,
            "search_fts AS s JOIN records AS r ON r.id = s.id",
            "s.tsv @@ CAST(:q AS tsquery)",
            {"q": plan.match},
            f,
        )
    extra = _keys(oversize_rows(conn, f))
    if not extra:
        yield from main
        return
    newest = f.newest_first
    extra.sort(key=lambda k: _sort_key(k, newest))
    yield from heapq.merge(main, extra, key=lambda k: _sort_key(k, newest))


def candidates(conn: Connection, plan: Plan, f: Filters) -> Iterator[RowMapping]:
    """Yield candidate records (whole rows) in result order, fetched in small batches."""
    keys = candidate_keys(conn, plan, f)
    batch = _ROW_BATCH
    while True:
        ids = [rid for _, rid in _take(keys, batch)]
        if not ids:
            return
        rows = {
            int(r["id"]): r
            for r in _run(conn, "SELECT * FROM records WHERE id IN :ids", {"ids": ids}, ["ids"])
        }
        for rid in ids:
            yield rows[rid]
        batch = min(batch * 2, 512)


def _take(it: Iterator[Key], n: int) -> list[Key]:
    out = []
    for key in it:
        out.append(key)
        if len(out) >= n:
            break
    return out


def count_index(conn: Connection, plan: Plan, f: Filters, cap: int) -> int:
    """Count index matches that pass the filters (ignoring the cursor), up to ``cap``."""
    if f.empty:
        return 0
    f = replace(f, cursor=None)
    where, params, expanding = f.sql()
    params = {**params, "cap": cap, "q": plan.match}
    joined = f.restricts()
    inner: list[tuple[str, dict[str, int]]]
    if plan.table is None:
        params.pop("q")
        inner = [(f"SELECT 1 FROM records AS r WHERE {where} LIMIT :cap", {})]
    elif conn.dialect.name == "sqlite":
        t = plan.table
        if not joined:
            inner = [(f"SELECT 1 FROM {t} WHERE {t} MATCH :q LIMIT :cap", {})]
        else:
            select_ = _sqlite_select(plan, where) + " LIMIT :cap"
            inner = [(select_, {"lo": lo, "hi": hi}) for lo, hi in _ranges(_blocks(conn, f))]
    else:
        join = "JOIN records AS r ON r.id = s.id" if joined else ""
        cond = f" AND {where}" if joined else ""
        inner = [
            (
                f"SELECT 1 FROM search_fts AS s {join} "
                f"WHERE s.tsv @@ CAST(:q AS tsquery){cond} LIMIT :cap",
                {},
            )
        ]
    total = 0
    for sql, extra in inner:
        rows = _run(
            conn,
            f"SELECT count(*) AS n FROM ({sql}) AS c",
            {**params, **extra, "cap": cap - total},
            expanding,
        )
        total += int(rows[0]["n"])
        if total >= cap:
            break
    return total
