"""Telegram Desktop import: one-chat and account exports, owners, media, edits, bad files."""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatcustody.errors import BadInputError
from chatcustody.importers import REGISTRY, Rejected, SourceInput, _json_stream
from chatcustody.importers.telegram import IMPORTER
from chatcustody.ingest import import_file
from chatcustody.model import Amendment, ConversationKind, MessageType, Record
from chatcustody.vault import Vault
from tests.conftest import import_and_verify, stored_counts, stored_records

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
PERSONAL = FIXTURES / "personal" / "result.json"
ACCOUNT = FIXTURES / "account" / "result.json"
SHANGHAI = ZoneInfo("Asia/Shanghai")

Item = Record | Amendment | Rejected


def parse(path: Path, tz: str = "Asia/Shanghai", **options: str) -> list[Item]:
    """Parse an export without a vault; return its items in order."""
    items = list(IMPORTER.parse(SourceInput(path, ZoneInfo(tz), options)))
    assert all(isinstance(i, Record | Amendment | Rejected) for i in items)
    return items  # type: ignore[return-value]


def records(path: Path, **options: str) -> list[Record]:
    """Parse an export that must be clean; return its records."""
    items = parse(path, **options)
    assert not [i for i in items if isinstance(i, Rejected)], items
    return [i for i in items if isinstance(i, Record)]


def chat(tmp_path: Path, messages: list[Any], **meta: Any) -> Path:
    """Write a one-chat export (Telegram Desktop layout) and return its path."""
    doc = {"name": "夜班小组", "type": "private_group", "id": 444000, **meta, "messages": messages}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), "utf-8")
    return path


def message(i: int, **extra: Any) -> dict[str, Any]:
    """Return a plain text message object as Telegram Desktop writes it."""
    return {
        "id": i,
        "type": "message",
        "date": "2026-03-21T22:00:00",
        "date_unixtime": str(1_774_101_600 + i),
        "from": "赵队长",
        "from_id": "user222",
        "text": f"第{i}条 message",
        "text_entities": [{"type": "plain", "text": f"第{i}条 message"}],
        **extra,
    }


def test_personal_chat_export(vault: Vault) -> None:
    """A one-chat export: one record per message, the edit as an amendment, media acquired."""
    result = import_and_verify(vault, PERSONAL)
    assert (result.counts.imported, result.counts.amendments) == (13, 1)
    assert result.counts.attachments == 2  # the photo and the PDF are in the export
    counts = stored_counts(vault)
    assert (counts["conversations"], counts["participants"], counts["amendments"]) == (1, 3, 1)
    assert counts["blobs"] == 3  # result.json, the photo and the PDF
    stored = stored_records(vault)
    assert {r["conversation_id"] for r in stored} == {"user111/user5012345678"}
    first, photo, voice, link = stored[0], stored[2], stored[3], stored[4]
    assert (first["sender_id"], first["sender_name"]) == ("user5012345678", "张三 Zhang")
    assert first["timestamp_ms"] == 1_774_318_500_000  # 2026-03-24 10:15 +08:00
    assert first["utc_offset_min"] == 480
    assert first["message_id"] == "1"
    assert first["raw"].startswith('{\n   "id": 1,\n   "type": "message",')
    assert photo["type"] == "image" and photo["text"] == "骑手位置：已到小区门口"
    assert photo["attachments"][0]["path"] == "photos/photo_1@24-03-2026_10-16-05.jpg"
    assert photo["attachments"][0]["sha256"] is not None
    assert voice["type"] == "voice" and voice["text"] == "voice message (7 s)"
    assert voice["attachments"] == [
        {
            "name": "voice_message",
            "mime": "audio/ogg",
            "path": None,
            "included": False,
            "size": None,
            "sha256": None,
            "blob": None,
        }
    ]
    assert (link["type"], link["reply_to"]) == ("link", "3")
    types = [r["type"] for r in stored]
    assert types == [
        "text",
        "text",
        "image",
        "voice",
        "link",
        "text",
        "system",
        "forward",
        "sticker",
        "file",
        "location",
        "other",
        "text",
    ]
    assert stored[6]["text"] == "Li Wei 李伟 phone call (65 s) (hangup)"
    unsupported = stored[11]
    assert unsupported["timestamp_ms"] == stored[10]["timestamp_ms"]
    assert "no date" in unsupported["text"]
    assert stored[12]["text"] == "收到了，谢谢 🙏 全角ＯＫ"  # no date_unixtime: local in the zone
    assert stored[12]["timestamp_ms"] == 1_774_319_400_000


