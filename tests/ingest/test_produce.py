"""The producer process: same vault content as a single-process import, and it stops cleanly."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatcustody import search
from chatcustody.ingest import _produce, _run, import_file
from chatcustody.ingest._produce import Keyed, prepare, produce, record_fields
from chatcustody.ledger import commitments, leaf_data, leaf_from_inner
from chatcustody.model import Attachment, ConversationKind, MessageType, Record
from chatcustody.vault import Vault
from chatcustody.verify import verify_vault
from tests.conftest import conversation, stored_records


def _record(**overrides: Any) -> Record:
    base: dict[str, Any] = {
        "platform": "wecom",
        "conversation_id": "c1",
        "conversation_name": "护卫队值班群",
        "conversation_kind": ConversationKind.GROUP,
        "message_id": "m1",
        "sender_id": "u1",
        "sender_name": "赵队长",
        "timestamp_ms": 1_773_970_200_000,
        "utc_offset_min": 480,
        "type": MessageType.TEXT,
        "text": "早班交接：B区监控正常 ✅",
        "raw": "{}",
    }
    base.update(overrides)
    return Record(**base)


def test_multi_batch_import_uses_the_producer_and_matches_the_messages(
    vault: Vault, jsonl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A multi-batch import goes through the producer and stores exactly the messages."""
    calls: list[int] = []
    real = _run.produce

    def counting(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(_run, "produce", counting)
    messages = conversation(180)  # batch_size is 50 in tests: four batches
    messages[7]["attachments"] = [{"name": "现场照片.jpg", "mime": "image/jpeg", "included": False}]
    result = import_file(vault, jsonl(messages))
    assert result.error is None and result.counts.imported == 180 and calls == [1]
    stored = stored_records(vault)
    assert [r["text"] for r in stored] == [m["text"] for m in messages]
    report = verify_vault(vault, full_index=True)
    assert report.ok, report.failures
    hits = search.search(vault, "第7条消息", limit=5, audit=False).hits
    assert [h.id for h in hits] == [8]
    assert search.search(vault, "现场照片", limit=5, audit=False).hits[0].id == 8
    again = import_file(vault, jsonl(messages))
    assert again.already_imported


def test_producer_and_single_process_store_the_same_fields(
    make_vault: Any, jsonl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With and without the producer, a re-import of the same messages is all duplicates."""
    vault = make_vault()
    path = jsonl(conversation(120))
    monkeypatch.setattr(_run, "can_fork", lambda: False)
    first = import_file(vault, path)
    assert first.counts.imported == 120
    monkeypatch.undo()
    copy = jsonl(conversation(120), "copy.jsonl")
    with copy.open("a", encoding="utf-8") as f:
        f.write("\n")  # different bytes, same messages: a new source, every record a duplicate
    second = import_file(vault, copy)
    assert (second.counts.imported, second.counts.duplicates, second.counts.variants) == (0, 120, 0)


def test_prepared_parts_are_what_the_writer_would_compute() -> None:
    """prepare() gives the same leaf commitments as the fields the writer builds."""
    r = _record(attachments=(Attachment("a.jpg", "image/jpeg", "media/a.jpg", included=False),))
    hasher = search.TokenHasher(b"k" * 32)
    prep = prepare(r, hasher)
    assert prep is not None
    (seed, inner, payload), toks = prep
    fields = record_fields(r, [Attachment("a.jpg", "image/jpeg", "media/a.jpg", included=False)])
    assert leaf_from_inner("record", 9, inner) == leaf_data("record", 9, commitments(seed, fields))
    assert json.loads(payload) == {"fields": fields, "seed": seed.hex()}
    assert toks.positional == search.part_tokens(hasher, (r.text, "a.jpg")).positional


def test_records_with_included_attachments_are_left_to_the_writer() -> None:
    """A record whose attachment bytes must be acquired first is not prepared ahead."""
    r = _record(attachments=(Attachment("a.jpg", "image/jpeg", "media/a.jpg"),))
    assert prepare(r, search.TokenHasher(b"k" * 32)) is None


def test_closing_the_consumer_stops_the_producer(tmp_path: Path) -> None:
    """When the writer stops early (an error), the child process is killed, not left behind."""
    pid_file = tmp_path / "pid"

    def endless() -> Iterator[list[Keyed]]:
        pid_file.write_text(str(os.getpid()))
        while True:
            yield [(_record(), b"k" * 16)]

    batches = produce(endless, search.TokenHasher(b"k" * 32))
    batch, preps = next(batches)
    assert len(batch) == 1 and len(preps) == 1
    batches.close()
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("producer process still running")


def test_an_error_in_the_producer_reaches_the_importer() -> None:
    """An exception while parsing in the child is raised in the parent, not swallowed."""

    def failing() -> Iterator[list[Keyed]]:
        yield [(_record(), b"k" * 16)]
        raise ValueError("parser broke on line 2")

    batches = produce(failing, search.TokenHasher(b"k" * 32))
    next(batches)
    with pytest.raises(ValueError, match="line 2"):
        next(batches)
    assert _produce.can_fork()


_ORPHAN_SCRIPT = """
import os, sys, time
from chatcustody import search
from chatcustody.ingest._produce import produce
from tests.ingest.test_produce import _record

def endless():
    while True:
        yield [(_record(text="x" * 2000), os.urandom(16)) for _ in range(500)]

batches = produce(endless, search.TokenHasher(b"k" * 32))
next(batches)
import multiprocessing
print(multiprocessing.active_children()[0].pid, flush=True)
time.sleep(60)
"""


def _wait_until_blocked_on_pipe(pid: int) -> None:
    """Poll the kernel until a thread of ``pid`` sleeps writing to a full pipe (the case
    under test: the child's sender thread, with its queue of batches ahead full)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any("pipe" in w.read_text() for w in Path(f"/proc/{pid}/task").glob("*/wchan")):
            return
        time.sleep(0.02)
    pytest.fail(f"producer {pid} never blocked on its full pipe")


def test_a_killed_importer_leaves_no_producer_behind(tmp_path: Path) -> None:
    """kill -9 of the importing process ends its producer too, and releases its stdout."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    _wait_until_blocked_on_pipe(child)  # the child fills the pipe and blocks writing
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)  # hangs if the child kept the inherited stdout open
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail("producer process outlived the killed importer")


def _producer_alive_at_validation(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, at each validation, whether a producer child was already running."""
    seen: list[bool] = []
    real = _run._validate

    def spying(*args: Any) -> Any:
        seen.append(bool(multiprocessing.active_children()))
        return real(*args)

    monkeypatch.setattr(_run, "_validate", spying)
    monkeypatch.setattr(_run, "_EARLY_PRODUCER_BYTES", 1000)
    return seen


def test_a_big_file_is_prepared_while_it_is_validated(
    vault: Vault, jsonl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the size threshold on, the producer runs during validation; the vault ends the
    same: every message once, and it verifies."""
    seen = _producer_alive_at_validation(monkeypatch)
    messages = conversation(230)
    result = import_file(vault, jsonl(messages))
    assert result.error is None and result.counts.imported == 230
    assert seen == [True]
    assert [r["text"] for r in stored_records(vault)] == [m["text"] for m in messages]
    assert verify_vault(vault, full_index=True).ok
    assert not multiprocessing.active_children()


def test_a_bad_record_found_by_validation_stops_the_early_producer(
    vault: Vault, jsonl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad last line rejects the big file: nothing committed, the producer killed."""
    seen = _producer_alive_at_validation(monkeypatch)
    messages = conversation(230)
    messages[-1]["type"] = "hologram"
    result = import_file(vault, jsonl(messages))
    assert result.error is not None and "hologram" in str(result.error)
    assert seen == [True]
    assert stored_records(vault) == []
    assert not multiprocessing.active_children()
    with vault.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sources").scalar_one() == 0


def test_batches_sent_without_tokens_are_tokenised_by_the_writer(
    vault: Vault, jsonl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the producer leaves tokenising to the writer (it is the slower one), the index
    holds exactly what it would have: every search and the full index check agree."""
    real = _produce._pack
    monkeypatch.setattr(
        _produce, "_pack", lambda item, key, hasher, tokens=True: real(item, key, hasher, False)
    )
    messages = conversation(180)
    result = import_file(vault, jsonl(messages))
    assert result.error is None and result.counts.imported == 180
    assert [h.id for h in search.search(vault, "第7条消息", limit=5, audit=False).hits] == [8]
    assert len(search.search(vault, "巡逻正常", limit=500, audit=False).hits) == 180
    report = verify_vault(vault, full_index=True)
    assert report.ok, report.failures
