"""WeCom chat-archive importer: mapping of every msgtype, streaming arrays, media, rejections."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatcustody.errors import BadInputError
from chatcustody.importers import Rejected, SourceInput
from chatcustody.importers._json_array import JsonValue, iter_json_array
from chatcustody.importers.wecom import IMPORTER
from chatcustody.ingest import import_file
from chatcustody.model import Amendment, Event, Record
from chatcustody.vault import Vault
from tests.conftest import (
    import_and_verify,
    message,
    stored_counts,
    stored_records,
    write_jsonl,
)

FIXTURES = Path(__file__).parent / "fixtures" / "wecom"
LINES = FIXTURES / "archive.jsonl"
ARRAY = FIXTURES / "archive_array.json"
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = 1_773_987_600_000  # 2026-03-20 14:20:00 +08:00, the fixture's first message
G1 = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
CUSTOMER = "wmErxtDgAA9AW32YyyuYRimKr7D1KWlw"
IMAGE = "media/4bebd6bb5639e4445763e7508e20a43d.jpg"
VOICE = "CtYBMzA2OTAyMDEwMjA0NjIzMDYwMDIwMTAwMDIwNGVkM2QwZWFmMDIwMzBmNDI0MDAyMDQ.amr"

# Types of the 38 fixture lines.
EXPECTED_TYPES = Counter(
    {
        "text": 10,  # 8 text, markdown, mixed
        "link": 5,  # link, weapp, docmsg, news, sphfeed
        "other": 8,  # todo, vote, collect, 2 red packets, meeting, calendar, unknown msgtype
        "system": 3,  # agree, disagree, switch
        "file": 2,  # file, voip_doc_share
        "call": 2,  # meeting_voice_call, voiptext
        "image": 1,
        "voice": 1,
        "video": 1,
        "sticker": 1,
        "location": 1,
        "card": 1,
        "forward": 1,  # chatrecord
        "recall": 1,
    }
)


def parse(path: Path, tz: ZoneInfo = SHANGHAI) -> list[Any]:
    """Return every item parse() yields for ``path``."""
    source = SourceInput(path, tz)
    try:
        return list(IMPORTER.parse(source))
    finally:
        source.close()


def records(path: Path, tz: ZoneInfo = SHANGHAI) -> list[Record]:
    """Return the records of a file that must parse cleanly."""
    items = parse(path, tz)
    assert not [i for i in items if isinstance(i, Rejected)]
    return items


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["message_id"]: r for r in rows}


# --- detection -----------------------------------------------------------------------------


def test_detect_claims_archive_files_only(tmp_path: Path) -> None:
    """detect() accepts decrypted archives (lines or array) and the envelope, nothing else."""
    assert IMPORTER.detect(LINES)
    assert IMPORTER.detect(ARRAY)
    envelope = tmp_path / "pull.json"
    envelope.write_text('{"errcode":0,"errmsg":"ok","chatdata":[]}\n')
    assert IMPORTER.detect(envelope)
    others = {
        "canonical.jsonl": json.dumps(message(), ensure_ascii=False) + "\n",
        "notes.txt": "2026-03-20 14:20:00 赵强(10001)\n早班交接\n",
        "random.json": '{"name": "护卫队", "items": [1, 2, 3]}\n',
        "array.json": '[{"id": 1, "text": "hello"}]\n',
        "empty.jsonl": "",
        "binary.bin": "\x00\x01\x02",
    }
    for name, text in others.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        assert not IMPORTER.detect(path), name
    assert not IMPORTER.detect(
        Path(__file__).parent / "fixtures" / "dingtalk" / "robot_messages.jsonl"
    )
    assert not IMPORTER.detect(tmp_path)  # a folder
    long_first = json.loads(LINES.read_text("utf-8").splitlines()[0])
    long_first["text"]["content"] = "长消息" * 3000  # the first line outgrows the detect head
    big = tmp_path / "long.jsonl"
    big.write_text(json.dumps(long_first, ensure_ascii=False) + "\n", encoding="utf-8")
    assert IMPORTER.detect(big)
    assert not IMPORTER.detect(tmp_path / "missing.jsonl")


# --- mapping (parse level) -----------------------------------------------------------------


def test_every_msgtype_maps_to_one_record() -> None:
    """Each of the 38 archive lines becomes exactly one record of the expected type."""
    recs = records(LINES)
    assert len(recs) == 38
    assert Counter(r.type.value for r in recs) == EXPECTED_TYPES
    assert [r.line for r in recs] == list(range(1, 39))
    raw_lines = LINES.read_text("utf-8").splitlines()
    assert [r.raw for r in recs] == raw_lines  # raw is the exact source line


def test_bodies_are_readable() -> None:
    """Non-text payloads get a short readable text; bundles list their items."""
    recs = {r.line: r for r in records(LINES)}
    assert recs[7].text == "[file] 巡逻记录表.xlsx"
    assert recs[8].text.startswith("[location] SOHO现代城 3号门 北京市朝阳区建国路88号 (39.9")
    assert recs[12].text.splitlines() == [
        "[chat record] 群聊的聊天记录 (3 items)",
        "2026-03-20 12:13 东门有可疑车辆",
        "2026-03-20 12:14 [image]",
        "2026-03-20 12:15 已通知派出所 ✅",
    ]
    assert recs[13].text == "现场照片如下：\n\n[image]"  # mixed: text of its parts
    assert recs[17].text == "[red packet] 恭喜发财，大吉大利 total 30.00 x3"
    assert (
        recs[18].text
        == "[meeting] 周例会 2026-03-21 09:00 – 2026-03-21 10:00 保安部会议室 请准时参加"
    )
    assert recs[20].text.startswith("**今日要点**")  # markdown payload named "info"
    assert recs[21].text == "[news] 园区安全通报 https://news.example.com/a1"  # news → info
    assert recs[26].text == "[red packet] 辛苦了 total 8.88 x1"  # external_redpacket → redpacket
    assert recs[29].text.endswith(
        "agreed to conversation archiving (同意会话存档) 2026-03-20 14:26"
    )
    assert recs[37].text == "[hologram] 未来的消息类型"  # unknown msgtype: kept as other


def test_conversations_recall_and_switch() -> None:
    """roomid → group; empty roomid → sorted pair; recall points at pre_msgid; switch → system."""
    recs = {r.line: r for r in records(LINES)}
    assert (recs[1].conversation_id, recs[1].conversation_kind.value) == (G1, "group")
    direct = recs[30]
    assert direct.conversation_id == f"wangfang|{CUSTOMER}"
    assert direct.conversation_kind.value == "direct"
    assert recs[31].conversation_id == direct.conversation_id  # the reply lands in the same chat
    recall = recs[32]
    assert recall.type.value == "recall"
    assert recall.target_id == recs[31].message_id == "318846419183436853990_1773987031"
    switch = recs[38]
    assert (switch.conversation_id, switch.type.value, switch.sender_id) == (
        "@switch",
        "system",
        "liwei",
    )
    assert switch.timestamp_ms == T0 + 500_000


def test_switch_conversation_is_per_corp_with_option() -> None:
    """The corpid import option keys the switch pseudo conversation per enterprise."""
    source = SourceInput(LINES, SHANGHAI, {"corpid": "ww1234567890abcdef"})
    items = list(IMPORTER.parse(source))
    assert items[-1].conversation_id == "@switch:ww1234567890abcdef"


def test_times_are_utc_ms_with_zone_offset() -> None:
    """msgtime is the UTC instant; only the display offset follows the zone."""
    shanghai = records(LINES)[0]
    london = records(LINES, ZoneInfo("Europe/London"))[0]
    assert shanghai.timestamp_ms == london.timestamp_ms == T0
    assert (shanghai.utc_offset_min, london.utc_offset_min) == (480, 0)


def test_media_included_only_when_the_file_is_in_the_export(tmp_path: Path) -> None:
    """A medium is included when a file named by md5sum / sdkfileid is present, else named."""
    recs = {r.line: r for r in records(LINES)}
    (image,) = recs[3].attachments
    assert (image.path, image.included, image.mime) == (IMAGE, True, "image/jpeg")
    (voice,) = recs[4].attachments
    assert (voice.path, voice.included, voice.mime) == (VOICE, True, "audio/amr")
    (video,) = recs[5].attachments
    assert (video.name, video.path, video.included) == (
        "6fa3b8e0d1c4d2f1a9e8c7b6a5f4e3d2.mp4",
        None,
        False,
    )
    assert recs[7].attachments[0].name == "巡逻记录表.xlsx"
    assert [a.included for a in recs[12].attachments] == [False]  # chatrecord image
    assert [a.path for a in recs[13].attachments] == [IMAGE]  # mixed image, present
    # Without the media folder, nothing is included but every medium is still listed.
    shutil.copy(LINES, tmp_path / "archive.jsonl")
    alone = records(tmp_path / "archive.jsonl")
    listed = [a for r in alone for a in r.attachments]
    assert len(listed) == 9 and not any(a.included for a in listed)


def test_media_file_with_wrong_md5_is_rejected(tmp_path: Path) -> None:
    """A file that carries a medium's name but not its bytes never becomes its evidence."""
    shutil.copy(LINES, tmp_path / "archive.jsonl")
    (tmp_path / "media").mkdir()
    (tmp_path / IMAGE).write_bytes(b"some other picture")
    items = parse(tmp_path / "archive.jsonl")
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert [r.line for r in rejected] == [3, 13]  # the image and the mixed message
    assert "does not match the message's md5sum" in rejected[0].reason
    assert rejected[0].record == "038846419183436853990_1773987003"


