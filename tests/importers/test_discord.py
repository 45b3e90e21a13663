"""DiscordChatExporter JSON: streaming, counts, fields, media, edits, rejections, fuzz."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import hypothesis
import pytest
from hypothesis import strategies as st

from chatcustody.errors import BadInputError
from chatcustody.importers import Rejected, SourceInput, _json
from chatcustody.importers._export import iso_time
from chatcustody.importers.discord import IMPORTER
from chatcustody.ingest import import_file
from chatcustody.model import Amendment, Event, Record, to_epoch_ms
from chatcustody.vault import Vault
from tests.conftest import (
    conversation,
    import_and_verify,
    stored_counts,
    stored_records,
    write_jsonl,
)
from tests.importers._fuzz import mutate

FIXTURES = Path(__file__).parent / "fixtures" / "discord"
GUILD_DIR = FIXTURES / "guild"
GUILD = next(GUILD_DIR.glob("*.json"))
MEDIA = GUILD.name + "_Files"
DM = FIXTURES / "dm.json"
TZ = ZoneInfo("Asia/Shanghai")


def parse(path: Path) -> list[Any]:
    return list(IMPORTER.parse(SourceInput(path, TZ)))


def by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["message_id"]: r for r in records}


def mid(i: int) -> str:
    return f"11600000000000000{i:02d}"


def test_guild_channel_export(vault: Vault) -> None:
    """Every message is one record; media present are acquired, the rest marked; edits kept."""
    result = import_and_verify(vault, GUILD)
    assert result.counts.imported == 15
    assert result.counts.amendments == 1
    assert result.counts.attachments == 2  # the photo and the voice note in the media folder
    counts = stored_counts(vault)
    assert counts["records"] == 15
    assert counts["conversations"] == 1
    assert counts["participants"] == 4
    assert counts["amendments"] == 1
    assert counts["blobs"] == 3  # the export itself, the photo, the voice note
    records = by_id(stored_records(vault))
    first = records[mid(1)]
    assert first["text"] == "早班交接：B区监控正常。"
    assert first["sender_id"] == "4001000000000000001"
    assert first["sender_name"] == "赵队长"
    assert first["timestamp_ms"] == 1_773_966_600_123  # 2026-03-20T08:30:00.123+08:00
    assert first["utc_offset_min"] == 480
    assert first["conversation_kind"] == "channel"
    assert first["conversation_name"] == "Guard Ops 护卫行动 / 值班 Duty / 调度 dispatch"
    assert json.loads(first["raw"])["reactions"][0]["emoji"]["name"] == "👍"
    assert records[mid(3)]["reply_to"] == mid(1)
    photo = records[mid(4)]
    assert photo["type"] == "image"
    assert photo["text"] == "巡逻照片 Patrol photo, gate 3"
    assert photo["attachments"][0]["path"] == f"{MEDIA}/patrol-5E2A1.jpg"
    assert photo["attachments"][0]["size"] == 720
    voice = records[mid(5)]
    assert (voice["type"], voice["attachments"][0]["included"]) == ("voice", True)
    for i, name in ((6, "incident_report.pdf"), (7, "screenshot.png")):  # CDN URL, file missing
        (attachment,) = records[mid(i)]["attachments"]
        assert (attachment["name"], attachment["included"], attachment["path"]) == (
            name,
            False,
            None,
        )
    types = {i: records[mid(i)]["type"] for i in (2, 9, 10, 11, 12, 13, 14)}
    assert types == {
        2: "system",
        9: "system",
        10: "sticker",
        11: "card",
        12: "text",
        13: "call",
        14: "system",
    }
    assert records[mid(9)]["reply_to"] == mid(1)  # the pin notice points at the pinned message
    assert records[mid(14)]["reply_to"] is None  # a thread in another channel
    assert records[mid(10)]["text"] == "OK 好的"


def test_direct_messages_keep_each_offset(vault: Vault) -> None:
    """A DM export across a DST change keeps each message's own offset; a BOM is accepted."""
    result = import_and_verify(vault, DM)
    assert (result.counts.imported, result.counts.amendments) == (3, 0)
    assert stored_counts(vault)["participants"] == 2
    first, second, third = stored_records(vault)
    assert first["conversation_kind"] == "direct"
    assert (first["timestamp_ms"], first["utc_offset_min"]) == (1_774_732_200_000, 60)
    assert (second["timestamp_ms"], second["utc_offset_min"]) == (1_774_767_600_000, 120)
    assert second["text"] == "可以，I'll be there at 22:00."
    assert third["reply_to"] == first["message_id"]


