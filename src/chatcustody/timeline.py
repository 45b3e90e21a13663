"""Timelines: messages of several conversations and imported events, in time order.

A timeline covers a window [after, before). It merges the messages of the chosen
conversations (all by default, optionally only those sent by chosen participants) with the
imported events (system alerts, operation logs) when asked, sorts them by time, marks
silences longer than a threshold, and measures how long each complaint or alert waited for
a response.

Definitions (also in docs/search.md, "Timelines"):

- **complaint / alert** — a message whose text contains 投诉 or "complaint"; an event whose
  category is alert, warning, error, critical, 预警, 告警, 警告, 报警 or 错误, or which has
  no category of its own (``event``) and whose text contains 投诉, complaint, 预警, 告警 or
  alert (an event filed under another category, e.g. 操作, is a log of work, not an alert).
  Matching uses search normalisation, so traditional (投訴) and full-width forms count too.
- **response** — for a complaint message, the next message in the same conversation by
  another participant; for an alert event, the next message (in any conversation shown) or
  event from another source. An entry that is itself a complaint or alert is not a response.

Confined to a ``Scope`` (an access scope: conversations, a calendar window, a retrieval
request's senders, types and records), the timeline selects only records inside it, in its
SQL, before anything is decrypted; imported events belong to no conversation, so a scope
that restricts anything but the window shows none.

Times are shown to the minute in the vault's zone unless another zone is given; each entry
also keeps its exact instant and original UTC offset.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from chatcustody.access import ids_in
from chatcustody.audit import record_audit
from chatcustody.errors import IntegrityError, UsageError
from chatcustody.model import iso
from chatcustody.rows import parse_payload, row_aad
from chatcustody.search import (
    Scope,
    normalise,
    open_fields,
    parse_time,
    resolve_conversations,
    resolve_participants,
)
from chatcustody.store import schema as t
from chatcustody.vault import Vault, check_zone

MAX_ENTRIES: Final[int] = 20_000
COMPLAINT_WORDS: Final[tuple[str, ...]] = ("投诉", "complaint")
ALERT_WORDS: Final[tuple[str, ...]] = ("投诉", "complaint", "预警", "告警", "alert")
UNCATEGORISED: Final[frozenset[str]] = frozenset({"", "event"})
ALERT_CATEGORIES: Final[frozenset[str]] = frozenset(
    {"alert", "warning", "warn", "error", "critical", "预警", "告警", "警告", "报警", "错误"}
)


@dataclass
class Entry:
    """One message or event on the timeline."""

    kind: str  # "message" | "event"
    id: int
    ts_ms: int
    utc_offset_min: int
    where: str  # conversation title, or the event's source system
    conversation: int | None  # vault conversation id (messages)
    who_id: str  # sender source id, or the event's source system
    who: str  # sender display name, or the event's actor (may be empty)
    label: str  # message type or event category
    text: str
    flagged: str | None = None  # "complaint" | "alert"
    gap_before_ms: int | None = None
    response: Entry | None = None

    @property
    def delay_ms(self) -> int | None:
        """Return the wait from this complaint or alert to its response."""
        return None if self.response is None else self.response.ts_ms - self.ts_ms

    def to_json(self, zone: ZoneInfo) -> dict[str, Any]:
        """Return this entry's part of ``timeline --json``."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "id": self.id,
            "time": iso(self.ts_ms, self.utc_offset_min),
            "local": minute(self.ts_ms, zone),
            "where": self.where,
            "who_id": self.who_id,
            "who": self.who,
            "label": self.label,
            "text": self.text,
            "flagged": self.flagged,
            "gap_before_minutes": None
            if self.gap_before_ms is None
            else round(self.gap_before_ms / 60_000),
        }
        if self.flagged:
            r = self.response
            out["response"] = None if r is None else {"kind": r.kind, "id": r.id, "who": r.who}
            out["delay_minutes"] = None if self.delay_ms is None else round(self.delay_ms / 60_000)
        return out


@dataclass
class Timeline:
    """A merged, annotated timeline."""

    after_ms: int
    before_ms: int
    zone: str
    gap_ms: int
    entries: list[Entry] = field(default_factory=list)
    truncated: bool = False
    took_ms: float = 0.0

    @property
    def flagged(self) -> list[Entry]:
        """Return the complaints and alerts, in time order."""
        return [e for e in self.entries if e.flagged]

    def to_json(self) -> dict[str, Any]:
        """Return the ``timeline --json`` contract."""
        zone = ZoneInfo(self.zone)
        return {
            "after": minute(self.after_ms, zone),
            "before": minute(self.before_ms, zone),
            "zone": self.zone,
            "gap_minutes": round(self.gap_ms / 60_000),
            "entries": [e.to_json(zone) for e in self.entries],
            "delays": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "flagged": e.flagged,
                    "time": minute(e.ts_ms, zone),
                    "responded": None if e.response is None else minute(e.response.ts_ms, zone),
                    "responder": None if e.response is None else e.response.who,
                    "delay_minutes": None if e.delay_ms is None else round(e.delay_ms / 60_000),
                }
                for e in self.flagged
            ],
            "truncated": self.truncated,
            "took_ms": self.took_ms,
        }


