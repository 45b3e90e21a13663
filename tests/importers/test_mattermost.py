"""Mattermost compliance export (CSV): zip and bare posts.csv, mapping, edits, bad input, fuzz."""

from __future__ import annotations

import importlib.util
import random
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatcustody.errors import BadInputError
from chatcustody.importers import Rejected, SourceInput
from chatcustody.importers.mattermost import IMPORTER
from chatcustody.ingest import import_file
from chatcustody.model import Amendment, Record
from chatcustody.vault import Vault
from tests.conftest import import_and_verify, stored_counts, stored_records
from tests.importers._fuzz import mutate_seeded

FIXTURE = Path(__file__).parent / "fixtures" / "mattermost" / "export"
CSV = FIXTURE / "posts.csv"
RECORDS, AMENDMENTS, CONVERSATIONS, PARTICIPANTS = 23, 4, 4, 5
INCLUDED, NAMED_ONLY = 3, 2
GUARD = "cguardduty4ks9q2m5x8z4r6t3"


def pid(tag: str) -> str:
    """Return the fixture's 26-character post id for a readable tag."""
    return (tag + "k9q2m5x8z4r6t3w7y1n0b2v4c6")[:26]


def zip_export(dest: Path, folder: Path = FIXTURE) -> Path:
    """Zip an export folder the way Mattermost does (posts.csv first, deflated)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(folder / "posts.csv", "posts.csv")
        for p in sorted(folder.rglob("*")):
            if p.is_file() and p.name != "posts.csv":
                z.write(p, p.relative_to(folder).as_posix())
    return dest


def parse(path: Path, tz: str = "Asia/Shanghai") -> list[Any]:
    """Return every item parse() yields for an export."""
    source = SourceInput(path, ZoneInfo(tz))
    try:
        return list(IMPORTER.parse(source))
    finally:
        source.close()


def by_id(items: list[Any]) -> dict[str | None, Record]:
    return {i.message_id: i for i in items if isinstance(i, Record)}


def test_zip_import_counts_and_fields(vault: Vault, tmp_path: Path) -> None:
    """The export zip imports every post once, its files acquired, with exact counts."""
    path = zip_export(tmp_path / "compliance-export-2024-03-01.zip")
    result = import_and_verify(vault, path)
    assert result.format == "mattermost"
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
    stored = {r["message_id"]: r for r in stored_records(vault)}
    handover = stored[pid("p1handover")]
    assert handover["text"] == "早班交接：B区监控正常。@li.na 请确认"
    assert (handover["timestamp_ms"], handover["utc_offset_min"]) == (1_709_254_800_123, 480)
    assert (handover["conversation_name"], handover["conversation_kind"]) == ("护卫值班", "channel")
    assert (handover["sender_id"], handover["sender_name"]) == (
        "uzhao4ks9q2m5x8z4r6t3w7y1n",
        "zhao",
    )
    assert stored[pid("p2ack")]["reply_to"] == pid("p1handover")
    photo = stored[pid("p3photo")]
    assert photo["type"] == "image"
    assert [(a["name"], a["included"]) for a in photo["attachments"]] == [
        ("north-gate.jpg", True),
        ("巡逻记录.pdf", False),
    ]
    assert photo["attachments"][0]["size"] == len("fake jpeg stub (north gate)\n")
    all_atts = [a for r in stored.values() for a in r["attachments"]]
    assert sum(a["included"] for a in all_atts) == INCLUDED
    assert sum(not a["included"] for a in all_atts) == NAMED_ONLY
    kinds = {r["conversation_id"]: r["conversation_kind"] for r in stored.values()}
    assert sorted(kinds.values()) == ["channel", "direct", "group", "group"]
    dm = stored[pid("p14dm")]
    assert dm["conversation_name"] == "ulina4ks9q2m5x8z4r6t3w7y1n__uzhao4ks9q2m5x8z4r6t3w7y1n"
    system = [r for r in stored_records(vault) if r["type"] == "system"]
    assert len(system) == 4  # previously-joined, enter, leave, system_header_change


def test_bare_csv_imports_posts_and_names_files(vault: Vault, tmp_path: Path) -> None:
    """posts.csv alone imports the same posts; its files are listed, not included."""
    path = tmp_path / "posts.csv"
    shutil.copyfile(CSV, path)
    result = import_and_verify(vault, path)
    assert result.format == "mattermost"
    assert (result.counts.imported, result.counts.amendments) == (RECORDS, AMENDMENTS)
    assert result.counts.attachments == 0
    stored = stored_records(vault)
    assert sum(len(r["attachments"]) for r in stored) == INCLUDED + NAMED_ONLY
    assert not any(a["included"] for r in stored for a in r["attachments"])


def test_parse_maps_rows_lines_and_raw() -> None:
    """Physical start lines, multi-line raw text, types and merged file rows are exact."""
    items = parse(CSV)
    recs = by_id(items)
    lines = CSV.read_text("utf-8").split("\n")
    complaint = recs[pid("p4complaint")]
    assert complaint.line == 9
    assert complaint.text == '客户投诉：\n1. 停车场收费\n2. 大堂空调，"太冷"'
    assert complaint.raw == "\n".join(lines[8:11])
    assert recs[pid("p5wrong")].line == 12
    photo = recs[pid("p3photo")]
    assert photo.raw == "\n".join(lines[5:8])  # the post row and its two file rows
    assert photo.attachments[0].path == (
        f"files/{pid('p3photo')}/f1gate4ks9q2m5x8z4r6t3w7y1-north-gate.jpg"
    )
    cctv = recs[pid("p12cctv")]
    assert (cctv.type.value, cctv.text, cctv.reply_to) == ("video", "东门监控.mp4", pid("p11alert"))
    voice = recs[pid("p13voice")]
    assert (voice.type.value, voice.attachments[0].name) == ("voice", "语音.m4a")
    orphan = recs[None]  # a file row with no post row beside it
    assert (orphan.type.value, orphan.text, orphan.line) == ("file", "rota.xlsx", 31)
    assert recs[pid("p9header")].type.value == "system"
    assert recs[pid("p8bot")].sender_name == "patrol-bot"
    assert sum(isinstance(i, Record) for i in items) == RECORDS
    assert not any(isinstance(i, Rejected) for i in items)


def test_folder_input_finds_files_like_the_zip() -> None:
    """An unzipped export folder yields the posts with the same files included."""
    recs = by_id(parse(FIXTURE))
    assert len(recs) == len(by_id(parse(CSV)))
    cctv = recs[pid("p12cctv")].attachments[0]
    assert cctv.included and cctv.path is not None and cctv.path.endswith("-东门监控.mp4")


def test_edits_and_deletions_become_amendments() -> None:
    """Edited By Post Id and the exporter's delete row become Amendments; originals stay."""
    items = parse(CSV)
    amendments = [i for i in items if isinstance(i, Amendment)]
    got = [(a.message_id, a.action, a.text) for a in amendments]
    assert got == [
        (pid("p5wrong"), "delete", ""),
        (pid("p6old"), "edit", "巡逻时间改为 22:00（已更正）"),  # new version after the old
        (pid("p7old"), "edit", "Gate 3 closed for repair until Friday"),  # new one first
        (pid("p10old"), "edit", ""),  # the replacing post is not in this export
    ]
    assert (amendments[0].timestamp_ms, amendments[0].line) == (1_709_265_660_000, 13)
    assert all(a.conversation_id == GUARD for a in amendments)
    recs = by_id(items)
    assert recs[pid("p6old")].text == "巡逻时间改为 21:00"
    assert recs[pid("p5wrong")].text == "wrong channel, sorry"


