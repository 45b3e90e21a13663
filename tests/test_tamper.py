"""Tamper evidence: any change to any stored byte is reported by verify, naming the item."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from chatcustody.store import schema as t
from chatcustody.vault import Vault
from chatcustody.verify import verify_vault
from tests.conftest import conversation, import_and_verify

ROUNDS = 12  # random positions per kind of tampering, per backend


@pytest.fixture
def filled(vault: Vault, jsonl: Any, tmp_path: Path) -> Vault:
    """A vault holding 60 records, an attachment, a source and audit events."""
    media = tmp_path / "exports" / "media"
    media.mkdir(parents=True)
    (media / "cctv.jpg").write_bytes(bytes(range(256)) * 40)
    msgs = conversation(60)
    msgs[3]["type"] = "image"
    msgs[3]["attachments"] = [{"path": "media/cctv.jpg", "mime": "image/jpeg"}]
    import_and_verify(vault, jsonl(msgs))
    return vault


def _flip(data: bytes, rng: random.Random) -> bytes:
    pos = rng.randrange(len(data))
    return data[:pos] + bytes([data[pos] ^ (1 << rng.randrange(8))]) + data[pos + 1 :]


@contextmanager
def _column_flipped(vault: Vault, table: Any, column: str, rng: random.Random) -> Iterator[int]:
    """Flip one random bit of one random row's column; restore it afterwards."""
    key = list(table.primary_key.columns)[0]
    with vault.engine.connect() as conn:
        rows = conn.execute(select(key, table.c[column])).all()
    ident, value = rows[rng.randrange(len(rows))]
    with vault.begin() as conn:
        conn.execute(update(table).where(key == ident).values({column: _flip(bytes(value), rng)}))
    try:
        yield int(ident) if isinstance(ident, int) else 0
    finally:
        with vault.begin() as conn:
            conn.execute(update(table).where(key == ident).values({column: value}))


def _failures(vault: Vault) -> list[str]:
    report = verify_vault(vault)
    assert not report.ok
    return report.failures


@pytest.mark.parametrize(
    ("table", "column", "named"),
    [
        (t.records, "payload", "record {id}"),
        (t.sources, "meta_enc", "source {id}"),
        (t.audit, "payload", "audit {id}"),
        (t.conversations, "name_enc", "conversation {id}"),
        (t.participant_names, "name_enc", "participant name {id}"),
        (t.leaves, "hash", "leaf {id}"),
        (t.tree_heads, "signature", "tree head {id}"),
        (t.tree_heads, "root", "tree head {id}"),
        (t.conversations, "dek_sealed", "conversation {id}"),
        (t.blobs, "dek_sealed", "blob {id}"),
    ],
)
def test_flipped_bit_in_any_row_is_named(
    filled: Vault, table: Any, column: str, named: str
) -> None:
    """A flipped bit anywhere in a ciphertext, key, leaf or head is reported by item."""
    rng = random.Random(f"{table.name}.{column}")
    for _ in range(ROUNDS):
        with _column_flipped(filled, table, column, rng) as ident:
            failures = _failures(filled)
            assert any(named.format(id=ident) in f for f in failures), failures
    assert verify_vault(filled).ok


def test_changed_clear_column_is_detected(filled: Vault) -> None:
    """Editing a record's clear time or type breaks authentication of that record."""
    with filled.engine.connect() as conn:
        rid, ts = conn.execute(select(t.records.c.id, t.records.c.ts_ms).limit(1)).one()
    for values in ({"ts_ms": ts + 1}, {"type": "image"}):
        with filled.begin() as conn:
            conn.execute(update(t.records).where(t.records.c.id == rid).values(values))
        assert any(f"record {rid}" in f for f in _failures(filled))
        with filled.begin() as conn:
            conn.execute(
                update(t.records).where(t.records.c.id == rid).values(ts_ms=ts, type="text")
            )
    assert verify_vault(filled).ok


def test_deleted_record_is_named(filled: Vault) -> None:
    """Deleting a record leaves its ledger leaf without a row: verify names it."""
    with filled.begin() as conn:
        conn.execute(delete(t.records).where(t.records.c.id == 17))
    assert any("record 17 is missing" in f for f in _failures(filled))


def test_swapped_records_are_named(filled: Vault) -> None:
    """Swapping two records' ciphertexts (reordering) is reported for both."""
    with filled.engine.connect() as conn:
        a, b = conn.execute(
            select(t.records.c.payload).where(t.records.c.id.in_([5, 9])).order_by(t.records.c.id)
        ).scalars()
    with filled.begin() as conn:
        conn.execute(update(t.records).where(t.records.c.id == 5).values(payload=b))
        conn.execute(update(t.records).where(t.records.c.id == 9).values(payload=a))
    failures = _failures(filled)
    assert any("record 5" in f for f in failures) and any("record 9" in f for f in failures)


def test_truncated_ledger_is_detected(filled: Vault) -> None:
    """Removing the newest leaves (without their heads) is reported as truncation."""
    with filled.engine.connect() as conn:
        size = conn.execute(select(t.ledger_state.c.size)).scalar_one()
    with filled.begin() as conn:
        conn.execute(delete(t.leaves).where(t.leaves.c.idx >= size - 2))
    failures = _failures(filled)
    assert any("truncated" in f or "missing" in f for f in failures), failures


def _blob_files(vault: Vault) -> list[Path]:
    return sorted(p for p in (vault.path / "blobs").rglob("*") if p.is_file())


def test_flipped_bit_in_any_blob_is_named(filled: Vault) -> None:
    """A flipped bit anywhere in an encrypted original or attachment is reported."""
    rng = random.Random(7)
    files = _blob_files(filled)
    assert len(files) == 2
    for _ in range(ROUNDS):
        path = files[rng.randrange(len(files))]
        original = path.read_bytes()
        path.write_bytes(_flip(original, rng))
        try:
            failures = _failures(filled)
            assert any(path.name in f for f in failures), failures
        finally:
            path.write_bytes(original)
    assert verify_vault(filled).ok


@pytest.mark.parametrize("change", ["truncate", "extend", "delete"])
def test_blob_file_damage_is_named(filled: Vault, change: str) -> None:
    """A truncated, extended or missing blob file is reported with its name."""
    path = _blob_files(filled)[0]
    data = path.read_bytes()
    actions: dict[str, Callable[[], None]] = {
        "truncate": lambda: path.write_bytes(data[:-20]),
        "extend": lambda: path.write_bytes(data + b"\0" * 16),
        "delete": path.unlink,
    }
    actions[change]()
    assert any(path.name in f for f in _failures(filled))
