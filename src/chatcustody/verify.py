"""The verify use case: prove the vault is exactly what its signed ledger says.

Checks, each naming every bad item it finds:

1. Ledger: leaves are numbered without gaps; the root recomputed at every stored tree
   head's size equals that head's root, and each head's Ed25519 signature verifies; the
   saved frontier matches the leaves.
2. Rows: every record, source, amendment, event and audit row authenticates (AES-GCM with
   its clear columns as AAD), its recomputed leaf hash equals the ledger's leaf at its
   ``leaf_idx``, and that leaf names the row. Every leaf names a row that exists (a
   deleted row leaves a leaf without its row).
3. Blobs: every blob authenticates chunk by chunk and re-hashes to its recorded SHA-256
   and size; every original re-hashes to its acquisition SHA-256 and SM3. Blob files with
   no row (left by a crash before commit) are reported as warnings, not failures.
4. Names: every conversation title and participant name authenticates.
5. Search index: every record's entry is present and each id block's time range is right;
   a random sample of records (or, with ``full_index``, every record) is re-tokenised and
   compared with its entry. The report says what was sampled, how many, and the seed.

The ledger, names, blobs and index checks run in this process while worker processes
check the rows (large vaults).
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, exists, func, select

from chatcustody import ledger, search
from chatcustody._gc import quiet_gc
from chatcustody.crypto import DualDigest, FieldCipher
from chatcustody.errors import ChatCustodyError, IntegrityError
from chatcustody.rows import (
    CLEAR_COLUMNS,
    KIND_TABLE,
    conversation_aad,
    open_row,
    participant_name_aad,
)
from chatcustody.shred import check_shreds
from chatcustody.store import schema as t
from chatcustody.vault import Vault

_FETCH_ROWS: Final[int] = 5000
MAX_FAILURES: Final[int] = 1000
_ROWS_PER_TASK: Final[int] = 25_000
_PARALLEL_MIN_ROWS: Final[int] = 10_000  # below this, forking costs more than it saves

Progress = Callable[[str, int, int | None], None]


@dataclass
class VerifyReport:
    """The outcome of ``verify``: counts of what was checked, and every failure."""

    checked: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failure_count: int = 0
    notes: list[str] = field(default_factory=list)  # what was sampled, and how
    index_check: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Return True when nothing failed."""
        return self.failure_count == 0

    def fail(self, message: str) -> None:
        """Record a failure (the first MAX_FAILURES are kept verbatim)."""
        self.failure_count += 1
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(message)

    def merge(self, other: VerifyReport) -> None:
        """Append another report's counts, warnings and failures to this one."""
        self.checked.update(other.checked)
        self.warnings.extend(other.warnings)
        for f in other.failures:
            self.fail(f)
        self.failure_count += other.failure_count - len(other.failures)

    def to_json(self) -> dict[str, Any]:
        """Return the ``verify --json`` contract."""
        return {
            "ok": self.ok,
            "checked": self.checked,
            "failures": self.failures,
            "failure_count": self.failure_count,
            "warnings": self.warnings,
            "index_check": self.index_check,
            "notes": self.notes,
        }


def _check_ledger(conn: Connection, vault: Vault, report: VerifyReport) -> bool:
    """Recompute roots at every signed head; return False when the leaves have a gap."""
    heads = ledger.load_heads(conn, vault.vault_id)
    public = vault.public_key
    frontier = ledger.Frontier()
    head_iter = iter(heads)
    head = next(head_iter, None)
    expected = 0
    cursor = _stream_cursor(conn)
    cursor.execute("SELECT idx, hash FROM leaves ORDER BY idx")
    for idx, h in _fetched(cursor):
        if idx != expected:
            report.fail(f"ledger: leaf {expected} is missing (next stored leaf is {idx})")
            return False
        frontier.append(bytes(h))
        expected += 1
        while head is not None and head.size == expected:
            _check_head(head, frontier.root(), public, report)
            head = next(head_iter, None)
    while head is not None:
        report.fail(f"tree head {head.size}: the ledger has only {expected} leaves (truncated)")
        head = next(head_iter, None)
    state = conn.execute(select(t.ledger_state.c.size, t.ledger_state.c.frontier)).one_or_none()
    if (
        state is None
        or int(state.size) != expected
        or bytes(state.frontier) != b"".join(frontier.nodes)
    ):
        report.fail("ledger: saved state (size, frontier) does not match the leaves")
    if heads and heads[-1].size != expected:
        report.fail(
            f"ledger: {expected - heads[-1].size} leaves after the last signed head "
            f"{heads[-1].size}"
        )
    report.checked["tree_size"] = expected
    report.checked["tree_heads"] = len(heads)
    return True