def test_array_and_lines_give_the_same_records() -> None:
    """A pretty-printed JSON array (with BOM) maps like the same messages as JSON lines."""
    arr = records(ARRAY)
    lines = {r.message_id: r for r in records(LINES)}
    assert len(arr) == 9
    assert arr[0].line == 2 and arr[0].raw.startswith('{\n    "msgid"')
    for r in arr:
        if r.message_id in lines:
            twin = lines[r.message_id]
            assert (r.text, r.type, r.timestamp_ms, r.conversation_id, r.attachments) == (
                twin.text,
                twin.type,
                twin.timestamp_ms,
                twin.conversation_id,
                twin.attachments,
            )
        assert json.loads(r.raw)["msgid"] == r.message_id  # raw is the element's own text


def test_array_stream_survives_chunk_boundaries() -> None:
    """Elements and scalars split across read chunks decode exactly, with their lines."""
    values: list[Any] = [
        {"msgid": str(i), "text": {"content": "巡逻" * (i % 50) + "🚓"}} for i in range(3000)
    ]
    values += [12345678901234567890, "tail", None]
    data = json.dumps(values, ensure_ascii=False, indent=1).encode()
    assert len(data) > 4 * 65536
    out = list(iter_json_array(io.BytesIO(data)))
    assert all(isinstance(v, JsonValue) for v in out)
    assert [v.value for v in out if isinstance(v, JsonValue)] == values
    first, second = out[0], out[1]
    assert isinstance(first, JsonValue) and isinstance(second, JsonValue)
    assert (first.line, second.line) == (2, 8)


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"", None, "file is empty"),
        (b"[", 1, "not closed"),
        (b'[{"a": 1},\n{"a": ', 2, "malformed JSON in array element 2"),
        (b'[{"a": 1}\n{"a": 2}]', 2, "expected ',' or ']' after array element 1"),
        (b'[{"a": 1}] trailing', 1, "after the closing"),
        (b'[{"a": "\xff"}]', 1, "invalid UTF-8"),
        (b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]", 1, "nested too deeply"),
    ],
)
def test_array_defects_end_the_stream_with_one_rejection(
    data: bytes, line: int | None, reason: str
) -> None:
    """A broken array yields its good elements, then one Rejected naming line and defect."""
    out = list(iter_json_array(io.BytesIO(data)))
    last = out[-1]
    assert isinstance(last, Rejected)
    assert last.line == line and reason in last.reason
    assert all(isinstance(v, JsonValue) for v in out[:-1])


