"""The mapping-driven ``csv`` and ``jsonl`` importers (and the shared ``_mapping`` module).

Ingest-level tests pass the mapping through ``import_file(..., options={"mapping": FILE})``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatcustody.errors import BadInputError
from chatcustody.importers import REGISTRY, Rejected, SourceInput
from chatcustody.importers._base import local_to_utc
from chatcustody.importers._mapping import RowError, TimeFormat, parse_time
from chatcustody.ingest import import_file
from chatcustody.model import Amendment, Event, MessageType, Record
from chatcustody.vault import Vault
from chatcustody.verify import verify_vault
from tests.conftest import message, stored_counts, stored_records, write_jsonl
from tests.importers._fuzz import apply_ops

FIXTURES = Path(__file__).parent / "fixtures" / "generic"
SHANGHAI = ZoneInfo("Asia/Shanghai")
DINGTALK_CSV = FIXTURES / "dingtalk_export.csv"
DINGTALK_CSV_MAP = FIXTURES / "dingtalk_csv.toml"
HELPDESK_CSV = FIXTURES / "helpdesk_tickets.csv"
HELPDESK_MAP = FIXTURES / "helpdesk.json"
DINGTALK_JSONL = FIXTURES / "dingtalk_messages.jsonl"
DINGTALK_JSONL_MAP = FIXTURES / "dingtalk_jsonl.json"


def _opts(mapping: Path) -> dict[str, str]:
    return {"mapping": str(mapping)}


def _parse(fmt: str, path: Path, mapping: Path | None) -> list[Any]:
    source = SourceInput(path, SHANGHAI, _opts(mapping) if mapping else None)
    try:
        return list(REGISTRY[fmt].parse(source))
    finally:
        source.close()


def _import_ok(vault: Vault, path: Path, fmt: str, mapping: Path) -> Any:
    """Import with a mapping; assert success, a clean verify and a no-op re-import."""
    result = import_file(vault, path, fmt, options=_opts(mapping))
    assert result.error is None, f"import failed: {result.error}"
    report = verify_vault(vault)
    assert report.ok, report.failures
    again = import_file(vault, path, fmt, options=_opts(mapping))
    assert again.error is None and again.already_imported
    return result


def _by_id(vault: Vault) -> dict[str | None, dict[str, Any]]:
    return {r["message_id"]: r for r in stored_records(vault)}


# ----------------------------------------------------------------------------- ingest


def test_gb18030_csv_imports_every_row_exactly(vault: Vault) -> None:
    """A GB18030 CSV with a TOML mapping: every row is one item, fields decoded exactly."""
    result = _import_ok(vault, DINGTALK_CSV, "csv", DINGTALK_CSV_MAP)
    assert (result.counts.imported, result.counts.amendments) == (13, 1)
    assert result.counts.attachments == 2
    counts = stored_counts(vault)
    assert counts["records"] == 13
    assert counts["conversations"] == 2
    assert counts["participants"] == 4  # system, rider01, staff001, kefuA
    assert counts["amendments"] == 1
    assert counts["blobs"] == 3  # the original, the photo, the voice note
    rows = _by_id(vault)
    assert sum(1 for r in rows.values() if r["type"] == "recall") == 1
    attachments = [a for r in rows.values() for a in r["attachments"]]
    assert [a["included"] for a in attachments].count(True) == 2
    assert [a["included"] for a in attachments].count(False) == 1

    m003 = rows["m003"]
    assert m003["text"] == "收到，已催商家。预计送达延后15分钟"
    assert (m003["sender_id"], m003["sender_name"]) == ("staff001", "王调度")
    assert m003["timestamp_ms"] == 1_773_470_490_000  # 2026-03-14 14:41:30 +08:00
    assert m003["utc_offset_min"] == 480
    assert m003["reply_to"] == "m002"
    assert m003["conversation_kind"] == "group"
    assert rows["m006"]["type"] == "recall" and rows["m006"]["target_id"] == "m005"
    assert rows["m005"]["text"] == "Picked up, on the way 🛵"  # the recalled original stays
    assert rows["m007"]["text"] == "请说明原因：\r\n1. 出餐慢\r\n2. 路况"
    assert rows["m004"]["type"] == "image" and rows["m004"]["text"] == "8842_shop.jpg"
    assert rows["m004"]["attachments"][0]["sha256"] is not None
    assert rows["m008"]["attachments"][0] == {
        "name": "complaint_8842.xlsx",
        "mime": None,
        "path": "media/complaint_8842.xlsx",
        "included": False,
        "size": None,
        "sha256": None,
        "blob": None,
    }
    assert rows["d002"]["type"] == "voice" and rows["d002"]["text"] == "voice_d002.amr"
    assert rows["d001"]["conversation_kind"] == "direct"
    assert rows[None]["text"] == "👍"  # no source id: deduped by content
    source_lines = DINGTALK_CSV.read_bytes().decode("gb18030").split("\r\n")
    assert rows["m002"]["raw"] == source_lines[2]


def test_semicolon_csv_with_offsets_and_named_attachment(vault: Vault) -> None:
    """ISO times keep their stated offset, naive ones take the zone; named files are kept."""
    result = _import_ok(vault, HELPDESK_CSV, "csv", HELPDESK_MAP)
    assert result.counts.imported == 4 and result.counts.attachments == 0
    counts = stored_counts(vault)
    assert (counts["conversations"], counts["participants"]) == (1, 2)
    rows = stored_records(vault)
    assert [r["utc_offset_min"] for r in rows] == [480, 0, 480, 480]
    assert rows[1]["timestamp_ms"] == 1_773_477_660_000  # 08:41Z = 16:41 in Shanghai
    assert rows[1]["text"] == "Sorry, we are checking with the rider; 正在核实。"
    assert rows[2]["timestamp_ms"] == 1_773_478_200_000  # naive 16:50 read in Asia/Shanghai
    assert rows[2]["attachments"][0]["name"] == "receipt_8842.png"
    assert rows[2]["attachments"][0]["included"] is False
    assert rows[0]["sender_name"] == "Ms. Chen 陈女士"
    assert all(r["message_id"] is None and r["platform"] == "helpdesk" for r in rows)


def test_jsonl_dotted_paths_and_epoch_strings(vault: Vault) -> None:
    """JSON lines: dotted keys, kind_map, type_map and epoch ms given as numbers or strings."""
    result = _import_ok(vault, DINGTALK_JSONL, "jsonl", DINGTALK_JSONL_MAP)
    assert result.counts.imported == 5
    counts = stored_counts(vault)
    assert (counts["conversations"], counts["participants"]) == (2, 2)
    rows = _by_id(vault)
    assert rows["msgA1"]["text"] == "08:30 监控显示 admin 账号异常登录，请信息科核实"
    assert rows["msgA1"]["timestamp_ms"] == 1_773_966_630_000
    assert rows["msgA1"]["utc_offset_min"] == 480
    assert rows["msgA2"]["timestamp_ms"] == 1_773_967_020_000  # "createAt" was a string
    assert rows["msgA3"]["type"] == "image"
    assert rows["msgB1"]["conversation_kind"] == "direct"
    assert rows["msgA4"]["sender_name"] == "赵队长"
    line = DINGTALK_JSONL.read_text("utf-8").splitlines()[3]
    assert rows["msgA4"]["raw"] == line


def _small_csv(tmp: Path, extra: bytes) -> tuple[Path, Path]:
    header = "chat,id,from,name,time,kind,type,body,target\n"
    good = "".join(
        f"c1,{i},u{i % 2},张三,2026-03-14 14:4{i}:00,group,text,第{i}条,\n" for i in range(1, 4)
    )
    path = tmp / "chat.csv"
    path.write_bytes((header + good).encode() + extra)
    mapping = tmp / "chat.toml"
    mapping.write_text(
        'platform = {const = "acme"}\nconversation_id = "chat"\nmessage_id = "id"\n'
        'sender_id = "from"\nsender_name = "name"\ntimestamp = "time"\n'
        'conversation_kind = "kind"\ntype = "type"\ntext = "body"\ntarget_id = "target"\n',
        encoding="utf-8",
    )
    return path, mapping


BAD_ROWS: dict[str, tuple[bytes, int | None, str]] = {
    "short row": ("c1,4,u1,张三,2026-03-14 14:45:00,group,text\n".encode(), 5, "7 fields"),
    "bad timestamp": (
        "c1,4,u1,张三,14:45 yesterday,group,text,x,\n".encode(),
        5,
        "does not match timestamp_format 'iso'",
    ),
    "epoch in iso column": (b"c1,4,u1,x,1773470400,group,text,x,\n", 5, "does not match"),
    "no sender": (b"c1,4,,,2026-03-14 14:45:00,group,text,x,\n", 5, "no sender_id or sender_name"),
    "unknown kind": (
        b"c1,4,u1,x,2026-03-14 14:45:00,supergroup,text,x,\n",
        5,
        "unknown conversation_kind 'supergroup'",
    ),
    "edit without target": (
        b"c1,4,u1,x,2026-03-14 14:45:00,group,edit,x,\n",
        5,
        "edit row has no target_id",
    ),
    "invalid utf-8": (b"c1,4,u1,x,2026-03-14 14:45:00,group,text,\xff\xfe,\n", 5, "invalid utf-8"),
    "broken quoting": (
        b'c1,4,u1,"x"y,2026-03-14 14:45:00,group,text,x,\n',
        5,
        "malformed CSV: ',' expected",
    ),
    "unclosed quote": (
        b'c1,4,u1,x,2026-03-14 14:45:00,group,text,"x,\n',
        5,
        "quoted field is not closed",
    ),
    "year 1900": (b"c1,4,u1,x,1900-01-01 00:00:00,group,text,x,\n", 5, "outside 1980"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_row_is_rejected_with_line_and_reason(tmp_path: Path, case: str) -> None:
    """A defective row becomes one Rejected with its line and a reason; good rows still parse."""
    extra, line, reason = BAD_ROWS[case]
    path, mapping = _small_csv(tmp_path, extra)
    items = _parse("csv", path, mapping)
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert len(rejected) == 1
    assert rejected[0].line == line
    assert reason in rejected[0].reason
    assert sum(isinstance(i, Record) for i in items) == 3


@pytest.mark.parametrize("case", ["short row", "invalid utf-8", "unknown kind", "no mapping"])
def test_bad_csv_fails_whole_file_and_commits_nothing(
    vault: Vault, tmp_path: Path, case: str
) -> None:
    """A bad row (or no mapping) fails the whole file naming file and line; nothing commits."""
    extra, line, reason = BAD_ROWS.get(case, (b"", None, "no mapping file given"))
    path, mapping = _small_csv(tmp_path, extra)
    options = None if case == "no mapping" else _opts(mapping)
    result = import_file(vault, path, "csv", options=options)
    assert isinstance(result.error, BadInputError)
    problem = result.error.problems[0]
    assert (problem.path, problem.line) == (str(path), line)
    assert reason in problem.reason
    counts = stored_counts(vault)
    assert counts["records"] == counts["sources"] == counts["blobs"] == 0


BAD_MAPPINGS: dict[str, tuple[str, str, str]] = {
    "invalid toml": ("m.toml", "platform = {const = 'x'\n", "invalid TOML"),
    "invalid json": ("m.json", '{"platform": ', "invalid JSON"),
    "not an object": ("m.json", "[1, 2]", "top level must be an object"),
    "unknown key": ("m.json", '{"sender": "from"}', "unknown key 'sender'"),
    "no timestamp": (
        "m.json",
        '{"platform": {"const": "x"}, "conversation_id": "chat", "sender_id": "from", '
        '"text": "body"}',
        "no column given for timestamp",
    ),
    "bad format": ("m.toml", 'timestamp_format = "YYYY-MM-DD"\n', "timestamp_format"),
    "pattern without year": ("m.toml", 'timestamp_format = "%m/%d %H:%M"\n', "has no year"),
    "pattern with %Z": ("m.toml", 'timestamp_format = "%Y-%m-%d %H:%M %Z"\n', "use %z"),
    "bad type target": ("m.toml", '[type_map]\n"图片" = "picture"\n', "is not one of"),
    "utf-16": ("m.toml", 'encoding = "utf-16"\n', "not ASCII-compatible"),
    "unknown encoding": ("m.toml", 'encoding = "klingon"\n', "unknown encoding"),
    "long delimiter": ("m.toml", 'delimiter = "||"\n', "delimiter must be one character"),
    "bad const": ("m.toml", "platform = {const = true}\n", "platform must be a column name"),
}


@pytest.mark.parametrize("case", sorted(BAD_MAPPINGS))
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_bad_mapping_is_one_rejection_naming_the_file(tmp_path: Path, fmt: str, case: str) -> None:
    """An unusable mapping yields exactly one Rejected(None, 'mapping file …: reason')."""
    name, text, reason = BAD_MAPPINGS[case]
    mapping = tmp_path / name
    mapping.write_text(text, encoding="utf-8")
    path, _ = _small_csv(tmp_path, b"")
    items = _parse(fmt, path, mapping)
    assert len(items) == 1 and isinstance(items[0], Rejected)
    assert items[0].line is None
    assert items[0].reason.startswith(f"mapping file {mapping}: ")
    assert reason in items[0].reason


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_missing_mapping_file_and_option(tmp_path: Path, fmt: str) -> None:
    """No --mapping, or a path that does not exist, is a clear single rejection."""
    path, _ = _small_csv(tmp_path, b"")
    (none,) = _parse(fmt, path, None)
    assert isinstance(none, Rejected) and "no mapping file given" in none.reason
    (gone,) = _parse(fmt, path, tmp_path / "nope.toml")
    assert isinstance(gone, Rejected) and "cannot read it" in gone.reason


def test_mapped_column_missing_from_header(tmp_path: Path) -> None:
    """A mapping naming a column the header lacks is rejected at line 1, listing the header."""
    path, mapping = _small_csv(tmp_path, b"")
    mapping.write_text(mapping.read_text("utf-8").replace('"from"', '"sender"'), encoding="utf-8")
    (item,) = _parse("csv", path, mapping)
    assert isinstance(item, Rejected) and item.line == 1
    assert "column 'sender' (for sender_id) is not in the header" in item.reason
    assert "chat, id, from" in item.reason


BAD_LINES: dict[str, tuple[str, str]] = {
    "malformed json": ('{"msgId": "x", ', "malformed JSON"),
    "not an object": ('["msgId"]', "not a JSON object"),
    "text is an object": (
        '{"msgId": "x", "conversationId": "c", "senderStaffId": "s", "createAt": 1773966630000,'
        ' "text": {"content": {"rich": 1}}}',
        "text ('text.content') is a JSON dict",
    ),
    "no timestamp": ('{"msgId": "x", "conversationId": "c", "senderStaffId": "s"}', "no timestamp"),
    "epoch seconds": (
        '{"msgId": "x", "conversationId": "c", "senderStaffId": "s", "createAt": 1773966630}',
        "looks like epoch seconds",
    ),
    "bool timestamp": (
        '{"msgId": "x", "conversationId": "c", "senderStaffId": "s", "createAt": true}',
        "is not epoch milliseconds",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_jsonl_line_is_rejected(tmp_path: Path, case: str) -> None:
    """A defective JSON line becomes one Rejected with its line number and reason."""
    bad, reason = BAD_LINES[case]
    path = tmp_path / "dt.jsonl"
    path.write_bytes(DINGTALK_JSONL.read_bytes() + bad.encode() + b"\n")
    items = _parse("jsonl", path, DINGTALK_JSONL_MAP)
    assert sum(isinstance(i, Record) for i in items) == 5
    (rejected,) = [i for i in items if isinstance(i, Rejected)]
    assert rejected.line == 6
    assert reason in rejected.reason


def test_empty_files_are_rejected(tmp_path: Path) -> None:
    """An empty file yields one 'file is empty' rejection, for CSV and JSON lines alike."""
    empty = tmp_path / "empty.csv"
    for fmt, mapping, data in (
        ("csv", DINGTALK_CSV_MAP, b"\r\n\r\n"),
        ("jsonl", DINGTALK_JSONL_MAP, b"\xef\xbb\xbf\n \n"),
        ("jsonl", DINGTALK_JSONL_MAP, b""),
    ):
        empty.write_bytes(data)
        (item,) = _parse(fmt, empty, mapping)
        assert isinstance(item, Rejected) and item.reason == "file is empty"


def test_utf8_bom_under_gb18030_mapping_gets_a_hint(tmp_path: Path) -> None:
    """A UTF-8 file read with encoding = gb18030 is refused with a pointer to the BOM."""
    path = tmp_path / "utf8.csv"
    path.write_bytes(b"\xef\xbb\xbf" + DINGTALK_CSV.read_bytes().decode("gb18030").encode())
    items = _parse("csv", path, DINGTALK_CSV_MAP)
    assert len(items) == 1 and isinstance(items[0], Rejected) and items[0].line == 1
    assert "byte-order mark" in items[0].reason


def test_header_only_csv_yields_nothing(tmp_path: Path) -> None:
    """A CSV with a header and no rows is an empty export, not an error."""
    path, mapping = _small_csv(tmp_path, b"")
    path.write_text(path.read_text("utf-8").splitlines()[0] + "\n", encoding="utf-8")
    assert _parse("csv", path, mapping) == []


def test_edit_and_delete_rows_become_amendments(tmp_path: Path) -> None:
    """type_map targets edit / delete give Amendments on the target; the original is untouched."""
    extra = (
        b"c1,4,u1,x,2026-03-14 14:45:00,group,edit,new text,1\n"
        b"c1,5,u1,x,2026-03-14 14:46:00,group,delete,,2\n"
    )
    path, mapping = _small_csv(tmp_path, extra)
    items = _parse("csv", path, mapping)
    amendments = [i for i in items if isinstance(i, Amendment)]
    assert [(a.action, a.message_id, a.text, a.line) for a in amendments] == [
        ("edit", "1", "new text", 5),
        ("delete", "2", "", 6),
    ]
    assert sum(isinstance(i, Record) for i in items) == 3


def test_gb18030_file_read_as_utf8_names_the_encoding(tmp_path: Path) -> None:
    """Forgetting encoding = gb18030 rejects rows with a hint instead of importing mojibake."""
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        DINGTALK_CSV_MAP.read_text("utf-8").replace('encoding = "gb18030"', ""), encoding="utf-8"
    )
    items = _parse("csv", DINGTALK_CSV, mapping)
    assert len(items) == 1 and isinstance(items[0], Rejected)
    assert items[0].line == 1 and "gb18030" in items[0].reason
    assert not any(isinstance(i, Record) for i in items)


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        ("2026-03-14T14:40:00+08:00", "iso", (1_773_470_400_000, 480)),
        ("2026-03-14 14:40:00", "iso", (1_773_470_400_000, 480)),
        ("2026-03-14T06:40:00Z", "iso", (1_773_470_400_000, 0)),
        (1_773_470_400, "epoch_s", (1_773_470_400_000, 480)),
        ("1773470400.123456", "epoch_s", (1_773_470_400_123, 480)),
        ("1773470400123", "epoch_ms", (1_773_470_400_123, 480)),
        ("2026/03/14 14:40:00", "%Y/%m/%d %H:%M:%S", (1_773_470_400_000, 480)),
        ("14.03.2026 06:40 +0000", "%d.%m.%Y %H:%M %z", (1_773_470_400_000, 0)),
        ("2026年3月14日 14:40", "auto", (1_773_470_400_000, 480)),
        ("2026-03-14 14:40:00.5+05:30", "auto", (1_773_479_400_500, 330)),
        (1773470400, "auto", (1_773_470_400_000, 480)),
    ],
)
def test_parse_time_formats(value: object, fmt: str, expected: tuple[int, int]) -> None:
    """Every timestamp_format yields the exact UTC ms and the stated or zone offset."""
    assert parse_time(value, TimeFormat.parse(fmt), SHANGHAI) == expected


@pytest.mark.parametrize(
    ("value", "fmt", "reason"),
    [
        ("1773470400000", "epoch_s", "looks like epoch milliseconds"),
        (1773470400, "epoch_ms", "looks like epoch seconds"),
        ("NaN", "epoch_ms", "is not epoch milliseconds"),
        ("03/14/2026 14:40", "auto", "not a recognised time"),
        ("2026-02-30 10:00", "auto", "day is out of range"),
        (1773470400, "iso", "is not text"),
        ("", "iso", "no timestamp"),
        ("2026-03-14", "iso", "has no time of day"),
        ("2026-03-14", "auto", "has no time of day"),
    ],
)
def test_parse_time_refuses_guesses(value: object, fmt: str, reason: str) -> None:
    """Ambiguous, impossible or unit-confused times are refused, never guessed."""
    with pytest.raises(RowError, match=reason):
        parse_time(value, TimeFormat.parse(fmt), SHANGHAI)


INSTANTS = st.datetimes(min_value=datetime(1980, 1, 2), max_value=datetime(2199, 12, 30))


@settings(max_examples=200, deadline=None)
@given(
    naive=INSTANTS,
    pattern=st.sampled_from(
        ["%Y/%m/%d %H:%M:%S", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:%S.%f", "%Y%m%d%H%M%S",
         "%Y年%m月%d日 %H时%M分%S秒", "%m/%d/%Y %I:%M:%S %p"]
    ),
)  # fmt: skip
def test_fast_patterns_read_like_strptime(naive: datetime, pattern: str) -> None:
    """A strptime pattern read through the fast regex gives exactly what strptime gives."""
    text = naive.strftime(pattern)
    expected = local_to_utc(datetime.strptime(text, pattern), SHANGHAI)
    assert parse_time(text, TimeFormat.parse(pattern), SHANGHAI) == expected


def _other_files(tmp: Path) -> list[Path]:
    canonical = write_jsonl(tmp / "canonical.jsonl", [message()])
    text = tmp / "notes.txt"
    text.write_text("巡逻记录\n08:30 B区正常\n", encoding="utf-8")
    data = tmp / "data.json"
    data.write_text(json.dumps({"hello": "世界", "n": [1, 2]}), encoding="utf-8")
    return [canonical, text, data]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_generic_formats_are_never_detected(tmp_path: Path, fmt: str) -> None:
    """The generic importers claim nothing: they run only when forced with --format."""
    files = [DINGTALK_CSV, HELPDESK_CSV, DINGTALK_JSONL, *_other_files(tmp_path)]
    importer = REGISTRY[fmt]
    assert importer.detect_order == 95
    assert not any(importer.detect(p) for p in files)
    assert not importer.detect(tmp_path)  # a folder


JUNK = st.one_of(
    st.binary(max_size=12),
    st.sampled_from([b'"', b",", b"\n", b"\r", b"{", b"}", b"\xff", b"\x00", "异常".encode()]),
)
OPS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "truncate", "insert", "shuffle"]), st.integers(0, 10**6), JUNK
    ),
    min_size=1,
    max_size=4,
)
ITEM_TYPES = (Record, Amendment, Event, Rejected)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, which=st.sampled_from(["dingtalk", "helpdesk", "jsonl"]))
def test_fuzzed_input_only_yields_items_or_rejections(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, bytes]], which: str
) -> None:
    """Mutated CSV / JSON lines never raise: every outcome is an item or a Rejected."""
    fmt, original, mapping = {
        "dingtalk": ("csv", DINGTALK_CSV, DINGTALK_CSV_MAP),
        "helpdesk": ("csv", HELPDESK_CSV, HELPDESK_MAP),
        "jsonl": ("jsonl", DINGTALK_JSONL, DINGTALK_JSONL_MAP),
    }[which]
    path = tmp_path_factory.getbasetemp() / f"fuzz{original.suffix}"
    path.write_bytes(apply_ops(original.read_bytes(), ops))
    for item in _parse(fmt, path, mapping):
        assert isinstance(item, ITEM_TYPES)
        if isinstance(item, Rejected):
            assert item.reason
        elif isinstance(item, Record):
            assert isinstance(item.type, MessageType) and item.sender_id and item.conversation_id


@pytest.mark.parametrize(
    "ops",
    [
        [("truncate", 900, b"")],  # cuts a quoted multi-line field of the GB18030 CSV
        [("flip", 333, b"\x80"), ("insert", 1200, b'"\n,,')],
    ],
)
def test_mutated_import_is_all_or_nothing(vault: Vault, tmp_path: Path, ops: Any) -> None:
    """A damaged export imports fully or fails as BadInputError with nothing committed."""
    path = tmp_path / "damaged.csv"
    path.write_bytes(apply_ops(DINGTALK_CSV.read_bytes(), ops))
    result = import_file(vault, path, "csv", options=_opts(DINGTALK_CSV_MAP))
    if result.error is None:
        assert stored_counts(vault)["sources"] == 1
    else:
        assert isinstance(result.error, BadInputError)
        counts = stored_counts(vault)
        assert counts["records"] == counts["sources"] == counts["amendments"] == 0
