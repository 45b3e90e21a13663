"""Slack workspace export: folder and zip input, field mapping, amendments, bad input, fuzz."""

from __future__ import annotations

import importlib.util
import json
import random
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatcustody.errors import BadInputError
from chatcustody.importers import Rejected, SourceInput
from chatcustody.importers._slack_export import parse_ts
from chatcustody.importers.slack import IMPORTER
from chatcustody.ingest import import_file
from chatcustody.model import Amendment, Record
from chatcustody.vault import Vault
from tests.conftest import import_and_verify, stored_counts, stored_records
from tests.importers._fuzz import mutate_seeded

FIXTURE = Path(__file__).parent / "fixtures" / "slack" / "export"
PARENT = "1709254800.123456"
RECORDS, AMENDMENTS, CONVERSATIONS, PARTICIPANTS = 26, 3, 5, 7
INCLUDED, NAMED_ONLY = 2, 3


def zip_folder(folder: Path, dest: Path, prefix: str = "") -> Path:
    """Zip an export folder (deflated, sorted), optionally under one top folder."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, prefix + p.relative_to(folder).as_posix())
    return dest


def parse(path: Path, tz: str = "Asia/Shanghai") -> list[Any]:
    """Return every item parse() yields for an export."""
    source = SourceInput(path, ZoneInfo(tz))
    try:
        return list(IMPORTER.parse(source))
    finally:
        source.close()


def records_by_id(items: list[Any]) -> dict[str, Record]:
    return {i.message_id: i for i in items if isinstance(i, Record)}


def test_folder_import_counts_and_fields(vault: Vault) -> None:
    """An unzipped export imports every message once, with exact counts and decoded fields."""
    result = import_and_verify(vault, FIXTURE)
    assert result.format == "slack"
    c = result.counts
    assert (c.imported, c.duplicates, c.amendments, c.attachments) == (
        RECORDS,
        0,
        AMENDMENTS,
        INCLUDED,
    )
    counts = stored_counts(vault)
    assert counts["records"] == RECORDS
    assert counts["conversations"] == CONVERSATIONS
    assert counts["participants"] == PARTICIPANTS
    assert counts["amendments"] == AMENDMENTS
    assert counts["sources"] == 1
    stored = {r["message_id"]: r for r in stored_records(vault)}
    parent = stored[PARENT]
    assert parent["text"] == "早班交接：B区监控正常。@李娜 请确认"
    assert (parent["sender_id"], parent["sender_name"]) == ("U01ZHAO", "老赵")
    assert (parent["timestamp_ms"], parent["utc_offset_min"]) == (1_709_254_800_123, 480)
    assert (parent["conversation_id"], parent["conversation_kind"]) == ("C01GUARD", "channel")
    assert json.loads(parent["raw"])["reactions"][0]["name"] == "white_check_mark"
    assert stored["1709254900.000200"]["reply_to"] == PARENT
    image = stored["1709258400.000500"]
    assert image["type"] == "image"
    (att,) = image["attachments"]
    assert (att["name"], att["included"], att["path"]) == (
        "north-gate.jpg",
        True,
        "__uploads/F01GATE/north-gate.jpg",
    )
    assert att["sha256"] is not None and att["size"] == len("fake jpeg stub\n")
    pdf = stored["1709260200.000600"]["attachments"][0]
    assert (pdf["name"], pdf["included"], pdf["sha256"]) == ("排班表.pdf", False, None)
    all_atts = [a for r in stored.values() for a in r["attachments"]]
    assert sum(a["included"] for a in all_atts) == INCLUDED
    assert sum(not a["included"] for a in all_atts) == NAMED_ONLY
    dm = stored["1709427660.000200"]
    assert (dm["conversation_id"], dm["conversation_kind"], dm["conversation_name"]) == (
        "D01ZHAOLI",
        "direct",
        "老赵, 李娜",
    )
    assert stored["1709424000.000100"]["conversation_kind"] == "group"  # an mpim
    assert stored["1709352000.000100"]["conversation_kind"] == "group"  # a private channel


def test_zip_with_top_folder_imports_the_same(vault: Vault, tmp_path: Path) -> None:
    """A zipped export (even under one top folder) yields what the folder yields."""
    path = zip_folder(FIXTURE, tmp_path / "slack export.zip", prefix="Custody Slack export/")
    result = import_and_verify(vault, path)
    assert result.format == "slack"
    c = result.counts
    assert (c.imported, c.amendments, c.attachments) == (RECORDS, AMENDMENTS, INCLUDED)
    counts = stored_counts(vault)
    assert (counts["conversations"], counts["participants"]) == (CONVERSATIONS, PARTICIPANTS)
    video = {r["message_id"]: r for r in stored_records(vault)}["1709269380.000400"]
    (att,) = video["attachments"]
    assert att["path"] == "Custody Slack export/customer-service/attachments/F05CCTV-监控片段.mp4"
    assert att["included"] and att["size"] == len("fake mp4 stub (cctv)\n")


def test_parse_maps_types_text_and_senders() -> None:
    """Subtypes, mentions, escapes, links, bots and files map to the documented fields."""
    recs = records_by_id(parse(FIXTURE))
    assert len(recs) == RECORDS
    expect = {
        "1709251200.000100": ("system", "@老赵 has joined the channel"),
        "1709251260.000200": ("system", "@老赵 set the channel topic: 夜班交接 & 巡逻"),
        "1709255000.000300": ("text", "Confirmed, gate 3 locked & checked <ok>"),
        "1709256600.000400": ("text", "巡逻打卡：A区 08:10 正常"),
        "1709260200.000600": ("file", "排班表.pdf"),
        "1709261100.000650": ("text", "is on patrol :police_car: 🚓"),
        "1709262000.000700": (
            "text",
            "请看工单 工单42 (https://example.com/ticket/42)，客户投诉已登记",
        ),
        "1709337660.000200": ("system", "@王伟(客服) has left the channel"),
        "1709341200.000300": ("text", "@here 今晚 #customer-service 需要支援，全角ＡＢＣ１２３"),
        "1709344800.000400": ("call", "Huddle"),
        "1709348400.000500": ("file", "F03GONE"),
        "1709269320.000300": ("voice", "语音留言.m4a"),
        "1709269380.000400": ("video", "大堂监控"),
        "1709269440.000500": ("link", "Service status: all green"),
        "1709352060.000200": ("system", "@老赵 pinned a message to this channel."),
        "1709352120.000300": ("other", "something new"),
    }
    for ts, (mtype, text) in expect.items():
        assert (recs[ts].type.value, recs[ts].text) == (mtype, text), ts
    bot = recs["1709256600.000400"]
    assert (bot.sender_id, bot.sender_name) == ("B01PATROL", "巡逻机器人")
    outsider = recs["1709352000.000100"]  # not in users.json: named from user_profile
    assert (outsider.sender_id, outsider.sender_name) == ("U05EXT", "外包保安")
    thread = recs["1709255000.000300"]  # a thread_broadcast is still a reply
    assert thread.reply_to == PARENT
    assert recs[PARENT].reply_to is None
    assert recs["1709427660.000200"].reply_to == "1709427600.000100"


def test_raw_is_the_exact_source_text() -> None:
    """Each record's raw is its array element byte for byte, escapes included."""
    items = parse(FIXTURE)
    recs = records_by_id(items)
    day2 = (FIXTURE / "guard-duty" / "2024-03-02.json").read_text("utf-8")
    here = recs["1709341200.000300"]
    assert here.raw in day2 and "\\u4eca\\u665a" in here.raw  # PHP-style \u escapes kept
    assert json.loads(here.raw)["ts"] == "1709341200.000300"
    for r in recs.values():
        assert json.loads(r.raw)["ts"] == r.message_id
    assert all(i.line is None for i in items)


