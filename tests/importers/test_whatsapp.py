"""WhatsApp "Export chat" import: headers of every locale, media, system lines, zip exports."""

from __future__ import annotations

import random
import shutil
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatcustody.errors import BadInputError
from chatcustody.importers import REGISTRY, Rejected, SourceInput
from chatcustody.importers._whatsapp_format import chat_title, split_sender
from chatcustody.importers.whatsapp import IMPORTER
from chatcustody.ingest import import_file
from chatcustody.model import ConversationKind, MessageType, Record
from chatcustody.vault import Vault
from tests.conftest import import_and_verify, stored_counts, stored_records

FIXTURES = Path(__file__).parent / "fixtures" / "whatsapp"
ANDROID = FIXTURES / "WhatsApp Chat with 张三.txt"
IOS_FOLDER = FIXTURES / "WhatsApp Chat - 护卫队值班群"
ZH_ANDROID = FIXTURES / "zh-android" / "WhatsApp Chat with 王经理.txt"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def parse(path: Path, tz: str = "Asia/Shanghai", **options: str) -> list[Record | Rejected]:
    """Parse an export without a vault; return records and rejections in order."""
    items = list(IMPORTER.parse(SourceInput(path, ZoneInfo(tz), options)))
    assert all(isinstance(i, Record | Rejected) for i in items)
    return items  # type: ignore[return-value]


def records(path: Path, tz: str = "Asia/Shanghai", **options: str) -> list[Record]:
    """Parse an export that must be clean; return its records."""
    items = parse(path, tz, **options)
    assert not [i for i in items if isinstance(i, Rejected)], items
    return [i for i in items if isinstance(i, Record)]


def ios_zip(tmp_path: Path) -> Path:
    """Zip the iOS fixture folder the way WhatsApp shares it ("WhatsApp Chat - X.zip")."""
    path = tmp_path / f"{IOS_FOLDER.name}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for member in sorted(IOS_FOLDER.iterdir()):
            zf.write(member, member.name)
    return path


def write(tmp_path: Path, text: str, name: str = "WhatsApp Chat with 测试.txt") -> Path:
    """Write a small chat file and return its path."""
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_android_direct_chat(vault: Vault) -> None:
    """Every Android line becomes one record with its local time in the vault zone."""
    result = import_and_verify(vault, ANDROID)
    assert result.counts.imported == 13
    assert result.counts.attachments == 0
    counts = stored_counts(vault)
    assert (counts["records"], counts["conversations"], counts["participants"]) == (13, 1, 3)
    stored = stored_records(vault)
    first, multi, omitted, deleted = stored[0], stored[3], stored[4], stored[5]
    assert (first["type"], first["sender_id"], first["conversation_kind"]) == (
        "system",
        "system",
        "direct",
    )
    assert first["timestamp_ms"] == 1_577_200_800_000  # 2019-12-24 23:20 +08:00
    assert first["utc_offset_min"] == 480
    assert multi["text"] == "骑手说：\n已到小区门口\n\n请下楼取餐"
    assert multi["raw"] == "12/24/19, 11:24\u202fPM - Li Wei: 骑手说：\n已到小区门口\n\n请下楼取餐"
    assert (multi["conversation_id"], multi["conversation_name"]) == ("张三", "张三")
    assert multi["message_id"] is None
    assert omitted["type"] == "other"
    assert omitted["attachments"][0]["included"] is False
    assert deleted["type"] == "recall"
    assert [r["text"] for r in stored].count("ok") == 2  # same minute, same text: both kept
    assert stored[6]["type"] == "location"
    assert stored[-1]["timestamp_ms"] == 1_577_246_400_000  # 12/25/19 12:00 PM = noon


