"""Feishu / Lark im/v1 message pages: counts, content decoding, amendments, rejections, fuzz."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import hypothesis
import pytest
from hypothesis import strategies as st

from chatcustody.errors import BadInputError
from chatcustody.importers import Rejected, SourceInput
from chatcustody.importers import _json as streaming
from chatcustody.importers.feishu import IMPORTER
from chatcustody.ingest import import_file
from chatcustody.model import Amendment, Event, Record
from chatcustody.vault import Vault
from tests.conftest import (
    conversation,
    import_and_verify,
    stored_counts,
    stored_records,
    write_jsonl,
)
from tests.importers._fuzz import mutate

FIXTURES = Path(__file__).parent / "fixtures" / "feishu"
PAGES = FIXTURES / "guard_group_pages.json"
P2P = FIXTURES / "customer_p2p.jsonl"
TZ = ZoneInfo("Asia/Shanghai")
BASE_MS = 1_773_966_600_000  # 2026-03-20T08:30:00+08:00, the create_time of message 02


def mid(i: int) -> str:
    return f"om_dc13264520392913993dd051dba21d{i:02d}"


def parse(path: Path) -> list[Any]:
    return list(IMPORTER.parse(SourceInput(path, TZ)))


def test_group_pages(vault: Vault) -> None:
    """Every item of every page is one record; recalls and edits add amendments."""
    result = import_and_verify(vault, PAGES)
    assert result.counts.imported == 18
    assert result.counts.amendments == 2
    assert result.counts.attachments == 0  # the API names files by key only
    counts = stored_counts(vault)
    assert counts["records"] == 18
    assert counts["conversations"] == 1
    assert counts["participants"] == 5  # system, three guards, the alert app
    assert counts["amendments"] == 2
    records = {r["message_id"]: r for r in stored_records(vault)}
    named = [a for r in records.values() for a in r["attachments"]]
    assert len(named) == 7 and not any(a["included"] for a in named)
    assert records[mid(1)]["type"] == "system"
    assert records[mid(1)]["text"] == "赵队长 invited 王保安, 李骑手 to this group."
    assert records[mid(1)]["sender_id"] == "system"
    handover = records[mid(2)]
    assert handover["text"] == "@王保安 早班交接：B区监控正常，请确认。"
    assert (handover["timestamp_ms"], handover["utc_offset_min"]) == (BASE_MS, 480)
    assert handover["sender_id"] == "ou_7d8a6e6df7621556ce0d21922b676706"
    assert handover["conversation_kind"] == "group"
    assert json.loads(handover["raw"])["body"]["content"].startswith('{"text":"@_user_1')
    assert records[mid(3)]["reply_to"] == mid(2)
    post = records[mid(4)]
    assert post["text"] == (
        "巡逻报告 Patrol report\nGate 3 @李骑手 已签到。\n详情 (https://guard.example.com/r/3)\n"
        "[image img_v2_041b28e3-5680-48c2-9af2-497ace79333g]"
    )
    assert records[mid(6)]["text"] == "事故报告 incident-0320.pdf"
    assert records[mid(6)]["attachments"][0]["mime"] == "application/pdf"
    types = {i: records[mid(i)]["type"] for i in (5, 7, 8, 9, 10, 11, 12, 17, 18)}
    assert types == {
        5: "image",
        7: "voice",
        8: "video",
        9: "sticker",
        10: "card",
        11: "card",
        12: "forward",
        17: "location",
        18: "call",
    }
    assert records[mid(10)]["text"] == "告警 Alert\nDoor 3 forced open\n时间 09:12"
    assert records[mid(13)]["reply_to"] == mid(12)  # a child of the merged forward
    assert records[mid(13)]["timestamp_ms"] == BASE_MS - 34_200_000
    assert records[mid(15)]["text"] == "This message was recalled"
    assert records[mid(16)]["text"] == "骑手预计 15 分钟到达"


def test_amendments_carry_update_time() -> None:
    """A recall is a delete and an edit an edit, both at update_time, originals kept."""
    items = parse(PAGES)
    amendments = [i for i in items if isinstance(i, Amendment)]
    assert [(a.message_id, a.action, a.timestamp_ms, a.text) for a in amendments] == [
        (mid(15), "delete", BASE_MS + 2_830_000, ""),
        (mid(16), "edit", BASE_MS + 2_960_000, "骑手预计 15 分钟到达"),
    ]
    assert sum(isinstance(i, Record) for i in items) == 18


def test_json_lines_of_items_in_another_zone(vault: Vault) -> None:
    """JSON lines of items import; zone-less epoch times take the offset of --tz."""
    result = import_and_verify(vault, P2P, tz="America/New_York")
    assert result.counts.imported == 3
    counts = stored_counts(vault)
    assert (counts["conversations"], counts["participants"]) == (1, 2)
    first, _, third = stored_records(vault)
    assert first["conversation_kind"] == "direct"
    assert first["text"] == "您好，我的外卖超时 40 分钟了 😡"
    assert (first["timestamp_ms"], first["utc_offset_min"]) == (BASE_MS + 7_200_000, -240)
    assert first["raw"] == P2P.read_text("utf-8").splitlines()[0]
    assert third["type"] == "file" and third["attachments"][0]["name"] == "订单截图.png"


def _item(**changes: Any) -> str:
    item = json.loads(P2P.read_text("utf-8").splitlines()[1])
    item.update(changes)
    return json.dumps(item, ensure_ascii=False)


def _bad_cases() -> dict[str, tuple[bytes, int | None, str]]:
    good = P2P.read_text("utf-8")
    pages = PAGES.read_text("utf-8")
    error_page = {"code": 99991663, "msg": "Invalid access token for authorization.", "data": {}}
    cut = pages.index(f'"message_id": "{mid(9)}"')
    return {
        "create_time text": (
            (good + _item(create_time="2026-03-20 10:30") + "\n").encode(),
            4,
            "create_time is not epoch milliseconds",
        ),
        "create_time seconds": (
            (good + _item(create_time="1773973800") + "\n").encode(),
            4,
            "looks like epoch seconds",
        ),
        "content not json": (
            (good + _item(body={"content": "{text: 好}"}) + "\n").encode(),
            4,
            "body.content is not valid JSON",
        ),
        "no message_id": (
            (good + _item(message_id=None, msg_type="text") + "\n").encode(),
            4,
            "no message_id",
        ),
        "error page": (
            (good + json.dumps(error_page) + "\n").encode(),
            4,
            "API error response: code 99991663",
        ),
        "malformed line": (
            (good + '{"message_id": "om_x", oops}\n' + _item(message_id="om_y") + "\n").encode(),
            4,
            "malformed JSON: expected a property name",
        ),
        "truncated pages": (pages[:cut].encode(), pages[:cut].count("\n") + 1, "truncated"),
        "empty": (b"\xef\xbb\xbf  \n", None, "file is empty"),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_bad_file_is_refused_whole(vault: Vault, tmp_path: Path, case: str) -> None:
    """A defect names file, line and reason, and nothing of the file is committed."""
    data, line, reason = _bad_cases()[case]
    path = tmp_path / "messages.jsonl"
    path.write_bytes(data)
    result = import_file(vault, path, "feishu")
    assert isinstance(result.error, BadInputError), result.error
    problem = result.error.problems[0]
    assert problem.path == str(path)
    assert problem.line == line
    assert reason in problem.reason
    counts = stored_counts(vault)
    assert counts["records"] == counts["sources"] == counts["amendments"] == 0


def test_detect_claims_only_feishu_pages(tmp_path: Path) -> None:
    """detect() accepts saved pages and items, and refuses other JSON and canonical jsonl."""
    assert IMPORTER.detect(PAGES) and IMPORTER.detect(P2P)
    canonical = write_jsonl(tmp_path / "c.jsonl", conversation(3))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"items": [{"id": 1, "text": "护卫"}], "has_more": False}))
    wecom = tmp_path / "wecom.jsonl"
    wecom.write_text('{"msgid": "1", "msgtype": "text", "msgtime": 1773966600000}\n')
    siblings = Path(__file__).parent / "fixtures"
    others = [canonical, other, wecom, tmp_path / "missing.json"]
    others += sorted((siblings / "discord").glob("*.json")) + sorted((siblings / "teams").glob("*"))
    assert not any(IMPORTER.detect(p) for p in others)


def test_broken_line_does_not_hide_later_lines(tmp_path: Path) -> None:
    """In JSON lines a broken line is one rejection; the lines after it are still read."""
    lines = P2P.read_text("utf-8").splitlines()
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join([lines[0], '{"message_id": "om_x", oops}', *lines[1:]]), "utf-8")
    items = parse(path)
    assert [type(i).__name__ for i in items] == ["Record", "Rejected", "Record", "Record"]
    assert [i.line for i in items] == [1, 2, 3, 4]


def test_chunk_boundaries_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading in 3-byte pieces yields exactly what a whole read yields."""
    whole = parse(PAGES) + parse(P2P)
    monkeypatch.setattr(streaming, "READ_BYTES", 3)
    assert parse(PAGES) + parse(P2P) == whole