def test_edits_and_deletions_are_amendments_after_their_conversation_starts() -> None:
    """message_changed/deleted become Amendments, never before a record of their chat."""
    items = parse(FIXTURE)
    amendments = [i for i in items if isinstance(i, Amendment)]
    assert [(a.conversation_id, a.action, a.message_id) for a in amendments] == [
        ("C02CS", "edit", "1709100000.000100"),
        ("C01GUARD", "edit", PARENT),
        ("C01GUARD", "delete", "1709262000.000700"),
    ]
    edit = amendments[1]
    assert edit.text == "早班交接：B区监控正常，C区摄像头离线。@李娜 请确认"
    assert (edit.timestamp_ms, edit.utc_offset_min, edit.actor_id) == (
        1_709_255_100_000,
        480,
        "U01ZHAO",
    )
    assert (amendments[2].text, amendments[2].timestamp_ms) == ("", 1_709_337_600_000)
    seen: set[str] = set()
    for item in items:
        if isinstance(item, Record):
            seen.add(item.conversation_id)
        elif isinstance(item, Amendment):
            assert item.conversation_id in seen
    # The original stays as acquired: the edited parent keeps its first text.
    assert records_by_id(items)[PARENT].text == "早班交接：B区监控正常。@李娜 请确认"


@pytest.mark.parametrize(
    ("ts", "ms"),
    [
        ("1543715389.000200", 1_543_715_389_000),
        ("1709254800.123456", 1_709_254_800_123),
        ("1709254800.999999", 1_709_254_800_999),
        ("1709254800", 1_709_254_800_000),
        ("1709254800.5", 1_709_254_800_500),
    ],
)
def test_ts_is_exact_integer_milliseconds(ts: str, ms: int) -> None:
    """A ts converts to ms by integer arithmetic: no float rounding up of .999999."""
    assert parse_ts(ts) == ms