def test_account_export_then_overlap(vault: Vault) -> None:
    """An account export maps every chat; the personal chat seen before dedupes by id."""
    import_and_verify(vault, PERSONAL)
    result = import_and_verify(vault, ACCOUNT)
    assert (result.counts.imported, result.counts.duplicates) == (16, 3)
    assert result.counts.amendments == 1
    assert result.counts.attachments == 0
    counts = stored_counts(vault)
    assert counts["conversations"] == 5
    assert counts["records"] == 13 + 16
    stored = stored_records(vault)
    kinds = {r["conversation_id"]: (r["conversation_kind"], r["conversation_name"]) for r in stored}
    assert kinds == {
        "user111/user5012345678": ("direct", "张三 Zhang"),
        "channel1888000002": ("group", "护卫队值班群"),
        "user111/chat444000": ("group", "夜班小组"),
        "user111/user111": ("direct", "Saved Messages"),
        "channel1777000001": ("channel", "城市交通通知"),
    }
    group = [r for r in stored if r["conversation_id"] == "channel1888000002"]
    assert group[0]["text"] == "赵队长 created the group «护卫队值班群»: Li Wei 李伟, 钱保安 Qian"
    assert group[3]["reply_to"] == "3"
    assert group[7]["text"] == "赵队长 invited: 孙新人, Deleted Account"
    posts = [r for r in stored if r["conversation_id"] == "channel1777000001"]
    assert {(p["sender_id"], p["sender_name"]) for p in posts} == {
        ("channel1777000001", "城市交通通知")
    }


def test_owner_unknown_uses_content_keys(tmp_path: Path) -> None:
    """A basic group exported alone (owner unknown) gets no message ids, so none collide."""
    path = chat(tmp_path, [message(1), message(2, reply_to_message_id=1)])
    recs = records(path)
    assert {r.conversation_id for r in recs} == {"chat444000"}
    assert [r.message_id for r in recs] == [None, None]
    assert recs[1].reply_to == "1"
    owned = records(path, account="111")
    assert {r.conversation_id for r in owned} == {"user111/chat444000"}
    assert [r.message_id for r in owned] == ["1", "2"]
    (bad,) = parse(path, account="张三")
    assert isinstance(bad, Rejected) and "option account" in bad.reason


def test_personal_chat_owner_found_by_lookahead(tmp_path: Path) -> None:
    """In a personal chat the writer who is not the peer is the owner, even after the peer."""
    peer = {"from": "张三", "from_id": "user5012345678"}
    msgs = [message(i, **peer) for i in range(1, 4)] + [message(4)]
    path = chat(tmp_path, msgs, name="张三", type="personal_chat", id=5012345678)
    recs = records(path)
    assert {r.conversation_id for r in recs} == {"user222/user5012345678"}
    assert [r.message_id for r in recs] == ["1", "2", "3", "4"]
    only_peer = chat(tmp_path, msgs[:3], name="张三", type="personal_chat", id=5012345678)
    assert {r.message_id for r in records(only_peer)} == {None}