def test_single_page_and_data_only_forms(tmp_path: Path) -> None:
    """One page object, or its data object alone, map like an array of pages."""
    pages = json.loads(PAGES.read_text("utf-8"))
    single = tmp_path / "page.json"
    single.write_text(json.dumps(pages[1], ensure_ascii=False), "utf-8")
    data_only = tmp_path / "data.json"
    data_only.write_text(json.dumps(pages[1]["data"], ensure_ascii=False), "utf-8")
    want = [i.message_id for i in parse(PAGES) if isinstance(i, Record)][6:]
    for path in (single, data_only):
        items = parse(path)
        assert not [i for i in items if isinstance(i, Rejected)]
        assert [i.message_id for i in items if isinstance(i, Record)] == want


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(data=st.data())
def test_fuzzed_pages_yield_items_or_rejections(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Mutated input never raises: parse yields only items and Rejected."""
    base = data.draw(st.sampled_from([PAGES, P2P]))
    path = tmp_path_factory.mktemp("fuzz") / base.name
    path.write_bytes(data.draw(mutate(base.read_bytes())))
    for item in parse(path):
        assert isinstance(item, Record | Amendment | Event | Rejected)


def test_mutated_pages_commit_all_or_nothing(vault: Vault, tmp_path: Path) -> None:
    """A damaged file either imports whole or fails with nothing committed."""
    data = PAGES.read_bytes()
    path = tmp_path / "damaged.json"
    path.write_bytes(data.replace(b'"create_time": "1773969', b'"create_time": "x773969', 1))
    result = import_file(vault, path, "feishu")
    assert isinstance(result.error, BadInputError)
    assert stored_counts(vault)["records"] == stored_counts(vault)["sources"] == 0