def test_folders_missing_from_metadata_keep_their_name(tmp_path: Path) -> None:
    """A day folder no metadata file lists is still imported, keyed by its folder name."""
    root = _minimal_export(tmp_path / "export")
    msg = [{"type": "message", "user": "U1", "text": "hi", "ts": "1709251200.000100"}]
    for folder in ("mpdm-zhao--li-1", "DABCDEF123", "old-channel"):
        (root / folder).mkdir()
        (root / folder / "2024-03-01.json").write_text(json.dumps(msg))
    kinds = {
        r.conversation_id: (r.conversation_name, r.conversation_kind.value)
        for r in parse(root)
        if isinstance(r, Record)
    }
    assert kinds == {
        "C1": ("general", "channel"),
        "mpdm-zhao--li-1": ("mpdm-zhao--li-1", "group"),
        "DABCDEF123": ("DABCDEF123", "direct"),
        "old-channel": ("old-channel", "channel"),
    }


def test_detect(tmp_path: Path) -> None:
    """detect() claims Slack folders and zips and nothing else."""
    assert IMPORTER.detect(FIXTURE)
    assert IMPORTER.detect(zip_folder(FIXTURE, tmp_path / "a.zip"))
    assert IMPORTER.detect(zip_folder(FIXTURE, tmp_path / "b.zip", prefix="top/"))
    jsonl = tmp_path / "export.jsonl"
    jsonl.write_text(
        '{"platform":"wecom","conversation_id":"c","sender_id":"s","timestamp":1,"type":"text"}\n'
    )
    other_json = tmp_path / "users.json"
    other_json.write_text('[{"id": "U1", "name": "x"}]')
    text = tmp_path / "notes.txt"
    text.write_text("2024-03-01 08:00 张三: 你好\n")
    mm = tmp_path / "mm.zip"
    with zipfile.ZipFile(mm, "w") as z:
        z.writestr("posts.csv", "Post Creation Time,Channel Id,Post Id,Post Type\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    only_users = tmp_path / "only_users"
    only_users.mkdir()
    (only_users / "users.json").write_text("[]")
    for path in (jsonl, other_json, text, mm, empty, only_users, tmp_path / "missing"):
        assert not IMPORTER.detect(path), path


def _minimal_export(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "users.json").write_text(
        json.dumps([{"id": "U1", "name": "zhao", "profile": {"display_name": "老赵"}}])
    )
    (root / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}]))
    day = root / "general"
    day.mkdir()
    msgs = [
        {"type": "message", "user": "U1", "text": f"第{i}条 ✅", "ts": f"170925120{i}.000100"}
        for i in range(3)
    ]
    (day / "2024-03-01.json").write_text(json.dumps(msgs, ensure_ascii=False, indent=4))
    return root


DAY = "general/2024-03-01.json"


def _append(root: Path, element: str) -> None:
    day = root / DAY
    text = day.read_text("utf-8").rstrip()
    day.write_text(text[:-1].rstrip() + ",\n    " + element + "\n]\n", encoding="utf-8")