def minute(ms: int, zone: ZoneInfo) -> str:
    """Return ``YYYY-MM-DD HH:MM`` in ``zone``."""
    return datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M")


def duration(ms: int) -> str:
    """Return a short human duration: "2 h 06 min", "15 min", "40 s"."""
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    head = f"{days} d " if days else ""
    return f"{head}{hours} h {mins:02d} min"


def _contains(text: str, words: tuple[str, ...]) -> bool:
    norm = normalise(text)
    return any(w in norm for w in words)


def _messages(
    vault: Vault,
    conn: Connection,
    after: int,
    before: int,
    conversations: set[int] | None,
    senders: set[int] | None,
    scope: Scope,
) -> list[Entry]:
    r = t.records
    query = select(r).where(r.c.ts_ms >= after, r.c.ts_ms < before)
    shredded = select(t.shredded_conversations.c.conversation_id)
    query = query.where(r.c.conversation_id.not_in(shredded))  # crypto-shredded: gone
    if conversations is not None:
        query = query.where(r.c.conversation_id.in_(sorted(conversations)))
    if senders is not None:
        query = query.where(r.c.sender_id.in_(sorted(senders)))
    if scope.conversation_ids is not None:
        query = query.where(r.c.conversation_id.in_(sorted(scope.conversation_ids)))
    if scope.sender_ids is not None:
        query = query.where(r.c.sender_id.in_(sorted(scope.sender_ids)))
    if scope.types is not None:
        query = query.where(r.c.type.in_(sorted(scope.types)))
    if scope.record_ids is not None:
        query = query.where(ids_in(r.c.id, scope.record_ids, conn.dialect.name))
    out = []
    rows = conn.execute(query.order_by(r.c.ts_ms, r.c.id).limit(MAX_ENTRIES + 1)).mappings()
    for row in rows:
        f = open_fields(vault, conn, row)
        text = str(f.get("text") or "")
        out.append(
            Entry(
                "message",
                int(row["id"]),
                int(row["ts_ms"]),
                int(row["utc_offset_min"]),
                str(f.get("conversation_name") or ""),
                int(row["conversation_id"]),
                str(f.get("sender_id") or ""),
                str(f.get("sender_name") or ""),
                str(row["type"]),
                text,
                "complaint" if _contains(text, COMPLAINT_WORDS) else None,
            )
        )
    return out


def _events(vault: Vault, conn: Connection, after: int, before: int) -> list[Entry]:
    e = t.events
    cipher = vault.service_cipher("events")
    out = []
    rows = conn.execute(
        select(e)
        .where(e.c.ts_ms >= after, e.c.ts_ms < before)
        .order_by(e.c.ts_ms, e.c.id)
        .limit(MAX_ENTRIES + 1)
    ).mappings()
    for row in rows:
        plain = cipher.open(bytes(row["payload"]), row_aad("events", row), f"event {row['id']}")
        try:
            f = parse_payload(plain)["fields"]
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"event {row['id']}: payload is malformed ({exc})") from None
        text, category = str(f.get("text") or ""), str(f.get("category") or "")
        category_norm = normalise(category)
        alert = category_norm in ALERT_CATEGORIES or (
            category_norm in UNCATEGORISED and _contains(text, ALERT_WORDS)
        )
        source = str(f.get("source") or "")
        out.append(
            Entry(
                "event",
                int(row["id"]),
                int(row["ts_ms"]),
                int(row["utc_offset_min"]),
                source,
                None,
                source,
                str(f.get("actor") or ""),
                category,
                text,
                "alert" if alert else None,
            )
        )
    return out


def _annotate(entries: list[Entry], gap_ms: int) -> None:
    for prev, cur in zip(entries, entries[1:], strict=False):
        if cur.ts_ms - prev.ts_ms > gap_ms:
            cur.gap_before_ms = cur.ts_ms - prev.ts_ms
    for i, entry in enumerate(entries):
        if not entry.flagged:
            continue
        for later in entries[i + 1 :]:
            if later.flagged:
                continue
            if entry.kind == "message":
                answers = (
                    later.kind == "message"
                    and later.conversation == entry.conversation
                    and later.who_id != entry.who_id
                )
            else:
                answers = later.kind == "message" or later.who_id != entry.who_id
            if answers:
                entry.response = later
                break


