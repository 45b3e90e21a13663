"""QQ message manager .txt export (``qq``): preamble, headers, multi-line content, encodings."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatcustody.errors import BadInputError
from chatcustody.importers import Rejected, SourceInput
from chatcustody.importers.qq import IMPORTER, TITLE
from chatcustody.ingest import import_file
from chatcustody.model import MessageType, Record
from chatcustody.vault import Vault
from tests.conftest import import_and_verify, stored_counts, stored_records, write_jsonl
from tests.importers._fuzz import mutated

FIXTURES = Path(__file__).parent / "fixtures" / "qq"
GROUP = FIXTURES / "护卫队值班群.txt"  # UTF-8 with BOM, CRLF
FRIEND = FIXTURES / "王师傅.txt"  # UTF-16 with BOM, 12-hour clock
EXPORT_ALL = FIXTURES / "全部消息记录.txt"  # GB18030, two chats in one file
SHANGHAI = ZoneInfo("Asia/Shanghai")
SEP = "=" * 64
PREAMBLE = f"{TITLE}\r\n\r\n{SEP}\r\n消息分组:我的群聊\r\n{SEP}\r\n消息对象:测试群\r\n{SEP}\r\n\r\n"
GOOD = "2026-03-20 08:00:00 赵队长(10001234)\r\n早班交接\r\n\r\n"


def parse(path: Path, tz: ZoneInfo = SHANGHAI) -> list[Any]:
    """Return every item the importer yields for a file."""
    return list(IMPORTER.parse(SourceInput(path, tz)))


def records(items: list[Any]) -> list[Record]:
    """Return the records among parsed items, asserting there is no rejection."""
    assert not [i for i in items if isinstance(i, Rejected)]
    return [i for i in items if isinstance(i, Record)]


def nothing_committed(vault: Vault) -> bool:
    """Return True when the vault holds no records, sources, conversations or blobs."""
    counts = stored_counts(vault)
    return all(counts[k] == 0 for k in ("records", "sources", "conversations", "blobs"))


def test_group_export_imports_each_message_once(vault: Vault, tmp_path: Path) -> None:
    """Every message block is one record; identical repeats stay two; a subset re-import adds 0."""
    result = import_and_verify(vault, GROUP)
    assert result.format == "qq"
    assert (result.counts.imported, result.counts.attachments) == (14, 0)
    counts = stored_counts(vault)
    assert (counts["records"], counts["conversations"], counts["participants"]) == (14, 1, 8)
    stored = stored_records(vault)
    assert Counter(r["type"] for r in stored) == {
        "text": 10, "image": 1, "sticker": 1, "system": 1, "recall": 1
    }  # fmt: skip
    media = [a for r in stored for a in r["attachments"]]
    assert len(media) == 3 and not any(a["included"] for a in media)
    assert {(r["conversation_id"], r["conversation_kind"]) for r in stored} == {
        ("group:护卫队值班群", "group")
    }
    handover = stored[1]
    assert (handover["sender_id"], handover["sender_name"]) == ("10001234", "赵队长")
    assert handover["text"] == "早班交接：B区监控正常。\n东门道闸有异响，已报修。"
    assert (handover["timestamp_ms"], handover["utc_offset_min"]) == (1_773_964_870_000, 480)
    assert handover["raw"] == (
        "2026-03-20 08:01:10 【群主】赵队长(10001234)\r\n"
        "早班交接：B区监控正常。\r\n东门道闸有异响，已报修。"
    )
    assert stored[2]["text"] == stored[3]["text"] == "收到"
    assert stored[4]["sender_id"] == "sunxiao@example.com"
    assert (stored[7]["type"], stored[7]["target_id"]) == ("recall", None)
    pasted = stored[9]
    assert pasted["text"] == (
        "第一段\n\n第二段（中间有空行）\n2026-03-20 08:00:00 这一行只是引用，不是新消息(99999)"
    )
    assert stored[10]["sender_name"] == "50007788"
    assert stored[11]["text"] == ""
    assert stored[12]["text"].startswith("=" * 64 + "\n分割线测试")
    assert stored[13]["sender_name"] == "张(副队)"

    subset = tmp_path / "subset.txt"
    text = GROUP.read_bytes().decode("utf-8-sig")
    subset.write_text(text[: text.index("2026-03-20 08:03:30")], "utf-8")
    again = import_file(vault, subset)
    assert again.error is None
    assert (again.counts.imported, again.counts.duplicates) == (0, 4)


def test_utf16_friend_and_gb18030_export_all(vault: Vault) -> None:
    """UTF-16 and GB18030 exports, 12-hour times, and several chats in one file import exactly."""
    friend = import_and_verify(vault, FRIEND)
    everything = import_and_verify(vault, EXPORT_ALL)
    assert (friend.counts.imported, everything.counts.imported) == (3, 4)
    counts = stored_counts(vault)
    # 55501234, 10001234 (in both files), 70001111, 80002222
    assert (counts["conversations"], counts["participants"]) == (3, 4)
    stored = stored_records(vault)
    assert [(r["conversation_id"], r["conversation_kind"]) for r in stored] == [
        ("direct:王师傅", "direct")
    ] * 3 + [("direct:李经理", "direct")] * 2 + [("group:客服三组", "group")] * 2
    evening, _, midnight = stored[:3]
    assert evening["timestamp_ms"] == 1_774_009_800_000  # 2026-03-20 20:30:00 +08:00
    assert midnight["timestamp_ms"] == 1_774_022_700_000  # 2026-03-21 00:05:00 +08:00
    assert (midnight["type"], midnight["attachments"][0]["included"]) == ("voice", False)
    assert stored[5]["text"] == "客户投诉：配送延迟40分钟"


def test_lines_raw_and_zone_at_parse_level() -> None:
    """Records name their header's line; local times follow --tz, with its offset."""
    items = records(parse(GROUP, ZoneInfo("Europe/Berlin")))
    assert [r.line for r in items][:4] == [9, 12, 16, 19]
    assert {r.utc_offset_min for r in items} == {60}
    assert items[0].timestamp_ms == 1_773_990_005_000  # 08:00:05 CET
    assert all(r.message_id is None and r.platform == "qq" for r in items)