BAD: dict[str, tuple[Callable[[Path], Any], str, str]] = {
    "malformed day file": (
        lambda r: (r / DAY).write_text('[\n    {"type": "message", "ts": "1.0"},\n    {"ts": ]\n'),
        DAY,
        "line 3: malformed JSON",
    ),
    "missing ts": (lambda r: _append(r, '{"type": "message", "text": "无ts"}'), DAY, "no ts"),
    "bad ts": (
        lambda r: _append(r, '{"type": "message", "ts": "yesterday"}'),
        DAY + ":20",
        "not a Slack timestamp",
    ),
    "not an object": (lambda r: _append(r, '"hello"'), DAY + ":20", "JSON object"),
    "edit without target": (
        lambda r: _append(r, '{"subtype": "message_changed", "ts": "1709251300.000100"}'),
        DAY + ":20",
        "message_changed has no message.ts",
    ),
    "invalid utf-8": (
        lambda r: (r / DAY).write_bytes(b'[{"ts": "1.0", "text": "\xff\xfe"}]'),
        DAY,
        "invalid UTF-8",
    ),
    "empty day file": (lambda r: (r / DAY).write_bytes(b""), DAY, "is empty"),
    "broken metadata": (
        lambda r: (r / "channels.json").write_text('[{"id": "C1",'),
        "channels.json",
        "malformed JSON",
    ),
    "no day files": (lambda r: (r / DAY).unlink(), "", "no day files"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_names_file_and_record_and_commits_nothing(
    vault: Vault, tmp_path: Path, case: str
) -> None:
    """A defect rejects the whole export with the day file, line and reason; nothing lands."""
    damage, record, reason = BAD[case]
    root = _minimal_export(tmp_path / "export")
    damage(root)
    result = import_file(vault, root, "slack")
    assert isinstance(result.error, BadInputError), result.error
    problem = result.error.problems[0]
    assert problem.path == str(root)
    assert problem.line is None
    assert (problem.record or "").startswith(record)
    assert reason in problem.reason
    counts = stored_counts(vault)
    assert counts["records"] == counts["sources"] == counts["blobs"] == 0


def test_forced_format_on_a_plain_file_is_rejected(vault: Vault, tmp_path: Path) -> None:
    """--format slack on a single non-zip file fails clearly and commits nothing."""
    path = tmp_path / "chat.txt"
    path.write_text("not a slack export\n")
    result = import_file(vault, path, "slack")
    assert isinstance(result.error, BadInputError)
    assert "expected a zip file or a folder" in result.error.problems[0].reason
    assert stored_counts(vault)["sources"] == 0


# --- fuzzing ------------------------------------------------------------------------------

_MUTABLE = ("guard-duty/2024-03-01.json", "guard-duty/2024-03-02.json", "users.json", "dms.json")


_JUNK_JSON: list[bytes] = [b"\x00", b"\xff\xfe", b'{"ts":', b"]", b",,", b'"\\u12', "时".encode()]


def _mutated_zip(dest: Path, seed: int, member: str, how: str) -> Path:
    """Zip the fixture with one member mutated, or mutate the zip's own bytes ("zip-*")."""
    rnd = random.Random(seed)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(FIXTURE.rglob("*")):
            if p.is_file():
                rel = p.relative_to(FIXTURE).as_posix()
                data = p.read_bytes()
                mutate = rel == member and not how.startswith("zip-")
                z.writestr(rel, mutate_seeded(data, how, rnd, _JUNK_JSON) if mutate else data)
    if how.startswith("zip-"):
        dest.write_bytes(mutate_seeded(dest.read_bytes(), how[4:], rnd, _JUNK_JSON))
    return dest


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    member=st.sampled_from(_MUTABLE),
    how=st.sampled_from(["flip", "truncate", "junk", "shuffle", "zip-flip", "zip-truncate"]),
)
def test_fuzz_parse_yields_items_or_rejections_only(seed: int, member: str, how: str) -> None:
    """Mutated exports (or damaged zips) never make detect/parse raise: items or Rejected."""
    with tempfile.TemporaryDirectory() as tmp:
        path = _mutated_zip(Path(tmp) / "fuzz.zip", seed, member, how)
        IMPORTER.detect(path)
        for item in parse(path):
            assert isinstance(item, Record | Amendment | Rejected)


@pytest.mark.parametrize(("seed", "how"), [(7, "junk"), (11, "shuffle")])
def test_fuzz_ingest_succeeds_or_commits_nothing(
    vault: Vault, tmp_path: Path, seed: int, how: str
) -> None:
    """A mutated export either imports or fails with BadInputError leaving no rows."""
    path = _mutated_zip(tmp_path / "fuzz.zip", seed, "guard-duty/2024-03-01.json", how)
    result = import_file(vault, path, "slack")
    if result.error is None:
        assert stored_counts(vault)["records"] == result.counts.imported
    else:
        assert isinstance(result.error, BadInputError)
        counts = stored_counts(vault)
        assert counts["records"] == counts["sources"] == counts["amendments"] == 0


def test_bench_generator_output_parses_cleanly(tmp_path: Path) -> None:
    """bench/formats/slack.py writes n message objects that all parse, deterministically."""
    spec = importlib.util.spec_from_file_location(
        "bench_slack", Path(__file__).parents[2] / "bench" / "formats" / "slack.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    first = module.generate(tmp_path / "a", 2000, seed=7)
    second = module.generate(tmp_path / "b", 2000, seed=7)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    items = parse(first)
    assert len(items) == 2000
    assert not any(isinstance(i, Rejected) for i in items)
    assert {"edit", "delete"} <= {i.action for i in items if isinstance(i, Amendment)}
    recs = [i for i in items if isinstance(i, Record)]
    assert len({r.type for r in recs}) >= 6
    assert any(a.included for r in recs for a in r.attachments)