HEADER = (
    "Post Creation Time,Team Id,Team Name,Team Display Name,Channel Id,Channel Name,"
    "Channel Display Name,Channel Type,User Id,User Email,Username,Post Id,Edited By Post Id,"
    "Replied to Post Id,Post Message,Post Type,User Type,Previews Post Id\n"
)


def _row(time: str = "1709254800000", ctype: str = "O", post: str = "p1", msg: str = "好") -> str:
    return f"{time},t1,team,团队,c1,town,镇,{ctype},u1,u1@x.cn,zhang,{post},,,{msg},message,user,\n"


@pytest.mark.parametrize(
    ("ctype", "kind"),
    [("O", "channel"), ("P", "group"), ("D", "direct"), ("G", "group"), ("public", "channel")],
)
def test_channel_type_codes(tmp_path: Path, ctype: str, kind: str) -> None:
    """Channel Type letters and words map to the conversation kinds."""
    path = tmp_path / "posts.csv"
    path.write_text(HEADER + _row(ctype=ctype), encoding="utf-8")
    (rec,) = parse(path)
    assert rec.conversation_kind.value == kind


@pytest.mark.parametrize(
    ("value", "ms", "offset"),
    [
        ("1709254800123", 1_709_254_800_123, 480),
        ("2023-01-05T10:00:00.000Z", 1_672_912_800_000, 0),
        ("2023-01-05T18:00:00+08:00", 1_672_912_800_000, 480),
        ("2023-01-05 18:00:00", 1_672_912_800_000, 480),  # no offset: --tz
    ],
)
def test_creation_time_epoch_ms_or_iso(tmp_path: Path, value: str, ms: int, offset: int) -> None:
    """Post Creation Time is epoch ms or ISO 8601; zone-less times use the given zone."""
    path = tmp_path / "posts.csv"
    path.write_text("\ufeff" + HEADER + _row(time=value), encoding="utf-8")
    (rec,) = parse(path)
    assert (rec.timestamp_ms, rec.utc_offset_min) == (ms, offset)