def _bad(body: str, encoding: str = "utf-8") -> bytes:
    return (PREAMBLE + GOOD + body).encode(encoding, "surrogateescape")


BAD: dict[str, tuple[bytes, int | None, str]] = {
    "invalid date": (_bad("2026-02-30 08:00:00 钱师傅(20005678)\r\n收到\r\n"), 12, "invalid date"),
    "hour 13 PM": (
        _bad("2026-03-20 13:00:00 PM 钱师傅(20005678)\r\n收到\r\n"),
        12,
        "not valid with PM",
    ),
    "header without sender": (_bad("2026-03-20 08:01:00 \r\n收到\r\n"), 12, "no sender"),
    "invalid UTF-8": (_bad("2026-03-20 08:01:00 钱(2)\r\n\udcff\udcfe\r\n"), 13, "invalid utf-8"),
    "text before the first header": (
        (PREAMBLE + "有人在这里写了字\r\n\r\n" + GOOD).encode(),
        9,
        "not part of the preamble",
    ),
    "no message at all": (PREAMBLE.encode(), None, "no message header"),
    "implausible year": (_bad("0201-03-20 08:01:00 钱师傅(20005678)\r\n收到\r\n"), 12, "year 201 "),
    "empty file": (b"", None, "file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_export_names_line_and_commits_nothing(vault: Vault, tmp_path: Path, case: str) -> None:
    """A defect rejects the whole file with its line and reason; nothing is committed."""
    data, line, reason = BAD[case]
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    result = import_file(vault, path, "qq")
    assert isinstance(result.error, BadInputError)
    problem = result.error.problems[0]
    assert (problem.path, problem.line) == (str(path), line)
    assert reason in problem.reason
    assert nothing_committed(vault)


@pytest.mark.parametrize("path", [GROUP, FRIEND, EXPORT_ALL])
def test_detect_claims_own_fixtures(path: Path) -> None:
    """The QQ importer recognises its exports in UTF-8, UTF-16 and GB18030."""
    assert IMPORTER.detect(path)


def test_detect_leaves_other_files(tmp_path: Path) -> None:
    """The QQ importer claims neither canonical JSON lines, random text/JSON, nor a folder."""
    canonical = write_jsonl(
        tmp_path / "c.jsonl",
        [{"platform": "wecom", "conversation_id": "c", "sender_id": "s", "type": "text",
          "timestamp": "2026-03-20T08:30:00+08:00"}],
    )  # fmt: skip
    text = tmp_path / "notes.txt"
    text.write_text("2026-03-20 巡逻正常\n无异常\n", "utf-8")
    data = tmp_path / "x.json"
    data.write_text(json.dumps({"消息": "好"}, ensure_ascii=False), "utf-8")
    whatsapp = tmp_path / "wa.txt"
    whatsapp.write_text("12/24/19, 11:23 - Zhao: 收到\n", "utf-8")
    for path in (canonical, text, data, whatsapp, tmp_path):
        assert not IMPORTER.detect(path), path


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory reused by every fuzz example."""
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(mutated(GROUP.read_bytes()), mutated(FRIEND.read_bytes())))
def test_mutated_export_yields_only_items_or_rejections(scratch: Path, data: bytes) -> None:
    """Damaged exports never raise from parse(): every outcome is a Record or a Rejected."""
    path = scratch / "fuzz.txt"
    path.write_bytes(data)
    for item in IMPORTER.parse(SourceInput(path, SHANGHAI)):
        assert isinstance(item, Record | Rejected)
        if isinstance(item, Record):
            assert item.type in MessageType and isinstance(item.timestamp_ms, int)


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b.replace(b"2026-03-20 08:05:12", b"2026-03-20 08:65:12", 1),
        lambda b: b[: len(b) // 2],
    ],
)
def test_damaged_export_imports_whole_or_not_at_all(
    vault: Vault, tmp_path: Path, damage: Any
) -> None:
    """A damaged export either imports cleanly or fails with BadInputError committing nothing."""
    path = tmp_path / "damaged.txt"
    path.write_bytes(damage(GROUP.read_bytes()))
    result = import_file(vault, path, "qq")
    if result.error is None:
        assert stored_counts(vault)["records"] > 0
    else:
        assert isinstance(result.error, BadInputError)
        assert nothing_committed(vault)
