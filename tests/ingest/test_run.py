"""Import of canonical JSON lines: counts, idempotence, atomic rejection of bad files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatcustody.errors import BadInputError
from chatcustody.ingest import import_file
from chatcustody.vault import Vault
from tests.conftest import conversation, import_and_verify, message, stored_counts, stored_records


def test_import_counts_and_reimport_is_noop(vault: Vault, jsonl: Any) -> None:
    """Every line becomes one record; the same file again is a no-op that says so."""
    path = jsonl(conversation(120))
    result = import_and_verify(vault, path)
    assert result.counts.imported == 120
    assert stored_counts(vault)["records"] == 120
    assert stored_counts(vault)["sources"] == 1


def test_overlapping_export_imports_only_new_messages(vault: Vault, jsonl: Any) -> None:
    """A later export that repeats earlier messages adds only the new ones."""
    import_and_verify(vault, jsonl(conversation(60), "first.jsonl"))
    result = import_and_verify(vault, jsonl(conversation(90), "second.jsonl"))
    assert (result.counts.imported, result.counts.duplicates) == (30, 60)
    assert stored_counts(vault)["records"] == 90


def test_messages_without_ids_keep_identical_repeats(vault: Vault, jsonl: Any) -> None:
    """Two identical id-less messages at the same instant stay two records, idempotently."""
    same = message(message_id=None, text="ok", timestamp="2026-03-20T08:30:00+08:00")
    path = jsonl([same, same, message(message_id=None, text="ok", timestamp=1_773_970_260_000)])
    result = import_and_verify(vault, path)
    assert result.counts.imported == 3
    again = import_file(vault, jsonl([same, same], "subset.jsonl"))
    assert (again.counts.imported, again.counts.duplicates) == (0, 2)


def test_fields_round_trip_exactly(vault: Vault, jsonl: Any) -> None:
    """Text, names, offsets and raw lines come back exactly as imported."""
    text = "繁體與简体、全角ＡＢＣ、emoji 🚓👮‍♀️ and English\nsecond line"
    path = jsonl([message(text=text, timestamp="2026-03-20T08:30:00.123+08:00")])
    import_and_verify(vault, path)
    (fields,) = stored_records(vault)
    assert fields["text"] == text
    assert fields["sender_name"] == "赵队长"
    assert fields["timestamp_ms"] == 1_773_966_600_123
    assert fields["utc_offset_min"] == 480
    assert fields["raw"] == path.read_text("utf-8").rstrip("\n")


def test_participant_name_history(vault: Vault, jsonl: Any) -> None:
    """One participant per source id; a changed display name is kept as history."""
    msgs = conversation(3)
    msgs[2]["sender_name"] = "赵队长（已调岗）"
    import_and_verify(vault, jsonl(msgs))
    counts = stored_counts(vault)
    assert counts["participants"] == 1
    from sqlalchemy import func, select

    from chatcustody.store import schema as t

    with vault.engine.connect() as conn:
        names = conn.execute(select(func.count()).select_from(t.participant_names)).scalar_one()
    assert names == 2


def _bad_files(tmp: Path) -> dict[str, tuple[bytes, int | None, str]]:
    good = (
        '{"platform":"wecom","conversation_id":"c","sender_id":"s","timestamp":1773970200000,'
        '"type":"text","message_id":"%d","text":"好"}\n'
    )
    lines = "".join(good % i for i in range(5))
    return {
        "malformed line": ((lines + "{not json\n").encode(), 6, "malformed JSON"),
        "bad timestamp": (
            (lines + (good % 9).replace("1773970200000", '"yesterday"')).encode(),
            6,
            "not ISO 8601",
        ),
        "naive timestamp": (
            (lines + (good % 9).replace("1773970200000", '"2026-03-20T08:30:00"')).encode(),
            6,
            "no UTC offset",
        ),
        "unknown type": (
            (lines + (good % 9).replace('"text","message_id"', '"hologram","message_id"')).encode(),
            6,
            "unknown type 'hologram'",
        ),
        "invalid utf-8": (lines.encode() + b'{"text":"\xff\xfe"}\n', 6, "invalid UTF-8"),
        "empty file": (b"", None, "file is empty"),
        "missing field": ((lines + '{"platform":"wecom"}\n').encode(), 6, "missing field"),
        "missing attachment": (
            (
                lines
                + (good % 9).replace(
                    '"text":"好"', '"text":"好","attachments":[{"path":"media/none.jpg"}]'
                )
            ).encode(),
            6,
            "does not exist",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "malformed line",
        "bad timestamp",
        "naive timestamp",
        "unknown type",
        "invalid utf-8",
        "empty file",
        "missing field",
        "missing attachment",
    ],
)
def test_bad_input_names_line_and_commits_nothing(vault: Vault, tmp_path: Path, case: str) -> None:
    """A bad record rejects the whole file with file, line and reason; nothing is committed."""
    data, line, reason = _bad_files(tmp_path)[case]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(data)
    result = import_file(vault, path, "chatcustody-jsonl")
    assert isinstance(result.error, BadInputError)
    problem = result.error.problems[0]
    assert problem.path == str(path)
    assert problem.line == line
    assert reason in problem.reason
    counts = stored_counts(vault)
    assert counts["records"] == 0 and counts["sources"] == 0 and counts["blobs"] == 0


def test_attachments_are_acquired(vault: Vault, tmp_path: Path, jsonl: Any) -> None:
    """An attachment present in the export is stored with its hash; a named one is marked."""
    media = tmp_path / "exports" / "media"
    media.mkdir(parents=True)
    (media / "photo.jpg").write_bytes(b"\xff\xd8\xff fake jpeg" * 100)
    path = jsonl(
        [
            message(type="image", attachments=[{"path": "media/photo.jpg", "mime": "image/jpeg"}]),
            message(
                message_id="m-2", type="file", attachments=[{"name": "合同.pdf", "included": False}]
            ),
        ]
    )
    result = import_and_verify(vault, path)
    assert result.counts.attachments == 1
    first, second = stored_records(vault)
    assert first["attachments"][0]["sha256"] is not None
    assert first["attachments"][0]["size"] == 1300
    assert second["attachments"][0]["included"] is False
    assert stored_counts(vault)["blobs"] == 2  # the original and the photo


def test_skip_bad_quarantines_with_reasons(vault: Vault, tmp_path: Path) -> None:
    """--skip-bad imports the good records and quarantines each bad one with line and reason."""
    from chatcustody.ingest import list_quarantine

    data, _, _ = _bad_files(tmp_path)["unknown type"]
    extra = b'{"platform":"wecom","conversation_id":"c","sender_id":"s","timestamp":1}\n'
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(data + extra)
    result = import_file(vault, path, skip_bad=True)
    assert result.error is None
    assert (result.counts.imported, result.counts.quarantined) == (5, 2)
    entries = list(list_quarantine(vault))
    assert [(e.line, e.record) for e in entries] == [(6, "9"), (7, None)]
    assert "unknown type 'hologram'" in entries[0].reason
    assert "missing field(s): type" in entries[1].reason
    assert '"hologram"' in entries[0].raw
    from chatcustody.verify import verify_vault

    assert verify_vault(vault).ok
    again = import_file(vault, path, skip_bad=True)
    assert again.already_imported
    assert len(list(list_quarantine(vault))) == 2
