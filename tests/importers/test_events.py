"""The ``events`` importer: system alerts and operation logs become timeline events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from chatcustody.errors import BadInputError
from chatcustody.importers import REGISTRY, Rejected, SourceInput
from chatcustody.ingest import import_file
from chatcustody.model import Event
from chatcustody.rows import open_row
from chatcustody.store import schema as t
from chatcustody.vault import Vault
from chatcustody.verify import verify_vault
from tests.conftest import import_and_verify, message, stored_counts, write_jsonl
from tests.importers._fuzz import apply_ops

FIXTURES = Path(__file__).parent / "fixtures" / "events"
GENERIC = Path(__file__).parent / "fixtures" / "generic"
SHANGHAI = ZoneInfo("Asia/Shanghai")
ORDER_ALERTS = FIXTURES / "order_alerts.csv"  # (a) GB18030, no actor column
SERVICE_OPS = FIXTURES / "service_ops.jsonl"  # (a) operator log, JSON lines
ADMIN_OPS = FIXTURES / "admin_ops.csv"  # (b) three abnormal admin logins
GATE_LOG = FIXTURES / "gate_log.csv"
GATE_MAP = FIXTURES / "gate_log.toml"
IMPORTER = REGISTRY["events"]


def stored_events(vault: Vault) -> list[dict[str, Any]]:
    """Return the decrypted fields of every stored event, in time order."""
    cipher = vault.service_cipher("events")
    with vault.engine.connect() as conn:
        rows = conn.execute(select(t.events).order_by(t.events.c.ts_ms, t.events.c.id))
        return [open_row("events", row, cipher).fields for row in rows.mappings()]


def _parse(path: Path, mapping: Path | None = None) -> list[Any]:
    source = SourceInput(path, SHANGHAI, {"mapping": str(mapping)} if mapping else None)
    return list(IMPORTER.parse(source))


def test_delivery_delay_timeline(vault: Vault) -> None:
    """Case (a): the 14:40 delay alert and the 16:41 complaint handling land on the timeline."""
    alerts = import_and_verify(vault, ORDER_ALERTS)  # detected, GB18030 guessed
    ops = import_and_verify(vault, SERVICE_OPS)
    assert (alerts.format, ops.format) == ("events", "events")
    assert (alerts.counts.events, ops.counts.events) == (5, 4)
    counts = stored_counts(vault)
    assert counts["events"] == 9
    assert counts["records"] == counts["conversations"] == counts["participants"] == 0
    events = stored_events(vault)
    (alert,) = [e for e in events if e["text"] == "订单8842配送超时预警"]
    assert alert["timestamp_ms"] == 1_773_470_400_000  # 2026-03-14 14:40 +08:00
    assert alert["utc_offset_min"] == 480
    assert (alert["source"], alert["actor"], alert["category"]) == ("配送监控", "", "预警")
    assert alert["raw"] == "2026-03-14 14:40:00,配送监控,预警,订单8842配送超时预警"
    (handled,) = [e for e in events if e["text"] == "客服A处理投诉"]
    assert handled["timestamp_ms"] == 1_773_477_660_000  # 2026-03-14 16:41 +08:00
    assert (handled["source"], handled["actor"], handled["category"]) == (
        "客服工单系统",
        "客服A",
        "操作",
    )
    assert handled["raw"] == SERVICE_OPS.read_text("utf-8").splitlines()[2]
    assert handled["timestamp_ms"] - alert["timestamp_ms"] == (2 * 60 + 1) * 60_000
    assert [e["text"] for e in events][2] == "订单8842配送超时预警"  # ordered in time
    quoted = [e for e in events if e["text"].startswith("订单8842配送超时40分钟")]
    assert quoted[0]["text"] == "订单8842配送超时40分钟,已升级至站长"


def test_three_abnormal_logins_in_the_window(vault: Vault) -> None:
    """Case (b): exactly three 异常登录 events between 08:30 and 09:15 on 2026-03-20."""
    result = import_and_verify(vault, ADMIN_OPS)
    assert result.counts.events == 6
    assert stored_counts(vault)["records"] == 0
    start, end = 1_773_966_600_000, 1_773_969_300_000  # 08:30 and 09:15 +08:00
    window = [e for e in stored_events(vault) if start <= e["timestamp_ms"] <= end]
    logins = [e for e in window if "异常登录" in e["text"]]
    assert len(logins) == 3 and len(window) == 3
    assert [e["actor"] for e in logins] == ["admin"] * 3
    assert [e["source"] for e in logins] == ["OA", "OA", "VPN"]
    assert {e["category"] for e in logins} == {"warning"}
    assert logins[2]["text"] == "异常登录：admin 异地登录\n(previous login Shanghai, now Frankfurt)"
    assert logins[2]["raw"] == "\n".join(ADMIN_OPS.read_text("utf-8").splitlines()[4:6])


def test_mapping_names_columns_format_and_constants(vault: Vault) -> None:
    """A mapping file supplies odd column names, a day.month.year format and a category."""
    options = {"mapping": str(GATE_MAP)}
    result = import_file(vault, GATE_LOG, "events", options=options)
    assert result.error is None, result.error
    assert verify_vault(vault).ok
    assert import_file(vault, GATE_LOG, "events", options=options).already_imported
    events = stored_events(vault)
    assert len(events) == 3
    assert events[1] == {
        "source": "机房门禁",
        "actor": "admin",
        "category": "access",
        "text": "门禁卡刷卡失败 (card 0042)",
        "timestamp_ms": 1_773_966_540_000,  # 20.03.2026 08:29 +08:00
        "utc_offset_min": 480,
        "raw": "20.03.2026 08:29;机房门禁;admin;门禁卡刷卡失败 (card 0042)",
    }


def test_each_row_is_one_event_with_its_line() -> None:
    """Every data row / line yields exactly one Event carrying its 1-based start line."""
    assert [e.line for e in _parse(ORDER_ALERTS)] == [2, 3, 4, 5, 6]
    assert [e.line for e in _parse(SERVICE_OPS)] == [1, 2, 3, 4]
    assert [e.line for e in _parse(ADMIN_OPS)] == [2, 3, 4, 5, 7, 8]
    assert all(isinstance(e, Event) for e in _parse(GATE_LOG, GATE_MAP))


def test_epoch_and_offset_times(tmp_path: Path) -> None:
    """Epoch seconds / ms and explicit offsets keep the instant; naive ones take the zone."""
    lines = [
        {"ts": 1773470400, "source": "s", "msg": "epoch s"},
        {"ts": "1773470400123", "source": "s", "msg": "epoch ms"},
        {"ts": "2026-03-14T06:40:00Z", "source": "s", "msg": "utc"},
        {"ts": "2026/3/14 14:40", "source": "s", "msg": "slashes, no seconds"},
    ]
    path = _bad(tmp_path, "epoch.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    got = [(e.timestamp_ms, e.utc_offset_min) for e in _parse(path)]
    assert got == [
        (1_773_470_400_000, 480),
        (1_773_470_400_123, 480),
        (1_773_470_400_000, 0),
        (1_773_470_400_000, 480),
    ]


def _other_files(tmp: Path) -> list[Path]:
    chat_csv = tmp / "chat.csv"
    chat_csv.write_text("time,sender,message\n2026-03-14 14:40,张三,你好\n", encoding="utf-8")
    wechat = tmp / "wechat.csv"
    wechat.write_text(
        "\ufefflocalId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime\n",
        encoding="utf-8",
    )
    posts = tmp / "posts.csv"
    posts.write_text(
        "Post Creation Time,Team Id,Channel Id,User Id,Post Id,Post Message,Post Type\n",
        encoding="utf-8",
    )
    chat_jsonl = tmp / "chat.jsonl"
    chat_jsonl.write_text(
        '{"time": "2026-03-14 14:40", "conversation_id": "c", "message": "hi"}\n', encoding="utf-8"
    )
    wecom = tmp / "wecom.jsonl"
    wecom.write_text(
        '{"msgid": "1", "action": "send", "from": "a", "msgtime": 1773470400000, '
        '"msgtype": "text", "text": {"content": "hi"}}\n',
        encoding="utf-8",
    )
    notes = tmp / "notes.txt"
    notes.write_text("巡逻记录\n08:30 B区正常\n", encoding="utf-8")
    data = tmp / "data.json"
    data.write_text(json.dumps({"time": "x", "list": [1]}, indent=2), encoding="utf-8")
    canonical = write_jsonl(tmp / "canonical.jsonl", [message()])
    return [chat_csv, wechat, posts, chat_jsonl, wecom, notes, data, canonical, tmp]


def test_detect_claims_event_logs_only(tmp_path: Path) -> None:
    """detect() is true on event logs and false on chats, canonical jsonl and random files."""
    assert IMPORTER.detect_order == 80
    assert all(IMPORTER.detect(p) for p in (ORDER_ALERTS, SERVICE_OPS, ADMIN_OPS))
    others = [*_other_files(tmp_path), *sorted(GENERIC.glob("*.*"))]
    assert [p.name for p in others if IMPORTER.detect(p)] == []


def _bad(tmp: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp / name
    path.write_bytes(text.encode(encoding))
    return path


HEADER = "时间,来源,操作人,事件,级别\n"
GOOD = "2026-03-20 08:31:40,OA,admin,异常登录,warning\n"
BAD_CASES: dict[str, tuple[str, str, int | None, str]] = {
    "no time column": ("a.csv", "来源,事件\nOA,登录\n", 1, "header has no time column"),
    "no source column": ("a.csv", "时间,事件\n2026-03-20 08:00,登录\n", 1, "no source column"),
    "bad time": ("a.csv", HEADER + GOOD + "昨天上午,OA,admin,登录,info\n", 3, "not a recognised"),
    "ambiguous date": ("a.csv", HEADER + GOOD + "03/20/2026 08:40,OA,a,x,info\n", 3, "not a rec"),
    "no text": ("a.csv", HEADER + GOOD + "2026-03-20 08:40,OA,admin, ,info\n", 3, "no event text"),
    "no source": ("a.csv", HEADER + GOOD + "2026-03-20 08:40,,admin,x,info\n", 3, "no source"),
    "long category": ("a.csv", HEADER + GOOD + f"2026-03-20 08:40,OA,a,x,{'级' * 40}\n", 3, "32"),
    "short row": ("a.csv", HEADER + GOOD + "2026-03-20 08:40,OA\n", 3, "row has 2 fields"),
    "malformed json": (
        "a.jsonl",
        '{"time": "2026-03-20 08:30", "source": "OA", "event": "x"}\n{"time": \n',
        2,
        "malformed JSON",
    ),
    "json not object": (
        "a.jsonl",
        '{"time": "2026-03-20 08:30", "source": "OA", "event": "x"}\n"just text"\n',
        2,
        "not a JSON object",
    ),
    "json no time": (
        "a.jsonl",
        '{"time": "2026-03-20 08:30", "source": "OA", "event": "x"}\n{"event": "y"}\n',
        2,
        "no timestamp",
    ),
    "empty file": ("a.csv", "\n\n", None, "file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_rows_are_rejected_with_line_and_reason(tmp_path: Path, case: str) -> None:
    """A defective row becomes one Rejected with its line and a reason a user understands."""
    name, text, line, reason = BAD_CASES[case]
    items = _parse(_bad(tmp_path, name, text))
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert len(rejected) == 1
    assert rejected[0].line == line
    assert reason in rejected[0].reason


@pytest.mark.parametrize("case", ["bad time", "malformed json", "no time column"])
def test_bad_log_commits_nothing(vault: Vault, tmp_path: Path, case: str) -> None:
    """A bad event log fails as BadInputError naming file and line; nothing is committed."""
    name, text, line, reason = BAD_CASES[case]
    path = _bad(tmp_path, name, text)
    result = import_file(vault, path, "events")
    assert isinstance(result.error, BadInputError)
    problem = result.error.problems[0]
    assert (problem.path, problem.line) == (str(path), line)
    assert reason in problem.reason
    counts = stored_counts(vault)
    assert counts["events"] == counts["sources"] == counts["blobs"] == 0


def test_bad_mapping_is_one_rejection(tmp_path: Path) -> None:
    """An unusable events mapping yields one Rejected naming the mapping file."""
    mapping = _bad(tmp_path, "m.toml", 'timestamp = "log_at"\ncolour = "red"\n')
    (item,) = _parse(GATE_LOG, mapping)
    assert isinstance(item, Rejected) and item.line is None
    assert item.reason.startswith(f"mapping file {mapping}: unknown key 'colour'")


def test_gb18030_is_guessed_and_utf8_errors_are_named(tmp_path: Path) -> None:
    """GB18030 logs are read without a mapping; a bad byte in a UTF-8 log names its line."""
    gbk = _bad(tmp_path, "gbk.csv", HEADER + GOOD, "gb18030")
    (event,) = _parse(gbk)
    assert isinstance(event, Event) and event.text == "异常登录" and event.source == "OA"
    broken = tmp_path / "broken.csv"
    broken.write_bytes((HEADER + GOOD).encode() + b"2026-03-20 08:40,OA,a,\xff,info\n")
    items = _parse(broken)
    assert isinstance(items[-1], Rejected) and items[-1].line == 3
    assert "invalid utf-8" in items[-1].reason


OPS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "truncate", "insert", "shuffle"]),
        st.integers(0, 10**6),
        st.one_of(
            st.binary(max_size=12),
            st.sampled_from([b'"', b",", b"\n", b"{", b"\xff", b"\x00", "异常".encode()]),
        ),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, original=st.sampled_from([ORDER_ALERTS, SERVICE_OPS, ADMIN_OPS, GATE_LOG]))
def test_fuzzed_logs_only_yield_events_or_rejections(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, bytes]], original: Path
) -> None:
    """Mutated event logs never raise: every outcome is an Event or a Rejected."""
    path = tmp_path_factory.getbasetemp() / f"fuzz-events{original.suffix}"
    path.write_bytes(apply_ops(original.read_bytes(), ops))
    mapping = GATE_MAP if original == GATE_LOG else None
    for item in _parse(path, mapping):
        assert isinstance(item, Event | Rejected)
        if isinstance(item, Event):
            assert item.text.strip() and item.source and len(item.category) <= 32


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, original=st.sampled_from([ORDER_ALERTS, SERVICE_OPS, ADMIN_OPS]))
def test_detect_never_raises(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, bytes]], original: Path
) -> None:
    """detect() answers True or False for any bytes, never an exception."""
    path = tmp_path_factory.getbasetemp() / f"detect{original.suffix}"
    path.write_bytes(apply_ops(original.read_bytes(), ops))
    for name in ("events", "csv", "jsonl"):
        assert REGISTRY[name].detect(path) in (True, False)


@pytest.mark.parametrize(
    "ops", [[("truncate", 300, b"")], [("insert", 120, b'"'), ("flip", 40, b"\x80")]]
)
def test_mutated_log_import_is_all_or_nothing(vault: Vault, tmp_path: Path, ops: Any) -> None:
    """A damaged log imports fully or fails as BadInputError with nothing committed."""
    path = tmp_path / "damaged.csv"
    path.write_bytes(apply_ops(ADMIN_OPS.read_bytes(), ops))
    result = import_file(vault, path, "events")
    if result.error is None:
        assert stored_counts(vault)["events"] == result.counts.events
    else:
        assert isinstance(result.error, BadInputError)
        counts = stored_counts(vault)
        assert counts["events"] == counts["sources"] == 0