def test_ios_group_zip(vault: Vault, tmp_path: Path) -> None:
    """An iOS zip: day-first brackets, CRLF, U+200E/U+202F, media from the zip, group kind."""
    result = import_and_verify(vault, ios_zip(tmp_path))
    assert result.counts.imported == 15
    assert result.counts.attachments == 3  # photo, voice note, PDF present in the zip
    counts = stored_counts(vault)
    assert (counts["conversations"], counts["participants"]) == (1, 4)
    assert counts["blobs"] == 4  # the zip itself and its three media files
    stored = stored_records(vault)
    assert stored[0]["raw"].startswith("[09/10/22 10:30:00\u202fp.m.] 护卫队值班群: \u200e")
    kinds = {r["conversation_kind"] for r in stored}
    assert kinds == {"group"}
    system = [r for r in stored if r["type"] == "system"]
    assert [r["text"] for r in system] == [
        "Messages and calls are end-to-end encrypted. No one outside of this chat, not even "
        "WhatsApp, can read or listen to them.",
        "赵队长 created group “护卫队值班群”",
        "赵队长 added you",
        "钱保安 Qian left",
    ]
    phone = [r for r in stored if r["sender_id"] == "+86 138 0013 8000"]
    assert phone[0]["text"] == "Gate 3 camera offline\nsince 22:35, 已通知维修"
    assert phone[0]["timestamp_ms"] == 1_665_326_220_000  # 9 Oct 2022 22:37 +08:00
    assert phone[1]["type"] == "image" and phone[1]["attachments"][0]["sha256"]
    attachments = [a for r in stored for a in r["attachments"]]
    assert sum(a["included"] for a in attachments) == 3
    assert sorted(a["name"] for a in attachments if not a["included"]) == [
        "00000014-VIDEO-2022-09-10-22-40-00.mp4",
        "image",
    ]
    assert [r["type"] for r in stored if r["sender_id"] == "钱保安 Qian"] == [
        "text",
        "voice",
        "video",
        "recall",
        "text",
    ]


def test_chinese_year_first_folder_export() -> None:
    """Year-first zh dates with 上午/下午/中午, a BOM, and attachments beside the .txt."""
    recs = records(ZH_ANDROID)
    assert len(recs) == 7
    assert recs[0].type is MessageType.SYSTEM
    assert recs[1].timestamp_ms == 1_709_652_180_000  # 2024-03-05 23:23 +08:00
    assert recs[5].timestamp_ms == 1_709_686_800_000  # 上午9:00
    assert recs[6].timestamp_ms == 1_709_699_400_000  # 中午12:30
    photo, missing = recs[3], recs[4]
    assert photo.text == "IMG-20240305-WA0001.jpg (file attached)\n监控截图 23:10-23:20"
    assert photo.attachments[0].included and photo.attachments[0].mime == "image/jpeg"
    assert missing.type is MessageType.IMAGE and not missing.attachments[0].included
    assert {r.conversation_id for r in recs} == {"王经理"}
    assert recs[0].conversation_kind is ConversationKind.DIRECT


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["03/04/24, 10:00 - A: x", "13/04/24, 10:00 - B: y"], (2024, 4, 3)),  # 13 first: D/M
        (["03/04/24, 10:00 - A: x", "04/13/24, 10:00 - B: y"], (2024, 3, 4)),  # 13 second: M/D
        (["03.04.24, 10:00 - A: x"], (2024, 4, 3)),  # dots, no evidence: day first
        (["03/04/24, 10:00 AM - A: x"], (2024, 3, 4)),  # slash + AM, no evidence: en-US
        (["03/04/2024, 10:00 am - A: x"], (2024, 4, 3)),  # slash + am (en-IN): day first
        (["[2024-03-04 10:00:00] A: x"], (2024, 3, 4)),  # year first
    ],
)
def test_day_month_order_rule(tmp_path: Path, lines: list[str], expected: tuple[int, ...]) -> None:
    """The day/month order follows the documented per-file rule."""
    recs = records(write(tmp_path, "\n".join(lines) + "\n"), tz="UTC")
    first = recs[0].time
    assert (first.year, first.month, first.day) == expected


def test_dayfirst_option_overrides_the_rule(tmp_path: Path) -> None:
    """source.options["dayfirst"] forces the order either way."""
    path = write(tmp_path, "03/04/24, 10:00 - A: x\n")
    assert records(path, tz="UTC", dayfirst="1")[0].time.month == 4
    assert records(path, tz="UTC", dayfirst="0")[0].time.month == 3
    (bad,) = parse(path, dayfirst="yes")
    assert isinstance(bad, Rejected) and "dayfirst must be 1 or 0" in bad.reason


@pytest.mark.parametrize(
    ("header", "hm"),
    [
        ("1/2/24, 9:05\u202fp.\u00a0m. - ", (21, 5)),
        ("[1/2/24, 9:05:07 a. m.] ", (9, 5)),
        ("[1/2/24 12:05:07\u202fAM] ", (0, 5)),
        ("\u200e[2024/1/2 下午9:05:07] ", (21, 5)),
        ("2024-01-02 21:05 - ", (21, 5)),
        ("02.01.24, 21.05 - ", (21, 5)),
        ("1/2/24, 12:05 PM - ", (12, 5)),
    ],
)
def test_header_spellings(tmp_path: Path, header: str, hm: tuple[int, int]) -> None:
    """Locale spellings of AM/PM, separators and brackets all read the same local time."""
    recs = records(write(tmp_path, f"{header}A: x\r\n"), tz="UTC")
    assert (recs[0].time.hour, recs[0].time.minute) == hm
    assert recs[0].text == "x" and recs[0].sender_id == "A"