# --- ingest --------------------------------------------------------------------------------


def test_import_counts(vault: Vault) -> None:
    """The archive imports 38 records in 6 conversations; present media are acquired."""
    result = import_and_verify(vault, LINES)
    assert result.counts.imported == 38
    assert result.counts.attachments == 3  # image, voice, and the image inside mixed
    counts = stored_counts(vault)
    assert counts["records"] == 38
    assert counts["conversations"] == 6  # 2 groups, 3 one-to-one chats, @switch
    assert counts["participants"] == 7
    assert (counts["amendments"], counts["events"]) == (0, 0)
    assert counts["blobs"] == 3  # the original, the image (stored once), the voice
    rows = stored_records(vault)
    named = [a for r in rows for a in r["attachments"] if not a["included"]]
    assert len(named) == 6
    assert [r["target_id"] for r in rows if r["type"] == "recall"] == [
        "318846419183436853990_1773987031"
    ]


def test_import_spot_checks(vault: Vault) -> None:
    """Decoded fields survive ingest exactly: text, sender, time, offset, raw, media hash."""
    import_and_verify(vault, LINES)
    rows = by_id(stored_records(vault))
    first = rows["018846419183436853990_1773987001"]
    assert (first["text"], first["sender_id"], first["conversation_kind"]) == (
        "早班交接：B区监控正常。",
        "zhaoqiang",
        "group",
    )
    assert (first["timestamp_ms"], first["utc_offset_min"]) == (T0, 480)
    assert first["raw"] == LINES.read_text("utf-8").splitlines()[0]
    customer = rows["308846419183436853990_1773987030"]
    assert customer["text"] == "外卖超时一个小时了！ＡＢＣ全角字符测试"
    assert (customer["sender_id"], customer["timestamp_ms"]) == (CUSTOMER, T0 + 420_000)
    (image,) = rows["038846419183436853990_1773987003"]["attachments"]
    data = (FIXTURES / IMAGE).read_bytes()
    assert (image["sha256"], image["size"]) == (hashlib.sha256(data).hexdigest(), len(data))


