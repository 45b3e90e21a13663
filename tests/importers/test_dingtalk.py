"""DingTalk robot-message importer: mapping, frames, arrays, rejections, fuzz."""

from __future__ import annotations

import importlib.util
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatcustody.errors import BadInputError
from chatcustody.importers import Rejected, SourceInput
from chatcustody.importers.dingtalk import IMPORTER
from chatcustody.ingest import import_file
from chatcustody.model import Amendment, Event, Record
from chatcustody.vault import Vault
from tests.conftest import import_and_verify, message, stored_counts, stored_records

FIXTURE = Path(__file__).parent / "fixtures" / "dingtalk" / "robot_messages.jsonl"
WECOM = Path(__file__).parent / "fixtures" / "wecom" / "archive.jsonl"
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = 1_773_987_600_000  # 2026-03-20 14:20:00 +08:00, the fixture's first message
GROUP = "cidh6ezDLHQau9V23Es/xSLNoiDDmPuN354KylQ2BaIhuM="
CUSTOMER = "$:LWCP_v1:$Ex7nB2vC4xZ6mN8qW0eR1t=="


def parse(path: Path, tz: ZoneInfo = SHANGHAI) -> list[Any]:
    """Return every item parse() yields for ``path``."""
    source = SourceInput(path, tz)
    try:
        return list(IMPORTER.parse(source))
    finally:
        source.close()


def records(path: Path, tz: ZoneInfo = SHANGHAI) -> dict[int, Record]:
    """Return the records of a clean file by line number."""
    items = parse(path, tz)
    assert not [i for i in items if isinstance(i, Rejected)]
    return {r.line: r for r in items}


def test_detect_claims_robot_messages_only(tmp_path: Path) -> None:
    """detect() accepts robot-message lines, arrays and frames; not other formats' files."""
    assert IMPORTER.detect(FIXTURE)
    objs = [json.loads(x) for x in FIXTURE.read_text("utf-8").splitlines()]
    array = tmp_path / "messages.json"
    array.write_text(json.dumps(objs[:3], ensure_ascii=False, indent=2), encoding="utf-8")
    assert IMPORTER.detect(array)
    frame = tmp_path / "frames.jsonl"
    frame.write_text(FIXTURE.read_text("utf-8").splitlines()[9] + "\n", encoding="utf-8")
    assert IMPORTER.detect(frame)
    others = {
        "canonical.jsonl": json.dumps(message(), ensure_ascii=False) + "\n",
        "notes.txt": "钉钉群聊记录\n14:20 赵强: 早班交接\n",
        "random.json": '{"conversationId": "x"}\n',
        "empty.jsonl": "",
    }
    for name, text in others.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        assert not IMPORTER.detect(path), name
    assert not IMPORTER.detect(WECOM)
    assert not IMPORTER.detect(tmp_path)


def test_mapping_of_every_msgtype() -> None:
    """Each line is one record: types, conversations, senders, replies and media."""
    recs = records(FIXTURE)
    assert len(recs) == 15
    types = Counter(r.type.value for r in recs.values())
    # text, richText, markdown and the Stream-mode frame are all text
    assert types == Counter(text=9, image=2, voice=1, video=1, file=1, other=1)
    first = recs[1]
    assert (first.conversation_id, first.conversation_kind.value) == (GROUP, "group")
    assert first.conversation_name == "护卫队-客服协调群"
    assert (first.sender_id, first.sender_name) == ("032615015535634423", "赵强")
    assert (first.timestamp_ms, first.utc_offset_min) == (T0, 480)
    assert first.text == " 早班交接：B区监控正常。"  # exact, leading space after the @ kept
    assert first.raw == FIXTURE.read_text("utf-8").splitlines()[0]
    assert recs[4].text == "现场照片：[picture]\n东门 East gate"
    assert recs[5].text == "[voice] 骑手已经到达东门"  # speech recognition kept
    assert recs[7].attachments[0].name == "投诉处理记录.docx"
    assert recs[8].reply_to == recs[2].message_id == "msgGDkZWYZlvw7rFtTHc0002=="
    assert recs[9].text == "[interactiveCard] StandardCard 工单 #A1023 已结案"
    assert recs[10].text == " 夜班已到岗 🚓 ＯＫ"  # unwrapped from its Stream frame
    assert recs[10].raw.startswith('{"specVersion":"1.0","type":"CALLBACK"')
    customer = recs[11]
    assert customer.sender_id == CUSTOMER  # outside the organisation: no senderStaffId
    assert customer.conversation_kind.value == "direct"
    assert customer.conversation_name == "顾客 Chen"
    media = [a for r in recs.values() for a in r.attachments]
    assert len(media) == 6 and not any(a.included for a in media)


def test_zone_only_changes_the_offset() -> None:
    """createAt is the UTC instant; --tz picks only the display offset."""
    utc = records(FIXTURE, ZoneInfo("UTC"))[1]
    assert (utc.timestamp_ms, utc.utc_offset_min) == (T0, 0)


def test_json_array_is_accepted(tmp_path: Path) -> None:
    """A JSON array of the same messages gives the same records."""
    objs = [json.loads(x) for x in FIXTURE.read_text("utf-8").splitlines()]
    path = tmp_path / "messages.json"
    path.write_text(json.dumps(objs, ensure_ascii=False, indent=2), encoding="utf-8")
    from_array = list(records(path).values())
    from_lines = list(records(FIXTURE).values())
    assert [(r.message_id, r.text, r.timestamp_ms) for r in from_array] == [
        (r.message_id, r.text, r.timestamp_ms) for r in from_lines
    ]


