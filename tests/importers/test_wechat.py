"""WeChat importers: WeChatMsg / MemoTrace CSV (``wechat``), chatlog JSON (``wechat-chatlog``)."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings

from chatcustody.errors import BadInputError
from chatcustody.importers import Rejected, SourceInput
from chatcustody.importers.wechat import HEADER as CSV_HEADER
from chatcustody.importers.wechat import IMPORTER as CSV_IMPORTER
from chatcustody.importers.wechat_chatlog import IMPORTER as CHATLOG_IMPORTER
from chatcustody.importers.wechat_chatlog import iter_json_array
from chatcustody.ingest import import_file
from chatcustody.model import MessageType, Record
from chatcustody.vault import Vault
from tests.conftest import import_and_verify, stored_counts, stored_records, write_jsonl
from tests.importers._fuzz import mutated

FIXTURES = Path(__file__).parent / "fixtures" / "wechat"
GROUP_CSV = FIXTURES / "护卫队值班群_utf8.csv"
DIRECT_CSV = FIXTURES / "王师傅_utf8.csv"
WXID_CSV = FIXTURES / "客服三组_utf8.csv"
SHORT_CSV = FIXTURES / "李经理_utf8.csv"
CHATLOG_JSON = FIXTURES / "chatlog_夜班.json"
CHATLOG_LINES = FIXTURES / "chatlog_lines.jsonl"
SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = ",".join(CSV_HEADER)
ALL_ZERO = {"records": 0, "sources": 0, "conversations": 0, "participants": 0, "blobs": 0}


def parse(importer: Any, path: Path, tz: ZoneInfo = SHANGHAI) -> list[Any]:
    """Return every item an importer yields for a file."""
    return list(importer.parse(SourceInput(path, tz)))


def records(items: list[Any]) -> list[Record]:
    """Return the records among parsed items, asserting there is no rejection."""
    assert not [i for i in items if isinstance(i, Rejected)]
    return [i for i in items if isinstance(i, Record)]


def nothing_committed(vault: Vault) -> bool:
    """Return True when the vault holds no records, sources, conversations or blobs."""
    counts = stored_counts(vault)
    return all(counts[k] == 0 for k in ALL_ZERO)


# --- WeChatMsg CSV -------------------------------------------------------------------------


def test_group_csv_imports_every_row_with_exact_fields(vault: Vault) -> None:
    """Every CSV row becomes one record; types, senders, UTC instants and raw rows are exact."""
    result = import_and_verify(vault, GROUP_CSV)
    assert result.format == "wechat"
    assert (result.counts.imported, result.counts.attachments) == (20, 0)
    counts = stored_counts(vault)
    assert (counts["records"], counts["conversations"], counts["participants"]) == (20, 1, 4)
    assert (counts["amendments"], counts["blobs"]) == (0, 1)  # the blob is the original
    stored = stored_records(vault)
    types = Counter(r["type"] for r in stored)
    assert types == {
        "text": 6, "system": 1, "recall": 2, "image": 1, "voice": 1, "video": 1, "sticker": 1,
        "location": 1, "card": 1, "link": 2, "file": 1, "forward": 1, "other": 1,
    }  # fmt: skip
    media = [a for r in stored for a in r["attachments"]]
    assert len(media) == 4 and not any(a["included"] for a in media)
    assert {r["conversation_id"] for r in stored} == {"talker-27"}
    assert {r["conversation_kind"] for r in stored} == {"group"}

    multi = stored[2]
    assert multi["message_id"] == "27:1003:1773964920"
    assert multi["sender_id"] == "wxid_qian_01" and multi["sender_name"] == "钱师傅"
    assert multi["text"] == "收到\n今天我在东门岗，有事打我电话 138****0000"
    assert (multi["timestamp_ms"], multi["utc_offset_min"]) == (1_773_964_920_000, 480)
    lines = GROUP_CSV.read_bytes().decode("utf-8-sig").split("\r\n")
    assert multi["raw"] == lines[3]  # the whole row, its embedded newline included

    image = stored[3]
    assert image["type"] == "image" and image["text"] == "[图片]"
    assert image["attachments"][0]["name"] == "7c3d2b1a0f9e8d7c6b5a49382716a5b4"
    quote = stored[11]
    assert quote["text"] == "好的，马上过去\n「赵队长：东门道闸有异响」"
    assert quote["reply_to"] is None
    recall = stored[14]
    assert (recall["type"], recall["sender_id"], recall["target_id"]) == ("recall", "system", None)
    assert stored[16]["text"] == '他说："别拍了，我马上走"，然后离开了。'
    assert stored[19]["text"] == "ＡＢＣ１２３　全角测试，Ｍｉｘｅｄ　ｓｃｒｉｐｔｓ"


def test_direct_wxid_and_short_row_csvs(vault: Vault) -> None:
    """A one-to-one chat takes the peer's wxid; wxid TalkerIds and 9-column rows import too."""
    direct = import_and_verify(vault, DIRECT_CSV)
    wxid = import_and_verify(vault, WXID_CSV)
    short = import_and_verify(vault, SHORT_CSV)
    assert (direct.counts.imported, wxid.counts.imported, short.counts.imported) == (9, 3, 3)
    counts = stored_counts(vault)
    # wxid_wang_rider, wxid_zhao_guard, system, wxid_lin_cs, talker-12, self
    assert (counts["conversations"], counts["participants"]) == (3, 6)
    stored = stored_records(vault)
    kinds = {(r["conversation_id"], r["conversation_kind"]) for r in stored}
    assert kinds == {
        ("wxid_wang_rider", "direct"),
        ("39012345678@chatroom", "group"),
        ("talker-12", "direct"),
    }
    by_text = {r["text"]: r for r in stored}
    assert by_text["通话时长 01:12"]["type"] == "call"
    assert by_text["[转账] ￥20.00 停车费"]["type"] == "other"
    assert by_text['"王大力" 撤回了一条消息']["type"] == "recall"
    added = by_text["你已添加了王大力，现在可以开始聊天了。"]
    assert (added["type"], added["sender_id"]) == ("system", "system")
    assert by_text["好的，我通知队员"]["sender_id"] == "self"
    peer = by_text["明天的演练改到下午三点"]
    assert (peer["sender_id"], peer["sender_name"], peer["conversation_name"]) == (
        "talker-12",
        "李经理",
        "李经理",
    )
    assert sum(len(r["attachments"]) for r in stored) == 2