def test_array_export_overlapping_lines_adds_only_new(vault: Vault) -> None:
    """The array repeats 7 archived messages: only its 2 new ones are imported."""
    import_and_verify(vault, LINES)
    result = import_and_verify(vault, ARRAY)
    assert (result.counts.imported, result.counts.duplicates) == (2, 7)
    assert stored_counts(vault)["records"] == 40


def _good_lines(n: int = 5) -> str:
    return "".join(LINES.read_text("utf-8").splitlines(keepends=True)[:n])


def _with(line: str) -> bytes:
    return (_good_lines() + line + "\n").encode()


def _base() -> dict[str, Any]:
    return json.loads(_good_lines(1))


BAD: dict[str, tuple[bytes, int | None, str]] = {
    "malformed line": (_with('{"msgid":"x","action":"send"'), 6, "malformed JSON"),
    "msgtime text": (
        _with(json.dumps({**_base(), "msgid": "x", "msgtime": "昨天"}, ensure_ascii=False)),
        6,
        "msgtime is not a number",
    ),
    "msgtime seconds": (
        _with(json.dumps({**_base(), "msgid": "x", "msgtime": 1773987600})),
        6,
        "looks like epoch seconds",
    ),
    "no msgid": (_with(json.dumps({**_base(), "msgid": ""})), 6, "msgid is missing"),
    "recall without target": (
        _with(
            json.dumps(
                {**_base(), "msgid": "x", "action": "recall", "msgtype": "revoke", "revoke": {}}
            )
        ),
        6,
        "pre_msgid",
    ),
    "tolist not a list": (
        _with(json.dumps({**_base(), "msgid": "x", "roomid": "", "tolist": "liwei"})),
        6,
        "tolist is not a list",
    ),
    "invalid utf-8": (_good_lines().encode() + b'{"msgid":"\xff"}\n', 6, "invalid UTF-8"),
    "empty file": (b"", None, "file is empty"),
    "encrypted envelope": (
        b'{"errcode":0,"errmsg":"ok","chatdata":[{"seq":1,"msgid":"m","publickey_ver":1,'
        b'"encrypt_random_key":"k","encrypt_chat_msg":"c"}]}\n',
        1,
        "decrypt it with the WeCom Finance SDK",
    ),
    "truncated array": (ARRAY.read_bytes()[:1000], None, "array element"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_line_and_commits_nothing(vault: Vault, tmp_path: Path, case: str) -> None:
    """A bad record rejects the whole file with file, line and reason; nothing is committed."""
    data, line, reason = BAD[case]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(data)
    result = import_file(vault, path, "wecom")
    assert isinstance(result.error, BadInputError)
    problem = result.error.problems[0]
    assert problem.path == str(path)
    if line is not None:
        assert problem.line == line
    else:
        assert problem.line is None or problem.record is not None
    assert reason in problem.reason
    counts = stored_counts(vault)
    assert counts["records"] == counts["sources"] == counts["blobs"] == 0


def test_missing_media_on_disk_is_named_not_failed(vault: Vault, tmp_path: Path) -> None:
    """An archive copied without its media imports with every medium marked not included."""
    path = write_jsonl(
        tmp_path / "export" / "a.jsonl", [json.loads(x) for x in _good_lines(5).splitlines()]
    )
    result = import_and_verify(vault, path)
    assert (result.counts.imported, result.counts.attachments) == (5, 0)


# --- fuzz ----------------------------------------------------------------------------------


def mutate(data: bytes, rnd: random.Random) -> bytes:
    """Return ``data`` damaged one of the usual ways: flips, truncation, junk, shuffled lines."""
    how = rnd.randrange(4)
    if how == 0 and data:
        out = bytearray(data)
        for _ in range(rnd.randint(1, 8)):
            out[rnd.randrange(len(out))] = rnd.randrange(256)
        return bytes(out)
    if how == 1:
        return data[: rnd.randrange(len(data) + 1)]
    if how == 2:
        at = rnd.randrange(len(data) + 1)
        junk = rnd.choice([b"\x00", b"{", b"]", b'"', b"\xe6\x8a", b"\n\n", "假".encode(), b"NaN"])
        return data[:at] + junk * rnd.randint(1, 3) + data[at:]
    lines = data.split(b"\n")
    rnd.shuffle(lines)
    return b"\n".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), array=st.booleans())