def _check_head(head: ledger.TreeHead, root: bytes, public: Any, report: VerifyReport) -> None:
    if root != head.root:
        report.fail(
            f"tree head {head.size}: recomputed root {root.hex()} != signed {head.root.hex()}"
        )
    try:
        head.check_signature(public)
    except IntegrityError as exc:
        report.fail(str(exc))


@dataclass
class _RangeResult:
    count: int = 0
    shredded: int = 0  # rows of crypto-shredded conversations: leaf checked, content gone
    failures: list[str] = field(default_factory=list)
    failure_count: int = 0

    def fail(self, message: str) -> None:
        self.failure_count += 1
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(message)


def _fixed_cipher(vault: Vault, table_name: str) -> FieldCipher | None:
    purpose = {"sources": "sources", "events": "events", "audit": "audit"}.get(table_name)
    return None if purpose is None else vault.service_cipher(purpose)


def _check_range(vault: Vault, table_name: str, lo: int, hi: int) -> _RangeResult:
    """Check rows lo <= id < hi of one ledgered table against their leaves."""
    table = t.metadata.tables[table_name]
    kind = CLEAR_COLUMNS[table_name][0]
    fixed = _fixed_cipher(vault, table_name)
    out = _RangeResult()
    quote = vault.engine.dialect.identifier_preparer.quote
    mark = "?" if vault.engine.dialect.paramstyle == "qmark" else "%s"
    query = (
        f"SELECT {', '.join('r.' + quote(c.name) for c in table.columns)}, "
        "l.kind AS leaf_kind, l.ref AS leaf_ref, l.hash AS leaf_hash "
        f"FROM {quote(table_name)} r LEFT JOIN leaves l ON l.idx = r.leaf_idx "
        f"WHERE r.id >= {mark} AND r.id < {mark} ORDER BY r.id"
    )
    bad_keys: set[int] = set()
    with vault.engine.connect() as conn:
        shredded = set(  # recorded as shredded *and* its key really gone: not a hiding place
            conn.execute(
                select(t.conversations.c.id).where(
                    t.conversations.c.id.in_(select(t.shredded_conversations.c.conversation_id)),
                    func.length(t.conversations.c.dek_sealed) == 0,
                )
            ).scalars()
        )
        cursor = _stream_cursor(conn)
        cursor.execute(query, (lo, hi))
        keys = [d[0] for d in cursor.description]
        for values in _fetched(cursor):
            row = dict(zip(keys, values, strict=True))  # plain dict: cheaper lookups
            out.count += 1
            what = f"{kind} {row['id']}"
            if fixed is None and row["conversation_id"] in shredded:
                out.shredded += 1
                if row["leaf_kind"] != kind or row["leaf_ref"] != row["id"]:
                    out.fail(f"{what} (crypto-shredded): ledger leaf {row['leaf_idx']} lost it")
                continue
            if fixed is None and row["conversation_id"] in bad_keys:
                out.failure_count += 1  # reported once, with the conversation's key
                continue
            try:
                cipher = fixed or vault.conversation_cipher(conn, int(row["conversation_id"]))
            except ChatCustodyError as exc:
                bad_keys.add(row["conversation_id"])
                out.fail(f"{exc}; {what} and the rest of its conversation cannot be read")
                continue
            try:
                opened = open_row(table_name, row, cipher)
            except ChatCustodyError as exc:
                out.fail(str(exc))
                continue
            idx = row["leaf_idx"]
            if row["leaf_kind"] is None:
                out.fail(f"{what}: its ledger leaf {idx} does not exist")
            elif row["leaf_kind"] != kind or int(row["leaf_ref"]) != int(row["id"]):
                out.fail(
                    f"{what}: ledger leaf {idx} belongs to {row['leaf_kind']} {row['leaf_ref']}"
                )
            elif bytes(row["leaf_hash"]) != opened.leaf_hash:
                out.fail(f"{what}: content does not match its ledger leaf {idx}")
            if table_name == "records" and (
                opened.fields.get("timestamp_ms") != row["ts_ms"]
                or opened.fields.get("type") != row["type"]
            ):
                out.fail(f"{what}: clear time/type columns disagree with the sealed content")
    return out