def test_csv_row_lines_and_zone() -> None:
    """Each record names the physical line its row starts on; the offset follows --tz."""
    items = records(parse(CSV_IMPORTER, GROUP_CSV, ZoneInfo("Europe/Berlin")))
    assert [r.line for r in items][:6] == [2, 3, 4, 6, 11, 12]
    assert {r.utc_offset_min for r in items} == {60}
    assert items[0].timestamp_ms == 1_773_964_800_000


def test_csv_field_longer_than_csv_default_limit(tmp_path: Path) -> None:
    """A StrContent beyond csv's 128 KiB default field limit is read whole, not rejected."""
    text = "长" * 200_000
    path = tmp_path / "big_utf8.csv"
    path.write_text(f"{HEADER}\n1,5,1,0,1,1773964800,2,{text},x,,我,wxid_me\n", "utf-8-sig")
    (record,) = records(parse(CSV_IMPORTER, path))
    assert record.text == text


def _csv(rows: list[str]) -> bytes:
    good = [
        "1,27,1,0,1,1773964800,2,早班交接,2026-03-20 08:00:00,,赵队长,wxid_zhao",
        '2,27,1,0,0,1773964860,0,"收到\n东门岗",2026-03-20 08:01:00,,钱师傅,wxid_qian',
    ]
    text = "\ufeff" + "\r\n".join([HEADER, *good, *rows]) + "\r\n"
    return text.encode("utf-8", "surrogateescape")