def test_fuzzed_input_yields_only_items_or_rejections(
    tmp_path_factory: pytest.TempPathFactory, seed: int, array: bool
) -> None:
    """Whatever the damage, parse() yields records or Rejected and never raises."""
    rnd = random.Random(seed)
    data = mutate((ARRAY if array else LINES).read_bytes(), rnd)
    folder = tmp_path_factory.getbasetemp() / "fuzz_wecom"
    folder.mkdir(exist_ok=True)
    path = folder / "archive.json"
    path.write_bytes(data)
    for item in parse(path):
        assert isinstance(item, Record | Amendment | Event | Rejected)
        if isinstance(item, Record):
            assert item.raw and item.message_id and isinstance(item.timestamp_ms, int)


@pytest.mark.parametrize("seed", [3, 11])
def test_fuzzed_import_succeeds_or_commits_nothing(vault: Vault, tmp_path: Path, seed: int) -> None:
    """A damaged archive either imports cleanly or fails with BadInputError and no rows."""
    rnd = random.Random(seed)
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(mutate(LINES.read_bytes(), rnd))
    result = import_file(vault, path, "wecom")
    if result.error is None:
        assert stored_counts(vault)["records"] == result.counts.imported
    else:
        assert isinstance(result.error, BadInputError)
        counts = stored_counts(vault)
        assert counts["records"] == counts["sources"] == 0


# --- bench generator -----------------------------------------------------------------------


def test_bench_generator_output_parses_cleanly(tmp_path: Path) -> None:
    """bench/formats/wecom.py writes n messages that all parse, deterministically per seed."""
    spec = importlib.util.spec_from_file_location(
        "bench_wecom", Path(__file__).parents[2] / "bench" / "formats" / "wecom.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    first = module.generate(tmp_path / "a", 500, seed=7)
    second = module.generate(tmp_path / "b", 500, seed=7)
    assert first.read_bytes() == second.read_bytes()
    recs = records(first)
    assert len(recs) == 500
    assert len({r.type for r in recs}) >= 8
