"""Timelines: the user's delivery-delay case, gaps, filters and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from chatcustody.audit import read_audit
from chatcustody.cli import app
from chatcustody.errors import UsageError
from chatcustody.timeline import render, timeline
from chatcustody.vault import Vault
from tests.conftest import PASSPHRASE, import_and_verify
from tests.search.conftest import SAMPLE

EVENTS = (
    "时间,来源,级别,内容,操作人\n"
    "2026-03-14 14:40:00,配送监控,预警,订单8842配送超时预警,\n"
    "2026-03-14 16:41:30,客服工单系统,操作,客服A处理投诉并申请退款,客服A\n"
)
CASE = {"conversations": ["订单8842", "客户C投诉"], "events": True}


@pytest.fixture
def delivery(vault: Vault, tmp_path: Path) -> Vault:
    """The sample chats plus the order system's alert and the ticket log (events importer)."""
    import_and_verify(vault, SAMPLE)
    events = tmp_path / "order-events.csv"
    events.write_text(EVENTS, "utf-8")
    result = import_and_verify(vault, events, "events")
    assert result.counts.events == 2
    return vault


def test_delivery_delay_case(delivery: Vault) -> None:
    """The case reads in order and shows the two-hour waits of the complaint and the alert."""
    tl = timeline(delivery, "2026-03-14 14:00", "2026-03-14 17:00", **CASE)  # type: ignore[arg-type]
    lines = render(tl)
    body = "\n".join(lines)
    order = ["14:20", "14:21", "14:22", "14:35", "14:35", "14:40", "16:41", "16:41", "16:45"]
    zone = ZoneInfo("Asia/Shanghai")
    assert [e.to_json(zone)["local"][11:] for e in tl.entries] == order
    flagged = [(e.kind, e.flagged, e.delay_ms) for e in tl.flagged]
    assert flagged == [
        (
            "message",
            "complaint",
            (16 * 60 + 41) * 60_000 + 3_000 - (14 * 60 + 35) * 60_000 - 12_000,
        ),
        ("event", "alert", (16 * 60 + 41) * 60_000 + 3_000 - (14 * 60 + 40) * 60_000),
    ]
    assert "14:35  [客户C投诉] 客户C: 外卖已经超时四十分钟了！我要投诉，饭都凉了。" in body
    assert "⚠ complaint: answered 16:41 by 客服A（王敏）, after 2 h 05 min" in body
    assert "14:40  [event · 配送监控 · 预警]: 订单8842配送超时预警" in body
    assert "⚠ alert: answered 16:41 by 客服A（王敏）, after 2 h 01 min" in body
    assert "⋯ 2 h 01 min with nothing ⋯" in body
    assert "  14:35 complaint (客户C) → 16:41 客服A（王敏）, after 2 h 05 min" in lines
    # the ticket log mentions 投诉 but is filed under 操作: a log of work, not an alert
    assert [e.label for e in tl.entries if e.kind == "event"] == ["预警", "操作"]
    data = tl.to_json()
    assert [d["delay_minutes"] for d in data["delays"]] == [126, 121]
    assert data["delays"][0]["responder"] == "客服A（王敏）"
    assert [a.action for a in read_audit(delivery, "timeline.")] == ["timeline.run"]


def test_filters_gaps_and_zones(delivery: Vault) -> None:
    """--participant keeps one sender, --gap sets the silence threshold, --tz shifts minutes."""
    only = timeline(delivery, "2026-03-14", "2026-03-15", participants=["kefu_a"], audit=False)
    assert {e.who_id for e in only.entries} == {"kefu_a"}
    no_events = timeline(delivery, "2026-03-14", "2026-03-15", audit=False)
    assert all(e.kind == "message" for e in no_events.entries)
    assert len(no_events.entries) == 10  # 3 rider + 4 customer C + 3 Slack
    tight = timeline(delivery, "2026-03-14", "2026-03-15", gap_minutes=5, audit=False)
    assert sum(e.gap_before_ms is not None for e in tight.entries) == 3
    utc = timeline(
        delivery, "2026-03-14T06:00Z", "2026-03-14T09:00Z", tz="UTC", audit=False, **CASE
    )  # type: ignore[arg-type]
    assert render(utc)[2].startswith("06:20  ")
    with pytest.raises(UsageError):
        timeline(delivery, "2026-03-15", "2026-03-14", audit=False)


def test_timeline_cli_is_readable(delivery: Vault) -> None:
    """``chatcustody timeline`` prints the readable case and its JSON form."""
    env = {"CHATCUSTODY_PASSPHRASE": PASSPHRASE, "CHATCUSTODY_VAULT": str(delivery.path)}
    if delivery.settings.database_url:
        env["CHATCUSTODY_DATABASE_URL"] = delivery.settings.database_url
    args = ["timeline", "--after", "2026-03-14 14:00", "--before", "2026-03-14 17:00",
            "--in", "订单8842", "--in", "客户C投诉", "--events"]  # fmt: skip
    runner = CliRunner()
    out = runner.invoke(app, args, env=env, catch_exceptions=False).stdout
    assert "⚠ complaint: answered 16:41 by 客服A（王敏）, after 2 h 05 min" in out
    data = json.loads(runner.invoke(app, [*args, "--json"], env=env, catch_exceptions=False).stdout)
    assert [d["delay_minutes"] for d in data["delays"]] == [126, 121]


def test_confined_timelines_stay_in_scope(vault: Vault, tmp_path: Path) -> None:
    """An agent's timeline shows only this week's records of their groups; legal's all six."""
    from chatcustody.reading import timeline_records
    from tests.people import actor, build_world

    world = build_world(vault, tmp_path)
    wide = ("2026-01-01", "2026-04-01")
    agent = timeline_records(vault, actor(vault, "agent"), *wide, events=True)
    assert {e["id"] for e in agent["entries"]} == {world.records[("inside", "week")]}
    lead = timeline_records(vault, actor(vault, "team_lead"), *wide)
    assert {e["id"] for e in lead["entries"]} == {
        world.records[("inside", "week")],
        world.records[("inside", "month")],
    }
    legal = timeline_records(vault, actor(vault, "legal"), *wide)
    assert {e["id"] for e in legal["entries"]} == set(world.records.values())
    runs = [e for e in read_audit(vault, "timeline.run")]
    assert [e.details["entries"] for e in runs] == [1, 2, 6]
    assert runs[0].details["decision"]["scope"]["grant"] == "role:agent"