def test_import_counts_and_fields(vault: Vault) -> None:
    """15 records in 3 conversations from 4 people; media named, not included."""
    result = import_and_verify(vault, FIXTURE)
    assert (result.counts.imported, result.counts.attachments) == (15, 0)
    counts = stored_counts(vault)
    assert (counts["records"], counts["conversations"], counts["participants"]) == (15, 3, 4)
    assert (counts["amendments"], counts["events"], counts["blobs"]) == (0, 0, 1)
    rows = {r["message_id"]: r for r in stored_records(vault)}
    reply = rows["msgGDkZWYZlvw7rFtTHc0008=="]
    assert reply["reply_to"] == "msgGDkZWYZlvw7rFtTHc0002=="
    assert (reply["timestamp_ms"], reply["utc_offset_min"]) == (T0 + 140_000, 480)
    assert rows["msgGDkZWYZlvw7rFtTHc0011=="]["text"] == "外卖超时一个小时了！"
    named = [a for r in rows.values() for a in r["attachments"]]
    assert len(named) == 6 and all(a["included"] is False for a in named)


def _line(**changes: Any) -> str:
    obj = json.loads(FIXTURE.read_text("utf-8").splitlines()[0])
    obj.update(changes)
    return json.dumps({k: v for k, v in obj.items() if v is not None}, ensure_ascii=False)


def _with(line: str) -> bytes:
    good = "".join(FIXTURE.read_text("utf-8").splitlines(keepends=True)[:3])
    return (good + line + "\n").encode()


BAD: dict[str, tuple[bytes, int | None, str]] = {
    "malformed line": (_with('{"conversationId": "c", '), 4, "malformed JSON"),
    "createAt text": (_with(_line(createAt="今天")), 4, "createAt is not a number"),
    "createAt seconds": (_with(_line(createAt=1773987600)), 4, "looks like epoch seconds"),
    "no conversation": (_with(_line(conversationId="")), 4, "conversationId is missing"),
    "bad conversationType": (_with(_line(conversationType="3")), 4, "conversationType '3'"),
    "no sender": (
        _with(_line(senderId=None, senderStaffId=None)),
        4,
        "no senderStaffId or senderId",
    ),
    "text without content": (_with(_line(text={})), 4, "text.content"),
    "frame with bad data": (
        _with('{"type":"CALLBACK","headers":{},"data":"{not json"}'),
        4,
        "frame data is not a JSON message",
    ),
    "invalid utf-8": (_with('{"conversationId":"c"}').replace(b'"c"', b'"\xff"'), 4, "UTF-8"),
    "empty file": (b"", None, "file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_line_and_commits_nothing(vault: Vault, tmp_path: Path, case: str) -> None:
    """A bad record rejects the whole file with file, line and reason; nothing is committed."""
    data, line, reason = BAD[case]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(data)
    result = import_file(vault, path, "dingtalk")
    assert isinstance(result.error, BadInputError)
    problem = result.error.problems[0]
    assert (problem.path, problem.line) == (str(path), line)
    assert reason in problem.reason
    counts = stored_counts(vault)
    assert counts["records"] == counts["sources"] == counts["blobs"] == 0


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
        junk = rnd.choice(
            [b"\x00", b"{", b"[", b'"', b"\xe9\x92", b"\n\n", "钉".encode(), b"1e999"]
        )
        return data[:at] + junk * rnd.randint(1, 3) + data[at:]
    lines = data.split(b"\n")
    rnd.shuffle(lines)
    return b"\n".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_fuzzed_input_yields_only_items_or_rejections(
    tmp_path_factory: pytest.TempPathFactory, seed: int
) -> None:
    """Whatever the damage, parse() yields records or Rejected and never raises."""
    folder = tmp_path_factory.getbasetemp() / "fuzz_dingtalk"
    folder.mkdir(exist_ok=True)
    path = folder / "robot.jsonl"
    path.write_bytes(mutate(FIXTURE.read_bytes(), random.Random(seed)))
    for item in parse(path):
        assert isinstance(item, Record | Amendment | Event | Rejected)
        if isinstance(item, Record):
            assert item.raw and item.sender_id and isinstance(item.timestamp_ms, int)


@pytest.mark.parametrize("seed", [1, 12])
def test_fuzzed_import_succeeds_or_commits_nothing(vault: Vault, tmp_path: Path, seed: int) -> None:
    """A damaged export either imports cleanly or fails with BadInputError and no rows."""
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(mutate(FIXTURE.read_bytes(), random.Random(seed)))
    result = import_file(vault, path, "dingtalk")
    if result.error is None:
        assert stored_counts(vault)["records"] == result.counts.imported
    else:
        assert isinstance(result.error, BadInputError)
        counts = stored_counts(vault)
        assert counts["records"] == counts["sources"] == 0


def test_bench_generator_output_parses_cleanly(tmp_path: Path) -> None:
    """bench/formats/dingtalk.py writes n messages that all parse, deterministically per seed."""
    spec = importlib.util.spec_from_file_location(
        "bench_dingtalk", Path(__file__).parents[2] / "bench" / "formats" / "dingtalk.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    first = module.generate(tmp_path / "a", 500, seed=7)
    assert first.read_bytes() == module.generate(tmp_path / "b", 500, seed=7).read_bytes()
    recs = records(first)
    assert len(recs) == 500
    assert len({r.type for r in recs.values()}) >= 5
