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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, func, select

from chatcustody import ledger
from chatcustody.crypto import DualDigest, FieldCipher
from chatcustody.errors import ChatCustodyError, IntegrityError
from chatcustody.rows import (
    CLEAR_COLUMNS,
    conversation_aad,
    open_row,
    participant_name_aad,
)
from chatcustody.store import schema as t
from chatcustody.vault import Vault

_FETCH_ROWS: Final[int] = 5000
MAX_FAILURES: Final[int] = 1000

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


def _check_ledger(
    conn: Connection, vault: Vault, report: VerifyReport
) -> dict[int, tuple[str, int, bytes]] | None:
    heads = ledger.load_heads(conn, vault.vault_id)
    public = vault.public_key
    frontier = ledger.Frontier()
    head_iter = iter(heads)
    head = next(head_iter, None)
    leaves_by_idx: dict[int, tuple[str, int, bytes]] = {}
    expected = 0
    result = conn.execution_options(yield_per=_FETCH_ROWS).execute(
        select(t.leaves.c.idx, t.leaves.c.kind, t.leaves.c.ref, t.leaves.c.hash).order_by(
            t.leaves.c.idx
        )
    )
    for idx, kind, ref, h in result:
        if idx != expected:
            report.fail(f"ledger: leaf {expected} is missing (next stored leaf is {idx})")
            return None
        h = bytes(h)
        leaves_by_idx[idx] = (kind, int(ref), h)
        frontier.append(h)
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
    return leaves_by_idx


def _check_head(head: ledger.TreeHead, root: bytes, public: Any, report: VerifyReport) -> None:
    if root != head.root:
        report.fail(
            f"tree head {head.size}: recomputed root {root.hex()} != signed {head.root.hex()}"
        )
    try:
        head.check_signature(public)
    except IntegrityError as exc:
        report.fail(str(exc))


def _check_rows(
    conn: Connection,
    vault: Vault,
    table_name: str,
    leaves: dict[int, tuple[str, int, bytes]],
    claimed: set[int],
    report: VerifyReport,
    progress: Progress | None,
) -> int:
    table = t.metadata.tables[table_name]
    kind = CLEAR_COLUMNS[table_name][0]
    fixed: FieldCipher | None = {
        "sources": vault.service_cipher("sources"),
        "events": vault.service_cipher("events"),
        "audit": vault.service_cipher("audit"),
    }.get(table_name)
    total = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    count = 0
    rows = conn.execution_options(yield_per=_FETCH_ROWS).execute(select(table).order_by(table.c.id))
    for row in rows.mappings():
        count += 1
        what = f"{kind} {row['id']}"
        try:
            cipher = fixed or vault.conversation_cipher(conn, int(row["conversation_id"]))
            opened = open_row(table_name, row, cipher)
        except ChatCustodyError as exc:
            report.fail(str(exc))
            continue
        idx = int(row["leaf_idx"])
        leaf = leaves.get(idx)
        if leaf is None:
            report.fail(f"{what}: its ledger leaf {idx} does not exist")
        elif leaf[0] != kind or leaf[1] != int(row["id"]):
            report.fail(f"{what}: ledger leaf {idx} belongs to {leaf[0]} {leaf[1]}")
        elif leaf[2] != opened.leaf_hash:
            report.fail(f"{what}: content does not match its ledger leaf {idx}")
        else:
            claimed.add(idx)
        if table_name == "records" and (
            opened.fields.get("timestamp_ms") != row["ts_ms"]
            or opened.fields.get("type") != row["type"]
        ):
            report.fail(f"{what}: clear time/type columns disagree with the sealed content")
        if progress and count % _FETCH_ROWS == 0:
            progress(f"verify {table_name}", count, total)
    return count


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
        leaves = _check_ledger(conn, vault, report)
        if leaves is None:
            return report
        claimed: set[int] = set()
        for table_name in CLEAR_COLUMNS:
            count = _check_rows(conn, vault, table_name, leaves, claimed, report, progress)
            report.checked["records" if table_name == "records" else table_name] = count
        for idx, (kind, ref, _) in leaves.items():
            if idx not in claimed:
                report.fail(f"ledger leaf {idx}: its {kind} {ref} is missing or does not match")
        _check_blobs(conn, vault, report)
        _check_names(conn, vault, report)
    vault.forget_ciphers()
    return report


__all__ = ["VerifyReport", "verify_vault"]