def test_folder_export_resolves_media_from_the_root(vault: Vault, tmp_path: Path) -> None:
    """A folder of DCE files imports every file, media paths relative to the folder root."""
    export = tmp_path / "export"
    shutil.copytree(GUILD_DIR, export / "guard")
    shutil.copy(DM, export / "dm.json")
    result = import_and_verify(vault, export)
    assert (result.counts.imported, result.counts.attachments) == (18, 2)
    assert stored_counts(vault)["conversations"] == 2
    photo = by_id(stored_records(vault))[mid(4)]
    assert photo["attachments"][0]["path"] == f"guard/{MEDIA}/patrol-5E2A1.jpg"


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def _variant(change: Any) -> str:
    """Return the guild export with ``change(doc)`` applied, formatted as DCE writes it."""
    doc = json.loads(GUILD.read_text("utf-8"))
    change(doc)
    return json.dumps(doc, ensure_ascii=False, indent=2)


def _set(i: int, key: str, value: Any) -> Any:
    def change(doc: dict[str, Any]) -> None:
        doc["messages"][i - 1][key] = value

    return change


def _bad_cases() -> dict[str, tuple[bytes, int | None, str]]:
    good = GUILD.read_text("utf-8")
    msg6 = _line_of(good, f'"id": "{mid(6)}"') - 1  # the line of the message's opening brace
    nine = f'"id": "{mid(9)}"'

    def count(doc: dict[str, Any]) -> None:
        doc["messageCount"] = 16

    return {
        "truncated": (good[: good.index(nine)].encode(), _line_of(good, nine), "truncated"),
        "no offset": (
            _variant(_set(6, "timestamp", "2026-03-20T08:45:00")).encode(),
            msg6,
            "has no UTC offset",
        ),
        "bad time": (
            _variant(_set(6, "timestamp", "yesterday")).encode(),
            msg6,
            "not an ISO 8601 time",
        ),
        "no author": (_variant(_set(6, "author", None)).encode(), msg6, "no author.id"),
        "count mismatch": (_variant(count).encode(), None, "messageCount says 16"),
        "invalid utf-8": (
            good.replace("巡逻照片", "\udcff", 1).encode("utf-8", "surrogateescape"),
            _line_of(good, "巡逻照片"),
            "invalid UTF-8",
        ),
        "empty": (b"", None, "file is empty"),
        "not an export": (b"[1, 2]", 1, "not a DiscordChatExporter export"),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_bad_export_is_refused_whole(vault: Vault, tmp_path: Path, case: str) -> None:
    """A defect names file, line and reason, and nothing of the file is committed."""
    data, line, reason = _bad_cases()[case]
    path = tmp_path / "export.json"
    path.write_bytes(data)
    result = import_file(vault, path, "discord")
    assert isinstance(result.error, BadInputError), result.error
    problem = result.error.problems[0]
    assert problem.path == str(path)
    assert problem.line == line
    assert reason in problem.reason
    counts = stored_counts(vault)
    assert counts["records"] == counts["sources"] == counts["blobs"] == counts["amendments"] == 0


def test_detect_claims_only_discord_exports(tmp_path: Path) -> None:
    """detect() accepts DCE files and folders, and refuses other JSON and canonical jsonl."""
    assert IMPORTER.detect(GUILD) and IMPORTER.detect(DM) and IMPORTER.detect(GUILD_DIR)
    canonical = write_jsonl(tmp_path / "c.jsonl", conversation(3))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"channel": {"id": 1}, "messages": []}), "utf-8")
    telegram_like = tmp_path / "result.json"
    telegram_like.write_text('{"name": "护卫队", "type": "private_group", "messages": []}', "utf-8")
    text = tmp_path / "notes.txt"
    text.write_text("guild channel messages 护卫", "utf-8")
    siblings = Path(__file__).parent / "fixtures"
    others = [canonical, other, telegram_like, text, tmp_path / "missing.json"]
    others += sorted((siblings / "feishu").glob("*")) + sorted((siblings / "teams").glob("*"))
    assert not any(IMPORTER.detect(p) for p in others)