BAD_CSV: dict[str, tuple[bytes, int | None, str]] = {
    "CreateTime not a number": (
        _csv(["3,27,1,0,0,yesterday,0,好,x,,钱师傅,wxid_qian"]),
        5,
        "CreateTime is not a number",
    ),
    "CreateTime in milliseconds": (
        _csv(["3,27,1,0,0,1773964860000,0,好,x,,钱师傅,wxid_qian"]),
        5,
        "not epoch seconds",
    ),
    "IsSender not 0/1": (_csv(["3,27,1,0,2,1773964860,0,好,x,,钱师傅,wxid_qian"]), 5, "IsSender"),
    "Type not a number": (
        _csv(["3,27,text,0,0,1773964860,0,好,x,,a,b"]),
        5,
        "Type is not a number",
    ),
    "wrong field count": (_csv(["3,27,1,0,0,1773964860,0,好,x,,a"]), 5, "row has 11 fields"),
    "broken quoting": (_csv(['3,27,1,0,0,1773964860,0,"好"吗,x,,a,b']), 5, "malformed CSV"),
    "unterminated quote": (_csv(['3,27,1,0,0,1773964860,0,"好\n还没完']), 5, "unexpected end"),
    "invalid UTF-8": (
        _csv(["3,27,1,0,0,1773964860,0,\udcff,x,,a,b"]),
        5,
        "invalid UTF-8 on line 5",
    ),
    "not the header": (b"id,talker,text\r\n1,2,3\r\n", 1, "not the WeChatMsg CSV header"),
    "empty file": (b"", None, "file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_csv_names_line_and_commits_nothing(vault: Vault, tmp_path: Path, case: str) -> None:
    """A bad CSV row rejects the file with its physical line and reason; nothing is committed."""
    data, line, reason = BAD_CSV[case]
    path = tmp_path / "bad_utf8.csv"
    path.write_bytes(data)
    result = import_file(vault, path, "wechat")
    assert isinstance(result.error, BadInputError)
    problem = result.error.problems[0]
    assert (problem.path, problem.line) == (str(path), line)
    assert reason in problem.reason
    assert nothing_committed(vault)


# --- chatlog JSON --------------------------------------------------------------------------


def test_chatlog_json_and_lines_share_conversations_with_csv(vault: Vault) -> None:
    """chatlog messages import one each; a talker wxid is the same conversation as the CSV's."""
    import_and_verify(vault, DIRECT_CSV)
    result = import_and_verify(vault, CHATLOG_JSON)
    lines = import_and_verify(vault, CHATLOG_LINES)
    assert result.format == lines.format == "wechat-chatlog"
    assert (result.counts.imported, lines.counts.imported) == (16, 3)
    counts = stored_counts(vault)
    # wxid_wang_rider (CSV and chatlog) and 45012345678@chatroom
    assert (counts["records"], counts["conversations"]) == (28, 2)
    # wxid_wang_rider, wxid_zhao_guard, system, wxid_zhou_03
    assert counts["participants"] == 4
    stored = [r for r in stored_records(vault) if r["message_id"].isdigit()]
    assert Counter(r["type"] for r in stored) == {
        "text": 6, "system": 2, "recall": 1, "image": 1, "voice": 1, "video": 1, "link": 1,
        "file": 1, "forward": 1, "sticker": 1, "call": 1, "other": 1, "location": 1,
    }  # fmt: skip
    first = stored[0]
    assert (first["message_id"], first["sender_id"], first["type"]) == (
        "1774008000000",
        "system",
        "system",
    )
    assert (first["timestamp_ms"], first["utc_offset_min"]) == (1_774_008_000_000, 480)
    assert json.loads(first["raw"]) == json.loads(CHATLOG_JSON.read_text("utf-8"))[0]
    image = stored[3]
    assert image["attachments"] == [
        {"name": "1c8b2f0e9d7a6b5c.dat", "mime": None, "path": None, "included": False,
         "size": None, "sha256": None, "blob": None}
    ]  # fmt: skip
    quote = stored[8]
    assert quote["text"] == "明白，已通知骑手\n「赵队长：夜班注意：西门今晚22点后关闭。」"
    assert stored[10]["type"] == "recall" and stored[10]["target_id"] is None
    assert {r["conversation_name"] for r in stored} == {"护卫队夜班群", "王师傅(骑手)"}


def test_json_array_reads_across_chunk_boundaries(tmp_path: Path) -> None:
    """The incremental array reader yields exactly what json.load reads, whatever the chunking."""
    rng = random.Random(7)
    items = [
        {"seq": i, "content": "巡" * rng.randint(0, 5000) + '\\"' + "x" * rng.randint(0, 300)}
        for i in range(120)
    ]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(items, ensure_ascii=False, indent=1), "utf-8")
    with path.open("rb") as f:
        got = list(iter_json_array(f))
    assert not [g for g in got if g.problem]
    assert [g.value for g in got] == items
    assert got[1].line == 6  # indent=1: "[", "{", "seq", "content", "}," then the next "{"


GOOD_MESSAGE = '{"seq":1774008000000,"talker":"a","type":1,"content":"好"}'
BAD_CHATLOG: dict[str, tuple[str, int | None, str | None, str]] = {
    "not JSON": ("hello", 1, None, "not a JSON array or JSON lines"),
    "truncated array": (f'[{GOOD_MESSAGE}, {{"seq":2,"tal', 1, "#1", "malformed JSON"),
    "missing seq": (
        '[{"talker":"a","type":1,"time":"2026-03-20T20:00:00+08:00"}]',
        1,
        "#0",
        "seq is missing",
    ),
    "time without offset": (
        '[{"seq":5,"talker":"a","type":1,"time":"2026-03-20T20:00:00"}]',
        1,
        "seq 5",
        "no UTC offset",
    ),
    "type not a number": (
        '[{"seq":5,"talker":"a","type":"text","time":"2026-03-20T20:00:00Z"}]',
        1,
        "seq 5",
        "type is not",
    ),
    "empty array": ("[]", None, None, "holds no messages"),
    "bad JSON line": (f"{GOOD_MESSAGE}\n{{oops\n", 2, "#1", "malformed JSON"),
    "seq without a plausible time": (
        '[{"seq":7,"talker":"a","type":1}]',
        1,
        "seq 7",
        "seq 7 does not",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CHATLOG))
def test_bad_chatlog_names_element_and_commits_nothing(
    vault: Vault, tmp_path: Path, case: str
) -> None:
    """A bad chatlog element rejects the file with its line, element and reason; nothing lands."""
    text, line, record, reason = BAD_CHATLOG[case]
    path = tmp_path / "bad.json"
    path.write_text(text, "utf-8")
    result = import_file(vault, path, "wechat-chatlog")
    assert isinstance(result.error, BadInputError)
    problem = result.error.problems[0]
    assert (problem.path, problem.line, problem.record) == (str(path), line, record)
    assert reason in problem.reason
    assert nothing_committed(vault)


def test_deeply_nested_json_is_rejected_not_raised(tmp_path: Path) -> None:
    """Absurd nesting depth (a RecursionError in json) becomes a Rejected, never a crash."""
    for name, text in (("deep.json", "[" + "[" * 100_000), ("deep.jsonl", "{" + '"a":[' * 100_000)):
        path = tmp_path / name
        path.write_text(text, "utf-8")
        (item,) = parse(CHATLOG_IMPORTER, path)
        assert isinstance(item, Rejected) and "malformed JSON" in item.reason


# --- detection -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def others(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Typical files of other formats that the WeChat importers must not claim."""
    base = tmp_path_factory.mktemp("others")
    canonical = {
        "platform": "wecom", "conversation_id": "c", "sender_id": "s", "type": "text",
        "timestamp": "2026-03-20T08:30:00+08:00", "text": "好", "message_id": "1",
    }  # fmt: skip
    files = {
        "canonical.jsonl": write_jsonl(base / "canonical.jsonl", [canonical]),
        "random.json": base / "random.json",
        "random.txt": base / "random.txt",
        "other.csv": base / "other.csv",
        "folder": base,
    }
    files["random.json"].write_text('{"seq": 1, "items": [1, 2, 3]}', "utf-8")
    files["random.txt"].write_text("巡逻日志\n08:00 正常\n", "utf-8")
    files["other.csv"].write_text("time,user,text\n2026-03-20,张三,好\n", "utf-8")
    return files


@pytest.mark.parametrize(
    ("importer", "path"),
    [
        (CSV_IMPORTER, GROUP_CSV),
        (CSV_IMPORTER, SHORT_CSV),
        (CHATLOG_IMPORTER, CHATLOG_JSON),
        (CHATLOG_IMPORTER, CHATLOG_LINES),
    ],
)
def test_detect_claims_own_fixtures(importer: Any, path: Path) -> None:
    """Each WeChat importer recognises its own exports."""
    assert importer.detect(path)


@pytest.mark.parametrize(
    "name", ["canonical.jsonl", "random.json", "random.txt", "other.csv", "folder"]
)
def test_detect_leaves_other_files(others: dict[str, Path], name: str) -> None:
    """Neither WeChat importer claims canonical JSON lines, random text/JSON/CSV or a folder."""
    path = others[name]
    assert not CSV_IMPORTER.detect(path)
    assert not CHATLOG_IMPORTER.detect(path)
    assert not CSV_IMPORTER.detect(CHATLOG_JSON) and not CHATLOG_IMPORTER.detect(GROUP_CSV)


# --- mutated input -------------------------------------------------------------------------


def _drain(importer: Any, path: Path) -> Iterator[Any]:
    for item in importer.parse(SourceInput(path, SHANGHAI)):
        assert isinstance(item, Record | Rejected)
        if isinstance(item, Record):
            assert isinstance(item.text, str) and isinstance(item.timestamp_ms, int)
            assert item.type in MessageType
        yield item


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory reused by every fuzz example."""
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(GROUP_CSV.read_bytes()))
def test_mutated_csv_yields_only_items_or_rejections(scratch: Path, data: bytes) -> None:
    """Damaged CSV never raises from parse(): every outcome is a Record or a Rejected."""
    path = scratch / "fuzz_utf8.csv"
    path.write_bytes(data)
    list(_drain(CSV_IMPORTER, path))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(CHATLOG_JSON.read_bytes()))
def test_mutated_chatlog_yields_only_items_or_rejections(scratch: Path, data: bytes) -> None:
    """Damaged chatlog JSON never raises from parse(): every outcome is a Record or a Rejected."""
    path = scratch / "fuzz.json"
    path.write_bytes(data)
    list(_drain(CHATLOG_IMPORTER, path))


@pytest.mark.parametrize(
    ("fixture", "fmt", "damage"),
    [
        (GROUP_CSV, "wechat", lambda b: b[: len(b) * 2 // 3]),
        (CHATLOG_JSON, "wechat-chatlog", lambda b: b.replace(b'"type":1,', b'"type":"1x",', 1)),
    ],
)
def test_mutated_export_imports_whole_or_not_at_all(
    vault: Vault, tmp_path: Path, fixture: Path, fmt: str, damage: Any
) -> None:
    """A damaged export either imports cleanly or fails with BadInputError committing nothing."""
    path = tmp_path / fixture.name
    shutil.copyfile(fixture, path)
    path.write_bytes(damage(path.read_bytes()))
    result = import_file(vault, path, fmt)
    if result.error is None:
        assert stored_counts(vault)["records"] > 0
    else:
        assert isinstance(result.error, BadInputError)
        assert nothing_committed(vault)