def test_detect(tmp_path: Path) -> None:
    """detect() claims compliance posts.csv (bare, zipped, in a folder) and nothing else."""
    assert IMPORTER.detect(CSV)
    assert IMPORTER.detect(FIXTURE)
    assert IMPORTER.detect(zip_export(tmp_path / "mm.zip"))
    jsonl = tmp_path / "export.jsonl"
    jsonl.write_text(
        '{"platform":"wecom","conversation_id":"c","sender_id":"s","timestamp":1,"type":"text"}\n'
    )
    other_csv = tmp_path / "posts2.csv"
    other_csv.write_text("time,sender,text\n2024-03-01 08:00,张三,你好\n")
    other_json = tmp_path / "data.json"
    other_json.write_text('{"messages": []}')
    slack = tmp_path / "slack.zip"
    with zipfile.ZipFile(slack, "w") as z:
        z.writestr("users.json", "[]")
        z.writestr("channels.json", "[]")
    for path in (jsonl, other_csv, other_json, slack, tmp_path / "missing.csv", tmp_path):
        assert not IMPORTER.detect(path), path


BAD: dict[str, tuple[bytes, int | None, str]] = {
    "unterminated quote": (
        (HEADER + _row() + _row(post="p2", msg='"never closed')).encode(),
        3,
        "row has 15 fields",  # the open quote swallows the rest of the file
    ),
    "wrong field count": ((HEADER + _row() + "1709254800000,t1,c1\n").encode(), 3, "3 fields"),
    "bad time": ((HEADER + _row(time="yesterday")).encode(), 2, "neither epoch milliseconds"),
    "epoch seconds": ((HEADER + _row(time="1709254800")).encode(), 2, "epoch seconds"),
    "unknown channel type": ((HEADER + _row(ctype="X")).encode(), 2, "unknown Channel Type"),
    "invalid utf-8": (HEADER.encode() + _row().encode()[:-3] + b"\xff\n", 2, "invalid UTF-8"),
    "empty file": (b"", None, "file is empty"),
    "huge field": ((HEADER + _row(msg="x" * 200_000)).encode(), 2, "field larger than"),
    "not the header": (b"time,sender,text\n1,2,3\n", 1, "missing column(s)"),
    "multi-line row then bad": (
        (HEADER + _row(msg='"两行\n消息"') + _row(time="x", post="p2")).encode(),
        4,
        "neither epoch",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_names_line_and_commits_nothing(vault: Vault, tmp_path: Path, case: str) -> None:
    """A bad row rejects the file with its physical start line and reason; nothing lands."""
    data, line, reason = BAD[case]
    path = tmp_path / "posts.csv"
    path.write_bytes(data)
    result = import_file(vault, path, "mattermost")
    assert isinstance(result.error, BadInputError), result.error
    problem = result.error.problems[0]
    assert problem.path == str(path)
    assert problem.line == line
    assert reason in problem.reason
    counts = stored_counts(vault)
    assert counts["records"] == counts["sources"] == counts["blobs"] == 0


def test_zip_without_posts_csv_is_rejected(vault: Vault, tmp_path: Path) -> None:
    """A zip forced as mattermost without posts.csv fails clearly and commits nothing."""
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", "{}")
    result = import_file(vault, path, "mattermost")
    assert isinstance(result.error, BadInputError)
    assert "no posts.csv" in result.error.problems[0].reason
    assert stored_counts(vault)["sources"] == 0


# --- fuzzing ------------------------------------------------------------------------------


_JUNK_CSV: list[bytes] = [b"\x00", b"\xff\xfe", b'"', b",,,", b"\r", b"\n\n", "时".encode()]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    how=st.sampled_from(["flip", "truncate", "junk", "shuffle"]),
    zipped=st.booleans(),
)
def test_fuzz_parse_yields_items_or_rejections_only(seed: int, how: str, zipped: bool) -> None:
    """Mutated posts.csv (or a damaged zip) never makes detect/parse raise."""
    rnd = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posts.csv"
        if zipped:
            path = zip_export(Path(tmp) / "e.zip")
            path.write_bytes(mutate_seeded(path.read_bytes(), how, rnd, _JUNK_CSV))
        else:
            path.write_bytes(mutate_seeded(CSV.read_bytes(), how, rnd, _JUNK_CSV))
        IMPORTER.detect(path)
        for item in parse(path):
            assert isinstance(item, Record | Amendment | Rejected)


@pytest.mark.parametrize(("seed", "how"), [(3, "junk"), (5, "shuffle")])
def test_fuzz_ingest_succeeds_or_commits_nothing(
    vault: Vault, tmp_path: Path, seed: int, how: str
) -> None:
    """A mutated export either imports or fails with BadInputError leaving no rows."""
    path = tmp_path / "posts.csv"
    path.write_bytes(mutate_seeded(CSV.read_bytes(), how, random.Random(seed), _JUNK_CSV))
    result = import_file(vault, path, "mattermost")
    if result.error is None:
        assert stored_counts(vault)["records"] == result.counts.imported
    else:
        assert isinstance(result.error, BadInputError)
        counts = stored_counts(vault)
        assert counts["records"] == counts["sources"] == counts["amendments"] == 0


def test_bench_generator_output_parses_cleanly(tmp_path: Path) -> None:
    """bench/formats/mattermost.py writes n post rows that all parse, deterministically."""
    spec = importlib.util.spec_from_file_location(
        "bench_mattermost", Path(__file__).parents[2] / "bench" / "formats" / "mattermost.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    first = module.generate(tmp_path / "a", 2000, seed=7)
    assert first.read_bytes() == module.generate(tmp_path / "b", 2000, seed=7).read_bytes()
    items = parse(first)
    assert not any(isinstance(i, Rejected) for i in items)
    recs = [i for i in items if isinstance(i, Record)]
    assert len(recs) == 2000
    assert {"edit", "delete"} <= {i.action for i in items if isinstance(i, Amendment)}
    assert len({r.type for r in recs}) >= 5
    assert any(a.included for r in recs for a in r.attachments)