def test_dst_and_zone_offsets(tmp_path: Path) -> None:
    """Local times use the zone's offset at that instant (DST included)."""
    path = write(tmp_path, "1/15/24, 9:00 AM - A: winter\n7/15/24, 9:00 AM - A: summer\n")
    winter, summer = records(path, tz="America/New_York")
    assert (winter.utc_offset_min, summer.utc_offset_min) == (-300, -240)
    assert winter.timestamp_ms == 1_705_327_200_000  # 14:00Z
    assert summer.timestamp_ms == 1_721_048_400_000  # 13:00Z


def test_split_sender_and_titles() -> None:
    """Sender names lose bidi marks; system lines and iOS notices have no sender."""
    assert split_sender("\u202a+86 138 0013 8000\u202c: hi") == ("+86 138 0013 8000", "hi")
    assert split_sender("张三 created group “值班: 夜”") == (None, "张三 created group “值班: 夜”")
    assert split_sender("群: \u200eMessages and calls are end-to-end encrypted.")[0] is None
    assert split_sender("A: \u200eimage omitted") == ("A", "image omitted")
    assert chat_title("WhatsApp Chat with 张三.txt") == "张三"
    assert chat_title("WhatsApp Chat - 护卫队值班群.zip") == "护卫队值班群"
    assert chat_title("export.txt") == "export"


def test_conversation_option_and_kind_rule(tmp_path: Path) -> None:
    """Three writers make a group; options["conversation"] sets the conversation id."""
    path = write(
        tmp_path, "1/2/24, 9:00 AM - A: x\n1/2/24, 9:01 AM - B: y\n1/2/24, 9:02 AM - C: z\n"
    )
    recs = records(path, conversation="wa:agent-7/张三")
    assert {r.conversation_kind for r in recs} == {ConversationKind.GROUP}
    assert {r.conversation_id for r in recs} == {"wa:agent-7/张三"}
    two = write(tmp_path, "1/2/24, 9:00 AM - A: x\n1/2/24, 9:01 AM - A added B\n", "two.txt")
    assert records(two)[0].conversation_kind is ConversationKind.GROUP  # a group system line


def test_detect(tmp_path: Path) -> None:
    """detect() claims WhatsApp exports only: not jsonl, not random text, JSON or zips."""
    assert IMPORTER.detect(ANDROID)
    assert IMPORTER.detect(ZH_ANDROID)
    assert IMPORTER.detect(IOS_FOLDER)
    assert IMPORTER.detect(IOS_FOLDER / "_chat.txt")
    assert IMPORTER.detect(ios_zip(tmp_path))
    jsonl = tmp_path / "export.jsonl"
    jsonl.write_text('{"platform":"wecom","conversation_id":"c","timestamp":1}\n', "utf-8")
    notes = write(tmp_path, "会议纪要\n2024-03-01 10:00:00 张三(12345)\n你好\n", "notes.txt")
    data = tmp_path / "data.json"
    data.write_text('{"messages": []}', "utf-8")
    other_zip = tmp_path / "slack.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("users.json", "[]")
        zf.writestr("readme.txt", "hello\n")
    for path in (jsonl, notes, data, other_zip, tmp_path / "missing.txt", tmp_path):
        assert not IMPORTER.detect(path), path
    assert REGISTRY["whatsapp"] is IMPORTER