def _stream_cursor(conn: Connection) -> Any:
    """Return a DBAPI cursor in ``conn``'s transaction that streams its rows.

    Driver-level rows skip SQLAlchemy's per-row processing, which cost more than the
    AES-GCM. On PostgreSQL the cursor is a server-side (named) one, so a large result is
    fetched in pieces instead of loaded whole.
    """
    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        return raw.cursor(name=f"verify_{uuid.uuid4().hex[:12]}")
    return raw.cursor()


def _fetched(cursor: Any) -> Iterator[tuple[Any, ...]]:
    """Yield a DBAPI cursor's rows, fetched a few thousand at a time, then close it."""
    try:
        while rows := cursor.fetchmany(_FETCH_ROWS):
            yield from rows
    finally:
        cursor.close()


_WORKER_VAULT: Vault | None = None


def _worker_init() -> None:
    assert _WORKER_VAULT is not None
    # Connections belong to the parent process; the child opens its own.
    _WORKER_VAULT.engine.dispose(close=False)


def _worker_range(table_name: str, lo: int, hi: int) -> _RangeResult:
    assert _WORKER_VAULT is not None
    return _check_range(_WORKER_VAULT, table_name, lo, hi)


def _ranges(conn: Connection, table: Any, parts: int) -> list[tuple[int, int]]:
    lo, hi = conn.execute(select(func.min(table.c.id), func.max(table.c.id))).one()
    if lo is None:
        return []
    step = max(1, (int(hi) - int(lo) + parts) // parts)
    return [(a, min(a + step, int(hi) + 1)) for a in range(int(lo), int(hi) + 1, step)]


def _check_rows(
    vault: Vault,
    conn: Connection,
    report: VerifyReport,
    progress: Progress | None,
    meanwhile: Callable[[], bool],
) -> bool:
    """Check every ledgered row, in parallel processes when the vault is large.

    ``meanwhile`` (the parent's own checks) runs while the worker processes check rows;
    when it returns False (the ledger has a gap) the row check is abandoned.
    """
    global _WORKER_VAULT
    totals: dict[str, int] = {}
    for table_name in CLEAR_COLUMNS:
        table = t.metadata.tables[table_name]
        totals[table_name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    grand_total = sum(totals.values())
    workers = _workers() if grand_total >= _PARALLEL_MIN_ROWS else 1
    work: list[tuple[str, int, int]] = []
    for table_name, total in totals.items():
        parts = max(1, total // _ROWS_PER_TASK, 2 * workers if total >= _PARALLEL_MIN_ROWS else 1)
        table = t.metadata.tables[table_name]
        work.extend((table_name, lo, hi) for lo, hi in _ranges(conn, table, parts))
    results: list[tuple[str, _RangeResult]] = []
    done = 0
    if workers > 1:
        _WORKER_VAULT = vault
        try:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
                futures = [(w[0], pool.submit(_worker_range, *w)) for w in work]
                if not meanwhile():
                    pool.shutdown(cancel_futures=True)
                    return False
                for name, fut in futures:
                    results.append((name, fut.result()))
                    done += results[-1][1].count
                    if progress:
                        progress("verify", done, grand_total)
        finally:
            _WORKER_VAULT = None
    else:
        if not meanwhile():
            return False
        for name, lo, hi in work:
            results.append((name, _check_range(vault, name, lo, hi)))
            done += results[-1][1].count
            if progress:
                progress("verify", done, grand_total)
    for table_name in CLEAR_COLUMNS:
        report.checked[table_name] = 0
    report.checked["shredded"] = 0
    for name, r in results:
        report.checked[name] += r.count
        report.checked["shredded"] += r.shredded
        report.failure_count += r.failure_count - len(r.failures)
        for f in r.failures:
            report.fail(f)
    _check_orphan_leaves(conn, report)
    return True


def _check_orphan_leaves(conn: Connection, report: VerifyReport) -> None:
    """Report leaves whose row is gone (a deleted record leaves its leaf behind)."""
    for table_name, (kind, _, _) in CLEAR_COLUMNS.items():
        table = t.metadata.tables[table_name]
        orphans = conn.execute(
            select(t.leaves.c.idx, t.leaves.c.ref)
            .where(t.leaves.c.kind == kind)
            .where(~exists().where(table.c.leaf_idx == t.leaves.c.idx))
            .order_by(t.leaves.c.idx)
        )
        for idx, ref in orphans:
            report.fail(f"ledger leaf {idx}: its {kind} {ref} is missing (deleted or moved)")
        unknown = conn.execute(
            select(t.leaves.c.idx, t.leaves.c.kind).where(t.leaves.c.kind.not_in(KIND_TABLE))
        )
        for idx, bad_kind in unknown:
            report.fail(f"ledger leaf {idx}: unknown kind {bad_kind!r}")


def _workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _check_blobs(conn: Connection, vault: Vault, report: VerifyReport) -> None:
    originals = {
        int(r.blob_id): (int(r.id), r.sha256, r.sm3)
        for r in conn.execute(
            select(t.sources.c.id, t.sources.c.blob_id, t.sources.c.sha256, t.sources.c.sm3)
        )
    }
    names: set[str] = set()
    count = 0
    for row in conn.execute(select(t.blobs).order_by(t.blobs.c.id)).mappings():
        count += 1
        names.add(row["name"])
        what = f"blob {row['id']} ({row['name']})"
        if not vault.blobs.exists(row["name"]):
            report.fail(f"{what}: file is missing")
            continue
        digest = DualDigest()
        try:
            key = vault.blob_key(int(row["id"]), int(row["mk_version"]), bytes(row["dek_sealed"]))
            for chunk in vault.blobs.read(key, row["name"]):
                digest.update(chunk)
        except ChatCustodyError as exc:
            report.fail(f"{what}: {exc}")
            continue
        sha, sm3 = digest.hexdigests()
        if sha != row["sha256"] or digest.size != row["size"]:
            report.fail(
                f"{what}: content re-hashes to {sha} ({digest.size} bytes), "
                f"recorded {row['sha256']}"
            )
        original = originals.get(int(row["id"]))
        if original is not None and (sha != original[1] or sm3 != original[2]):
            report.fail(
                f"source {original[0]}: original no longer matches its acquisition SHA-256/SM3"
            )
    for name in vault.blobs.names():
        if name not in names:
            report.warnings.append(f"blob file {name} has no row (left by an interrupted write)")
    report.checked["blobs"] = count
    report.checked["sources"] = len(originals)


def _check_names(conn: Connection, vault: Vault, report: VerifyReport) -> None:
    for row in conn.execute(select(t.conversations)).mappings():
        if not row["dek_sealed"]:  # crypto-shredded: its title went with its key
            continue
        try:
            cipher = vault.conversation_cipher(conn, int(row["id"]))
            cipher.open(
                bytes(row["name_enc"]), conversation_aad(row), f"conversation {row['id']} title"
            )
        except ChatCustodyError as exc:
            report.fail(str(exc))
    directory = vault.service_cipher("directory")
    for row in conn.execute(select(t.participant_names)).mappings():
        try:
            directory.open(
                bytes(row["name_enc"]), participant_name_aad(row), f"participant name {row['id']}"
            )
        except ChatCustodyError as exc:
            report.fail(str(exc))


def verify_vault(
    vault: Vault,
    progress: Progress | None = None,
    *,
    full_index: bool = False,
    index_sample: int = search.DEFAULT_SAMPLE,
    seed: int | None = None,
) -> VerifyReport:
    """Check everything the vault holds against its ledger and keys.

    The search index is checked for every record's presence and, for ``index_sample``
    random records (drawn with ``seed``, reported), re-tokenised; ``full_index`` re-tokenises
    every record instead (see ``search._check_sample``). Everything else is always full.
    """
    with quiet_gc():
        return _verify(vault, progress, full_index, index_sample, seed)


def _verify(
    vault: Vault, progress: Progress | None, full_index: bool, index_sample: int, seed: int | None
) -> VerifyReport:
    report = VerifyReport()
    later = VerifyReport()  # checks run while the row workers run, reported after them
    vault.forget_ciphers()
    with vault.engine.connect() as conn:

        def meanwhile() -> bool:
            if not _check_ledger(conn, vault, report):
                return False
            _check_blobs(conn, vault, later)
            _check_names(conn, vault, later)
            check_shreds(vault, conn, later)  # a shred counts only with the ledger's word
            sampling = search.check_index(
                vault, conn, later, None if full_index else index_sample, seed
            )
            report.index_check = {"mode": "full"} if sampling is None else sampling.to_json()
            if sampling is not None:
                report.notes.append(sampling.describe())
            return True

        if not _check_rows(vault, conn, report, progress, meanwhile):
            return report
        report.merge(later)
    vault.forget_ciphers()
    return report


__all__ = ["VerifyReport", "verify_vault"]