def test_chunk_boundaries_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading in 5-byte pieces yields exactly what a whole read yields (lines and raw too)."""
    whole = parse(GUILD)
    monkeypatch.setattr(_json, "READ_BYTES", 5)
    assert parse(GUILD) == whole
    assert sum(isinstance(i, Record) for i in whole) == 15


def test_header_after_messages_is_read_first(tmp_path: Path) -> None:
    """An export whose guild/channel follow the messages still maps every message."""
    doc = json.loads(DM.read_text("utf-8-sig"))
    reordered = {"messages": doc.pop("messages"), **doc}
    path = tmp_path / "reordered.json"
    path.write_text(json.dumps(reordered, ensure_ascii=False, indent=2), "utf-8")
    records = [i for i in parse(path) if isinstance(i, Record)]
    assert [r.conversation_id for r in records] == ["1140000000000000009"] * 3
    assert not [i for i in parse(path) if not isinstance(i, Record)]


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(data=st.data())
def test_fuzzed_exports_yield_items_or_rejections(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Mutated input never raises: parse yields only items and Rejected."""
    base = data.draw(st.sampled_from([DM, GUILD]))
    path = tmp_path_factory.mktemp("fuzz") / "export.json"
    path.write_bytes(data.draw(mutate(base.read_bytes())))
    for item in parse(path):
        assert isinstance(item, Record | Amendment | Event | Rejected)


@pytest.mark.parametrize("cut", [0.5, 0.93])
def test_mutated_export_commits_all_or_nothing(vault: Vault, tmp_path: Path, cut: float) -> None:
    """A damaged export either imports whole or fails with nothing committed."""
    data = GUILD.read_bytes()
    path = tmp_path / "damaged.json"
    path.write_bytes(data[: int(len(data) * cut)] + b"\x00garbage}")
    result = import_file(vault, path, "discord")
    if result.error is None:
        assert stored_counts(vault)["records"] == result.counts.imported
    else:
        assert isinstance(result.error, BadInputError)
        assert stored_counts(vault)["records"] == stored_counts(vault)["sources"] == 0


def test_zipped_export_reads_media_inside_the_zip(tmp_path: Path) -> None:
    """A zip of the export folder maps the same messages, its media resolved inside the zip."""
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as z:
        for p in sorted(GUILD_DIR.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(GUILD_DIR).as_posix())
    assert IMPORTER.detect(path)
    items = parse(path)
    assert not [i for i in items if isinstance(i, Rejected)]
    records = [i for i in items if isinstance(i, Record)]
    assert len(records) == 15
    included = [a.path for r in records for a in r.attachments if a.included]
    assert included == [f"{MEDIA}/patrol-5E2A1.jpg", f"{MEDIA}/voice-message-8F3C2.ogg"]


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(
    naive=st.datetimes(min_value=datetime(1974, 1, 1), max_value=datetime(2099, 1, 1)),
    offset=st.integers(-(23 * 60 + 59), 23 * 60 + 59),
    spec=st.sampled_from(["seconds", "milliseconds", "microseconds", "Z"]),
)
def test_fast_iso_parsing_matches_datetime(naive: datetime, offset: int, spec: str) -> None:
    """The hot-path ISO parser returns exactly what datetime.fromisoformat implies."""
    tz = timezone(timedelta(minutes=0 if spec == "Z" else offset))
    text = naive.replace(tzinfo=tz).isoformat(timespec="milliseconds" if spec == "Z" else spec)
    if spec == "Z":
        text = text.replace("+00:00", "Z")
    want = datetime.fromisoformat(text)
    assert iso_time(text, "t") == (
        to_epoch_ms(want),
        int(want.utcoffset().total_seconds() // 60),
    )