_GOOD = "1/2/24, 9:00 AM - A: 早上好\n1/2/24, 9:01 AM - B: hi\n"


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"not a chat\n" + _GOOD.encode(), 1, "does not start with a WhatsApp date header"),
        ((_GOOD + "1/2/24, 13:05 PM - A: x\n").encode(), 3, "not a valid 12-hour time"),
        (
            ("12/24/19, 9:00 - A: x\n" * 3 + "24/12/19, 9:00 - A: y\n").encode(),
            4,
            "is not a valid month/day date",
        ),
        (_GOOD.encode() + b"1/2/24, 9:02 AM - A: \xff\xfe\n", 3, "invalid UTF-8"),
        (b"", None, "file is empty"),
    ],
    ids=["text-before-header", "bad-12h-time", "impossible-date", "invalid-utf8", "empty"],
)
def test_bad_input_names_line_and_commits_nothing(
    vault: Vault, tmp_path: Path, data: bytes, line: int | None, reason: str
) -> None:
    """A bad line rejects the whole file with file, line and reason; nothing is committed."""
    path = tmp_path / "WhatsApp Chat with bad.txt"
    path.write_bytes(data)
    result = import_file(vault, path, "whatsapp")
    assert isinstance(result.error, BadInputError)
    problem = result.error.problems[0]
    assert (problem.path, problem.line) == (str(path), line)
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
    rng.shuffle(lines)
    return b"\n".join(lines)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a scratch folder shared by the fuzz examples."""
    return tmp_path_factory.mktemp("whatsapp_fuzz")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1), which=st.sampled_from(["android", "ios", "zh"]))
def test_fuzz_parse_yields_only_items_or_rejections(fuzz_dir: Path, seed: int, which: str) -> None:
    """Mutated exports never crash parse(): every outcome is a Record or a Rejected."""
    source = {"android": ANDROID, "ios": IOS_FOLDER / "_chat.txt", "zh": ZH_ANDROID}[which]
    path = fuzz_dir / "WhatsApp Chat with fuzz.txt"
    path.write_bytes(_mutate(source.read_bytes(), random.Random(seed)))
    for item in IMPORTER.parse(SourceInput(path, SHANGHAI)):
        assert isinstance(item, Record | Rejected)
        if isinstance(item, Record):
            assert item.timestamp_ms > 0 and item.sender_id


@pytest.mark.parametrize("seed", [3, 11])
def test_mutated_import_succeeds_or_commits_nothing(
    vault: Vault, tmp_path: Path, seed: int
) -> None:
    """A corrupted export either imports cleanly or fails with BadInputError, all or nothing."""
    path = tmp_path / "WhatsApp Chat with 张三.txt"
    path.write_bytes(_mutate(ANDROID.read_bytes(), random.Random(seed)))
    result = import_file(vault, path, "whatsapp")
    if result.error is None:
        assert stored_counts(vault)["records"] == result.counts.imported
    else:
        assert isinstance(result.error, BadInputError)
        assert stored_counts(vault)["records"] == 0 and stored_counts(vault)["sources"] == 0


def test_reimport_of_overlapping_export_adds_only_new(vault: Vault, tmp_path: Path) -> None:
    """A later export of the same chat (same title) adds only its new messages."""
    older = tmp_path / "old" / ANDROID.name
    older.parent.mkdir()
    lines = ANDROID.read_text("utf-8").splitlines(keepends=True)
    older.write_text("".join(lines[:10]), "utf-8")
    first = import_and_verify(vault, older)
    second = import_and_verify(vault, ANDROID)
    assert (first.counts.imported, second.counts.imported) == (7, 6)
    assert second.counts.duplicates == 7
    assert stored_counts(vault)["conversations"] == 1


def test_folder_export_imports_media(tmp_path: Path) -> None:
    """An unzipped iOS folder reads _chat.txt and finds the media beside it."""
    folder = tmp_path / IOS_FOLDER.name
    shutil.copytree(IOS_FOLDER, folder)
    recs = records(folder)
    assert len(recs) == 15
    assert sum(a.included for r in recs for a in r.attachments) == 3
    assert {r.conversation_name for r in recs} == {"护卫队值班群"}


def test_zip_with_several_chats_imports_each(tmp_path: Path) -> None:
    """A zip holding several "WhatsApp Chat with X.txt" files imports every one of them."""
    archive = tmp_path / "exports.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("WhatsApp Chat with 张三.txt", "1/2/24, 9:00 AM - 张三: 你好\n")
        zf.writestr("WhatsApp Chat with Bob.txt", "1/2/24, 9:05 AM - Bob: hi\nsecond\n")
        zf.writestr("notes.txt", "not a chat\n")
    recs = records(archive)
    assert [(r.conversation_id, r.text) for r in recs] == [("Bob", "hi\nsecond"), ("张三", "你好")]
    assert IMPORTER.detect(archive)
    (refused,) = parse(archive, conversation="one id for two chats")
    assert isinstance(refused, Rejected) and "export of one chat" in refused.reason


def test_oversized_message_is_rejected_not_buffered(tmp_path: Path) -> None:
    """A "message" of more than a million characters is refused instead of held in memory."""
    path = tmp_path / "WhatsApp Chat with big.txt"
    path.write_text("1/2/24, 9:00 AM - A: x\n" + ("y" * 999 + "\n") * 1100, "utf-8")
    (item,) = parse(path)
    assert isinstance(item, Rejected) and item.line == 1
    assert "longer than 1,000,000 characters" in item.reason