def timeline(
    vault: Vault,
    after: str,
    before: str,
    *,
    conversations: tuple[str, ...] | list[str] = (),
    participants: tuple[str, ...] | list[str] = (),
    events: bool = False,
    gap_minutes: int = 30,
    tz: str | None = None,
    actor: str | None = None,
    audit: bool = True,
    scope: Scope | None = None,
) -> Timeline:
    """Build the timeline of a window, confined to ``scope``; audited as timeline.run."""
    started = time.perf_counter()
    zone_name = tz or vault.default_tz
    zone = check_zone(zone_name)
    after_ms = parse_time(after, zone, "--after")
    before_ms = parse_time(before, zone, "--before")
    if after_ms >= before_ms:
        raise UsageError("--after must be earlier than --before")
    if gap_minutes < 1:
        raise UsageError("--gap must be at least 1 minute")
    scope = scope or Scope()
    lo = max(after_ms, scope.after_ms) if scope.after_ms is not None else after_ms
    hi = min(before_ms, scope.before_ms) if scope.before_ms is not None else before_ms
    only_window = (
        scope.conversation_ids is None
        and scope.sender_ids is None
        and scope.types is None
        and scope.record_ids is None
    )
    with vault.engine.connect() as conn:
        convs = resolve_conversations(vault, conn, conversations) if conversations else None
        senders = resolve_participants(vault, conn, participants) if participants else None
        entries = _messages(vault, conn, lo, hi, convs, senders, scope) if lo < hi else []
        if events and only_window and lo < hi:
            entries += _events(vault, conn, lo, hi)
    entries.sort(key=lambda e: (e.ts_ms, e.kind == "message", e.id))
    result = Timeline(after_ms, before_ms, zone_name, gap_minutes * 60_000)
    result.truncated = len(entries) > MAX_ENTRIES
    result.entries = entries[:MAX_ENTRIES]
    _annotate(result.entries, result.gap_ms)
    result.took_ms = round((time.perf_counter() - started) * 1000, 2)
    if audit:
        record_audit(
            vault,
            "timeline.run",
            {
                "after_ms": after_ms,
                "before_ms": before_ms,
                "conversations": list(conversations),
                "participants": list(participants),
                "events": events,
                "gap_minutes": gap_minutes,
                "scope": scope.to_json(),
                "entries": len(result.entries),
                "flagged": len(result.flagged),
            },
            actor,
        )
    return result


def render(tl: Timeline) -> list[str]:
    """Return the timeline as readable lines (times to the minute in its zone)."""
    zone = ZoneInfo(tl.zone)
    offset = datetime.fromtimestamp(tl.after_ms / 1000, zone).strftime("%z")
    lines = [
        f"Timeline {minute(tl.after_ms, zone)} – {minute(tl.before_ms, zone)} "
        f"({tl.zone}, UTC{offset[:3]}:{offset[3:]}); gaps over {duration(tl.gap_ms)} marked"
    ]
    day = ""
    for e in tl.entries:
        stamp = minute(e.ts_ms, zone)
        if stamp[:10] != day:
            day = stamp[:10]
            lines.append(f"── {day} ──")
        if e.gap_before_ms is not None:
            lines.append(f"        ⋯ {duration(e.gap_before_ms)} with nothing ⋯")
        if e.kind == "message":
            head = f"[{e.where}] {e.who or e.who_id}"
        else:
            head = f"[event · {e.where} · {e.label}]" + (f" {e.who}" if e.who else "")
        body = " ".join(e.text.split())
        lines.append(f"{stamp[11:]}  {head}: {body}")
        if e.flagged:
            if e.response is None:
                lines.append(f"        ⚠ {e.flagged}: no response in this window")
            else:
                by = e.response.who or e.response.who_id
                lines.append(
                    f"        ⚠ {e.flagged}: answered {minute(e.response.ts_ms, zone)[11:]} "
                    f"by {by}, after {duration(e.response.ts_ms - e.ts_ms)}"
                )
    if tl.flagged:
        lines.append("Delays:")
        for e in tl.flagged:
            who = e.who or e.who_id or e.where
            r = e.response
            wait = (
                "no response in this window"
                if r is None
                else f"{minute(r.ts_ms, zone)[11:]} {r.who or r.who_id}, "
                f"after {duration(r.ts_ms - e.ts_ms)}"
            )
            lines.append(f"  {minute(e.ts_ms, zone)[11:]} {e.flagged} ({who}) → {wait}")
    if tl.truncated:
        lines.append(f"(only the first {MAX_ENTRIES} entries: narrow the window)")
    return lines
