"""Microsoft Graph chatMessage lists: counts, HTML text, events, amendments, rejections, fuzz."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import hypothesis
import pytest
from hypothesis import strategies as st

from chatcustody.errors import BadInputError
from chatcustody.importers import Rejected, SourceInput, teams
from chatcustody.importers import _json as streaming
from chatcustody.importers.teams import IMPORTER, html_text
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

FIXTURES = Path(__file__).parent / "fixtures" / "teams"
GROUP = FIXTURES / "group_chat_page.json"
MIXED = FIXTURES / "channel_and_direct.json"
TZ = ZoneInfo("Asia/Shanghai")


def parse(path: Path) -> list[Any]:
    return list(IMPORTER.parse(SourceInput(path, TZ)))


def test_group_chat_page(vault: Vault) -> None:
    """Every chatMessage is one record; edits and deletions are amendments, files named."""
    result = import_and_verify(vault, GROUP)
    assert result.counts.imported == 12
    assert result.counts.amendments == 2
    assert result.counts.attachments == 0  # SharePoint files and hosted images: named only
    counts = stored_counts(vault)
    assert counts["records"] == 12
    assert counts["conversations"] == 1
    assert counts["participants"] == 5  # system, Zhao, Wang, Li, DispatchBot
    assert counts["amendments"] == 2
    records = {r["message_id"]: r for r in stored_records(vault)}
    added = records["1773966540000"]
    assert (added["type"], added["sender_id"]) == ("system", "system")
    assert added["text"] == "membersAdded by 赵队长 Zhao: 王保安 Wang, Li Rider 李骑手"
    assert records["1773969800000"]["text"] == (
        "callEnded by 赵队长 Zhao: 赵队长 Zhao, 王保安 Wang, PT3M10S"
    )
    handover = records["1773966600123"]
    assert handover["text"] == "王保安 Wang 早班交接：B区监控正常 👍"
    assert handover["sender_id"] == "8ea0e38b-efb3-4757-924a-5f94061cf8c2"
    assert handover["sender_name"] == "赵队长 Zhao"
    assert (handover["timestamp_ms"], handover["utc_offset_min"]) == (1_773_966_600_123, 0)
    assert handover["conversation_kind"] == "group"
    assert '<at id=\\"0\\">' in handover["raw"]  # the HTML body is kept in raw (JSON-escaped)
    quote = records["1773966700000"]
    assert (quote["text"], quote["reply_to"]) == ("门口有可疑车辆 & 人员", "1773966600123")
    report = records["1773966900000"]
    assert (report["type"], report["text"]) == ("file", "事故报告见附件")
    assert report["attachments"][0]["name"] == "事故报告-0320.docx"
    assert report["attachments"][0]["included"] is False
    photo = records["1773967000000"]
    assert (photo["type"], photo["text"]) == ("image", "Photo of gate 3:")
    assert photo["attachments"][0]["included"] is False
    card = records["1773969123000"]
    assert (card["type"], card["sender_name"]) == ("card", "DispatchBot")
    assert card["text"].startswith("告警 Alert: Door 3 forced\nSensor D3 at 09:12")
    last = records["1773970200123"]
    assert last["text"] == "第一行 first line\nsecond line ✅"
    assert last["timestamp_ms"] == 1_773_970_200_123  # 7 fractional digits, truncated to ms


def test_amendments_at_their_own_times() -> None:
    """An edit and a deletion are amendments at lastEdited/deletedDateTime; originals stay."""
    items = parse(GROUP)
    amendments = [
        (a.message_id, a.action, a.timestamp_ms, a.text) for a in items if isinstance(a, Amendment)
    ]
    assert amendments == [
        ("1773968700000", "edit", 1_773_968_730_000, "骑手预计 15 分钟后到达"),
        ("1773968760000", "delete", 1_773_968_780_000, ""),
    ]
    assert sum(isinstance(i, Record) for i in items) == 12


def test_channel_posts_and_one_on_one_chat(vault: Vault) -> None:
    """A plain array maps channel posts and a 1:1 chat; a stated +08:00 offset is kept."""
    result = import_and_verify(vault, MIXED)
    assert result.counts.imported == 4
    counts = stored_counts(vault)
    assert (counts["conversations"], counts["participants"]) == (2, 3)
    root, reply, question, answer = stored_records(vault)
    assert root["conversation_kind"] == "channel"
    assert root["conversation_id"] == "19:4a95f7d8db4c4e7fae857bcebe0623e6@thread.tacv2"
    assert root["text"] == "夜班交接 Night handover\nB区、C区已交接，钥匙在值班室。"
    assert reply["reply_to"] == root["message_id"]
    assert question["conversation_kind"] == answer["conversation_kind"] == "direct"
    assert (answer["timestamp_ms"], answer["utc_offset_min"]) == (1_773_994_060_000, 480)
    assert answer["text"] == "在，马上来。"


def test_html_to_text() -> None:
    """HTML becomes readable text: blocks are lines, entities decoded, emoji kept, images listed."""
    text, images = html_text(
        '<div><p>巡逻&nbsp;&amp; check</p><p><img itemtype="http://schema.skype.com/Emoji" '
        'alt="😀" src="https://statics.teams.cdn.office.net/evergreen-assets/x/smile.png">'
        '</p><p>line<br>break</p><img src="media/cam3.jpg" alt="cam"><pre>  a\n  b</pre></div>'
    )
    assert text == "巡逻 & check\n😀\nline\nbreak\na\nb"
    assert images == [("media/cam3.jpg", "cam")]


_HTML_PIECES = [
    "<p>", "</p>", "<div>", "</DIV>", "<br>", "<br/>", "</br>", '<at id="0">', "</at>",
    '<attachment id="153fa47d"></attachment>', '<span style="color:red">', "</span>", "<b>",
    "&nbsp;", "&amp;", "&lt;", "&#20013;", "&bogus;", "&", "  ", "\n", "\t", "\xa0", "护卫",
    "gate 3", "😀", "<", ">", '<img src="a.png">', "<pre>", '<at id=">">', "<p class=x>",
]  # fmt: skip


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.lists(st.sampled_from(_HTML_PIECES), max_size=12).map("".join))
def test_fast_html_path_matches_the_parser(body: str) -> None:
    """The fast path for simple bodies gives exactly what html.parser gives, or declines."""
    fast = teams._simple_html_text(body)
    if fast is not None:
        parser = teams._HtmlText()
        parser.feed(body)
        parser.close()
        assert fast == parser.text()


def _variant(change: Any) -> str:
    doc = json.loads(GROUP.read_text("utf-8"))
    change(doc["value"][3])
    return json.dumps(doc, ensure_ascii=False, indent=2)


def _bad_cases() -> dict[str, tuple[bytes, int | None, str]]:
    good = GROUP.read_text("utf-8")
    fourth = good[: good.index('"id": "1773966645000"')].count("\n")  # its "{" line

    def set_(key: str, value: Any) -> Any:
        return lambda m: m.__setitem__(key, value)

    cut = good.index('"id": "1773968760000"')
    error = {"error": {"code": "Forbidden", "message": "Missing scope permissions on the request."}}
    return {
        "no created time": (
            _variant(set_("createdDateTime", None)).encode(),
            fourth,
            "createdDateTime is missing",
        ),
        "naive time": (
            _variant(set_("createdDateTime", "2026-03-20T08:30:45")).encode(),
            fourth,
            "has no UTC offset",
        ),
        "no conversation": (
            _variant(set_("chatId", None)).encode(),
            fourth,
            "neither chatId nor channelIdentity",
        ),
        "body not text": (
            _variant(set_("body", {"contentType": "text", "content": 42})).encode(),
            fourth,
            "body.content is not a string",
        ),
        "graph error": (json.dumps(error).encode(), 1, "Graph error response: Forbidden"),
        "truncated": (good[:cut].encode(), good[:cut].count("\n") + 1, "truncated"),
        "empty": (b"", None, "file is empty"),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_bad_file_is_refused_whole(vault: Vault, tmp_path: Path, case: str) -> None:
    """A defect names file, line and reason, and nothing of the file is committed."""
    data, line, reason = _bad_cases()[case]
    path = tmp_path / "messages.json"
    path.write_bytes(data)
    result = import_file(vault, path, "teams")
    assert isinstance(result.error, BadInputError), result.error
    problem = result.error.problems[0]
    assert problem.path == str(path)
    assert problem.line == line
    assert reason in problem.reason
    counts = stored_counts(vault)
    assert counts["records"] == counts["sources"] == counts["amendments"] == 0


def test_detect_claims_only_graph_messages(tmp_path: Path) -> None:
    """detect() accepts Graph message pages and arrays, and refuses other JSON and jsonl."""
    assert IMPORTER.detect(GROUP) and IMPORTER.detect(MIXED)
    canonical = write_jsonl(tmp_path / "c.jsonl", conversation(3))
    users = tmp_path / "users.json"
    users.write_text(
        '{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": []}'
    )
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"id": "1", "created": "2026-03-20T08:30:00Z", "text": "护卫"}]))
    siblings = Path(__file__).parent / "fixtures"
    others = [canonical, users, other, tmp_path / "missing.json"]
    others += sorted((siblings / "discord").glob("*.json")) + sorted(
        (siblings / "feishu").glob("*")
    )
    assert not any(IMPORTER.detect(p) for p in others)


def test_chunk_boundaries_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading in 4-byte pieces yields exactly what a whole read yields."""
    whole = parse(GROUP) + parse(MIXED)
    monkeypatch.setattr(streaming, "READ_BYTES", 4)
    assert parse(GROUP) + parse(MIXED) == whole


