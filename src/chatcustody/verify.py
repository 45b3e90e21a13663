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
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, exists, func, select

from chatcustody import ledger, search
from chatcustody.crypto import DualDigest, FieldCipher
from chatcustody.errors import ChatCustodyError, IntegrityError
from chatcustody.rows import (
    CLEAR_COLUMNS,
    KIND_TABLE,
    conversation_aad,
    open_row,
    participant_name_aad,
)
from chatcustody.store import schema as t
from chatcustody.vault import Vault

_FETCH_ROWS: Final[int] = 5000
MAX_FAILURES: Final[int] = 1000
_ROWS_PER_TASK: Final[int] = 25_000
_PARALLEL_MIN_ROWS: Final[int] = 50_000  # below this, forking costs more than it saves

Progress = Callable[[str, int, int | None], None]


@dataclass
class VerifyReport:
    """The outcome of ``verify``: counts of what was checked, and every failure."""

    checked: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failure_count: int = 0

    @property
    def ok(self) -> bool:
        """Return True when nothing failed."""
        return self.failure_count == 0

    def fail(self, message: str) -> None:
        """Record a failure (the first MAX_FAILURES are kept verbatim)."""
        self.failure_count += 1
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(message)

    def to_json(self) -> dict[str, Any]:
        """Return the ``verify --json`` contract."""
        return {
            "ok": self.ok,
            "checked": self.checked,
            "failures": self.failures,
            "failure_count": self.failure_count,
            "warnings": self.warnings,
        }


def _check_ledger(conn: Connection, vault: Vault, report: VerifyReport) -> bool:
    """Recompute roots at every signed head; return False when the leaves have a gap."""
    heads = ledger.load_heads(conn, vault.vault_id)
    public = vault.public_key
    frontier = ledger.Frontier()
    head_iter = iter(heads)
    head = next(head_iter, None)
    expected = 0
    result = conn.execution_options(yield_per=_FETCH_ROWS).execute(
        select(t.leaves.c.idx, t.leaves.c.hash).order_by(t.leaves.c.idx)
    )
    for idx, h in result:
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
    query = (
        select(
            table,
            t.leaves.c.kind.label("leaf_kind"),
            t.leaves.c.ref.label("leaf_ref"),
            t.leaves.c.hash.label("leaf_hash"),
        )
        .select_from(table.outerjoin(t.leaves, t.leaves.c.idx == table.c.leaf_idx))
        .where(table.c.id >= lo, table.c.id < hi)
        .order_by(table.c.id)
    )
    bad_keys: set[int] = set()
    with vault.engine.connect() as conn:
        rows = conn.execution_options(yield_per=_FETCH_ROWS).execute(query)
        for row in rows.mappings():
            out.count += 1
            what = f"{kind} {row['id']}"
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
    vault: Vault, conn: Connection, report: VerifyReport, progress: Progress | None
) -> None:
    """Check every ledgered row, in parallel processes when the vault is large."""
    global _WORKER_VAULT
    work: list[tuple[str, int, int]] = []
    totals: dict[str, int] = {}
    for table_name in CLEAR_COLUMNS:
        table = t.metadata.tables[table_name]
        totals[table_name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        parts = max(1, totals[table_name] // _ROWS_PER_TASK)
        work.extend((table_name, lo, hi) for lo, hi in _ranges(conn, table, parts))
    grand_total = sum(totals.values())
    results: list[tuple[str, _RangeResult]] = []
    workers = min(_workers(), len(work))
    done = 0
    if workers > 1 and grand_total >= _PARALLEL_MIN_ROWS:
        _WORKER_VAULT = vault
        try:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
                futures = [(w[0], pool.submit(_worker_range, *w)) for w in work]
                for name, fut in futures:
                    results.append((name, fut.result()))
                    done += results[-1][1].count
                    if progress:
                        progress("verify", done, grand_total)
        finally:
            _WORKER_VAULT = None
    else:
        for name, lo, hi in work:
            results.append((name, _check_range(vault, name, lo, hi)))
            done += results[-1][1].count
            if progress:
                progress("verify", done, grand_total)
    for table_name in CLEAR_COLUMNS:
        report.checked[table_name] = 0
    for name, r in results:
        report.checked[name] += r.count
        report.failure_count += r.failure_count - len(r.failures)
        for f in r.failures:
            report.fail(f)
    _check_orphan_leaves(conn, report)


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


def verify_vault(vault: Vault, progress: Progress | None = None) -> VerifyReport:
    """Check everything the vault holds against its ledger and keys."""
    report = VerifyReport()
    vault.forget_ciphers()
    with vault.engine.connect() as conn:
        if not _check_ledger(conn, vault, report):
            return report
        _check_rows(vault, conn, report, progress)
        _check_blobs(conn, vault, report)
        _check_names(conn, vault, report)
        search.check_index(vault, conn, report)
    vault.forget_ciphers()
    return report


__all__ = ["VerifyReport", "verify_vault"]