def test_incremental_reader_matches_at_every_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the JSON in tiny chunks (values cut anywhere) gives exactly the same items."""
    whole = parse(ACCOUNT)
    for size in (1, 7, 64, 4093):
        monkeypatch.setattr(_json_stream, "_READ_BYTES", size)
        assert parse(ACCOUNT) == whole


def test_zip_and_folder_exports(tmp_path: Path) -> None:
    """A zipped or unzipped export folder finds result.json and its media inside."""
    folder = PERSONAL.parent
    archive = tmp_path / "Telegram Export 2026-03-25.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, f"ChatExport_2026-03-25/{p.relative_to(folder).as_posix()}")
    zipped = records(archive)
    assert [a.path for r in zipped for a in r.attachments if a.included] == [
        "ChatExport_2026-03-25/photos/photo_1@24-03-2026_10-16-05.jpg",
        "ChatExport_2026-03-25/files/complaint-guide.pdf",
    ]
    assert [r.text for r in records(folder)] == [r.text for r in zipped]
    assert IMPORTER.detect(archive) and IMPORTER.detect(folder)


def test_missing_media_file_is_recorded_as_not_included(tmp_path: Path) -> None:
    """A file the export names but that is absent is kept as an attachment not included."""
    path = chat(tmp_path, [message(1, photo="photos/photo_9.jpg", width=10, height=10)])
    (rec,) = records(path)
    assert rec.type is MessageType.IMAGE
    assert rec.attachments[0].path == "photos/photo_9.jpg"
    assert rec.attachments[0].included is False


def test_kinds_and_zone(tmp_path: Path) -> None:
    """Chat types map to kinds; date_unixtime wins over date; offsets follow the zone."""
    msg = message(1, date="2026-07-01T08:00:00", date_unixtime="1782907200")
    for chat_type, kind in [
        ("public_channel", ConversationKind.CHANNEL),
        ("public_supergroup", ConversationKind.GROUP),
        ("bot_chat", ConversationKind.DIRECT),
    ]:
        (rec,) = records(chat(tmp_path, [msg], type=chat_type), account="111")
        assert rec.conversation_kind is kind
    (rec,) = parse(chat(tmp_path, [msg]), tz="Europe/Berlin")
    assert isinstance(rec, Record)
    assert rec.timestamp_ms == 1_782_907_200_000
    assert rec.utc_offset_min == 120  # CEST on 2026-07-01


def test_detect(tmp_path: Path) -> None:
    """detect() claims Telegram exports only: not jsonl, random JSON, Discord or text."""
    assert IMPORTER.detect(PERSONAL) and IMPORTER.detect(ACCOUNT)
    jsonl = tmp_path / "export.jsonl"
    jsonl.write_text('{"platform":"wecom","conversation_id":"c","timestamp":1}\n', "utf-8")
    discord = tmp_path / "discord.json"
    discord.write_text('{"guild": {"id": "1"}, "channel": {}, "messages": []}', "utf-8")
    random_json = tmp_path / "data.json"
    random_json.write_text('[{"type": "message", "text": "hi"}]', "utf-8")
    text = tmp_path / "notes.txt"
    text.write_text("12/24/19, 11:23 - 张三: hi\n", "utf-8")
    for path in (jsonl, discord, random_json, text, tmp_path / "missing.json", tmp_path):
        assert not IMPORTER.detect(path), path
    assert REGISTRY["telegram"] is IMPORTER


def _bad(case: str) -> tuple[bytes, int | None, str]:
    good = PERSONAL.read_text("utf-8")
    lines = good.split("\n")
    return {
        "truncated": (good[: len(good) // 2].encode(), None, "ends inside the JSON"),
        "malformed": (
            "\n".join(lines[:20] + ['  {"oops" ,,'] + lines[20:]).encode(),
            21,
            "malformed JSON",
        ),
        "bad-unixtime": (
            good.replace('"date_unixtime": "1774318542"', '"date_unixtime": "yesterday"').encode(),
            21,
            "date_unixtime is not a number",
        ),
        "no-id": (good.replace('"id": 2,', '"idx": 2,').encode(), 21, "message has no id"),
        "bad-text": (
            good.replace('"text": "Sorry! 我查一下订单。"', '"text": 42').encode(),
            21,
            "text is neither a string nor a list",
        ),
        "invalid-utf8": (good.encode().replace(b"Sorry", b"S\xffrry"), 28, "UTF-8"),
        "empty": (b"", None, "file is empty"),
        "not-object": (b'[{"id": 1}]', 1, "top level is not a JSON object"),
        "messages-first": (
            b'{"messages": [], "name": "x", "type": "personal_chat", "id": 1}',
            1,
            "before its id and type",
        ),
    }[case]


@pytest.mark.parametrize(
    "case",
    [
        "truncated",
        "malformed",
        "bad-unixtime",
        "no-id",
        "bad-text",
        "invalid-utf8",
        "empty",
        "not-object",
        "messages-first",
    ],
)
def test_bad_input_names_line_and_commits_nothing(vault: Vault, tmp_path: Path, case: str) -> None:
    """A bad message or document rejects the whole file with where and why; nothing lands."""
    data, line, reason = _bad(case)
    path = tmp_path / "result.json"
    path.write_bytes(data)
    result = import_file(vault, path, "telegram")
    assert isinstance(result.error, BadInputError)
    problem = result.error.problems[0]
    assert problem.path == str(path)
    if line is not None:
        assert problem.line == line
    assert reason in problem.reason
    counts = stored_counts(vault)
    assert counts["records"] == 0 and counts["sources"] == 0 and counts["blobs"] == 0


def _mutate(data: bytes, rng: random.Random) -> bytes:
    """Return data with a typical corruption: byte flips, truncation, junk, shuffled lines."""
    kind = rng.randrange(4)
    if kind == 0:
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if kind == 1:
        return data[: rng.randrange(len(data))]
    if kind == 2:
        at = rng.randrange(len(data))
        return data[:at] + rng.randbytes(rng.randint(1, 40)) + data[at:]
    lines = data.split(b"\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a scratch folder shared by the fuzz examples."""
    return tmp_path_factory.mktemp("telegram_fuzz")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1), which=st.sampled_from(["personal", "account"]))
def test_fuzz_parse_yields_only_items_or_rejections(fuzz_dir: Path, seed: int, which: str) -> None:
    """Mutated exports never crash parse(): every outcome is an item or a Rejected."""
    source = PERSONAL if which == "personal" else ACCOUNT
    path = fuzz_dir / "result.json"
    path.write_bytes(_mutate(source.read_bytes(), random.Random(seed)))
    for item in IMPORTER.parse(SourceInput(path, SHANGHAI)):
        assert isinstance(item, Record | Amendment | Rejected)


@pytest.mark.parametrize("seed", [5, 23])
def test_mutated_import_succeeds_or_commits_nothing(
    vault: Vault, tmp_path: Path, seed: int
) -> None:
    """A corrupted export either imports cleanly or fails with BadInputError, all or nothing."""
    path = tmp_path / "result.json"
    path.write_bytes(_mutate(ACCOUNT.read_bytes(), random.Random(seed)))
    result = import_file(vault, path, "telegram")
    if result.error is None:
        assert stored_counts(vault)["records"] == result.counts.imported
    else:
        assert isinstance(result.error, BadInputError)
        assert stored_counts(vault)["records"] == 0 and stored_counts(vault)["sources"] == 0
