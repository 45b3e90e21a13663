"""Batch writer edge cases: re-exported variants and conversations first seen via an edit."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from chatcustody.importers import SourceInput
from chatcustody.ingest import _run, import_file
from chatcustody.ingest._acquire import acquire, digest_original
from chatcustody.ingest._keys import Keyer
from chatcustody.ingest._writer import BatchWriter
from chatcustody.model import Amendment, ConversationKind, MessageType, Record
from chatcustody.rows import conversation_aad, open_row
from chatcustody.store import schema as t
from chatcustody.vault import Vault
from chatcustody.verify import verify_vault
from tests.conftest import conversation


def test_reexport_with_changed_text_keeps_both_versions(vault: Vault, jsonl: Any) -> None:
    """A later export giving a known message id new text keeps the new text as a variant."""
    import_file(vault, jsonl(conversation(5), "a.jsonl"))
    changed = conversation(5)
    changed[2]["text"] = "篡改后的内容"
    result = import_file(vault, jsonl(changed, "b.jsonl"))
    assert (result.counts.imported, result.counts.duplicates, result.counts.variants) == (0, 5, 1)
    again = import_file(vault, jsonl(changed + conversation(1, prefix="z"), "c.jsonl"))
    assert again.counts.variants == 0 and again.counts.imported == 1
    with vault.engine.connect() as conn:
        rows = conn.execute(select(t.amendments)).mappings().all()
        assert [r["action"] for r in rows] == ["variant"]
        fields = open_row(
            "amendments", rows[0], vault.conversation_cipher(conn, rows[0]["conversation_id"])
        ).fields
    assert fields["text"] == "篡改后的内容" and fields["message_id"] == "m-2"
    assert verify_vault(vault).ok


@pytest.mark.parametrize("same_batch", [False, True], ids=["two-batches", "one-batch"])
def test_conversation_first_seen_through_an_edit_gets_its_title(
    vault: Vault, tmp_path: Path, same_batch: bool
) -> None:
    """An edit that arrives before any record does not leave the conversation untitled,
    also when both are in one batch (the conversation's row is not inserted yet)."""
    path = tmp_path / "src.txt"
    path.write_text("x", "utf-8")
    source = acquire(vault, digest_original(path), "test", None)
    writer = BatchWriter(vault, source.id, SourceInput(path, ZoneInfo("UTC")))
    keyer = Keyer(vault.blinder)
    edit = Amendment("slack", "C1", "1.0", "edit", 1_700_000_000_000, 0, "U1", "new", "{}")
    record = Record(
        "slack", "C1", "值班频道", ConversationKind.CHANNEL, "1.0", "U1", "Bob",
        1_700_000_000_000, 0, MessageType.TEXT, "old", "{}",
    )  # fmt: skip
    first, second = (edit, keyer.amendment(edit)), (record, keyer.record(record))
    if same_batch:
        writer.write([first, second])
    else:
        writer.write([first])
        writer.write([second])
    with vault.engine.connect() as conn:
        row = conn.execute(select(t.conversations)).mappings().one()
        title = vault.conversation_cipher(conn, row["id"]).open(
            bytes(row["name_enc"]), conversation_aad(row), "t"
        )
    assert (title.decode(), row["kind"]) == ("值班频道", "channel")
    assert verify_vault(vault).ok


@pytest.mark.parametrize("fork", [False, True], ids=["one-process", "producer"])
def test_a_changed_copy_in_the_same_file_is_a_variant_wherever_batches_fall(
    vault: Vault, jsonl: Any, monkeypatch: pytest.MonkeyPatch, fork: bool
) -> None:
    """A message repeated later in the same file with new text is kept as a variant whether
    the two copies land in one batch or in two (batch boundaries differ between paths)."""
    monkeypatch.setattr(_run, "can_fork", lambda: fork)
    # batch_size 50: copies 0 and 20 share a batch in one process; the producer's ramped
    # batches (6, 12, 25, 50…) put them apart
    messages = conversation(120)
    messages[20] = {**messages[2], "text": "改过的第2条"}
    messages.append(dict(messages[2]))  # an identical copy: a plain duplicate
    result = import_file(vault, jsonl(messages))
    assert result.error is None
    c = result.counts
    assert (c.imported, c.duplicates, c.variants, c.amendments) == (119, 2, 1, 1)
    with vault.engine.connect() as conn:
        row = conn.execute(select(t.amendments)).mappings().one()
        fields = open_row(
            "amendments", row, vault.conversation_cipher(conn, row["conversation_id"])
        ).fields
    assert (fields["action"], fields["message_id"], fields["text"]) == (
        "variant",
        "m-2",
        "改过的第2条",
    )
    assert verify_vault(vault).ok