def test_pages_in_an_array_and_as_json_lines(tmp_path: Path) -> None:
    """An array of pages and JSON lines of pages yield the same records as one page."""
    page = json.loads(GROUP.read_text("utf-8"))
    half = len(page["value"]) // 2
    pages = [{**page, "value": page["value"][:half]}, {**page, "value": page["value"][half:]}]
    as_array = tmp_path / "pages.json"
    as_array.write_text(json.dumps(pages, ensure_ascii=False), "utf-8")
    as_lines = tmp_path / "pages.jsonl"
    as_lines.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pages), "utf-8")
    want = [(i.message_id, i.text) for i in parse(GROUP) if isinstance(i, Record)]
    for path in (as_array, as_lines):
        items = parse(path)
        assert not [i for i in items if isinstance(i, Rejected)]
        assert [(i.message_id, i.text) for i in items if isinstance(i, Record)] == want


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(data=st.data())
def test_fuzzed_pages_yield_items_or_rejections(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Mutated input never raises: parse yields only items and Rejected."""
    base = data.draw(st.sampled_from([GROUP, MIXED]))
    path = tmp_path_factory.mktemp("fuzz") / base.name
    path.write_bytes(data.draw(mutate(base.read_bytes())))
    for item in parse(path):
        assert isinstance(item, Record | Amendment | Event | Rejected)


def test_mutated_page_commits_all_or_nothing(vault: Vault, tmp_path: Path) -> None:
    """A damaged page either imports whole or fails with nothing committed."""
    data = GROUP.read_bytes()
    path = tmp_path / "damaged.json"
    edited = b'"lastEditedDateTime": "2026-03-20T01:05:30.000'
    path.write_bytes(data.replace(edited + b'Z"', edited + b'"'))
    result = import_file(vault, path, "teams")
    assert isinstance(result.error, BadInputError)
    assert stored_counts(vault)["records"] == stored_counts(vault)["sources"] == 0
