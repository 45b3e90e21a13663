"""``wechat``: the CSV that WeChatMsg / MemoTrace writes for one WeChat (PC) chat.

The exporter (LC044/WeChatMsg, later MemoTrace) writes ``聊天记录/<name>/<name>_utf8.csv``,
UTF-8 with a BOM, with the columns ``localId, TalkerId, Type, SubType, IsSender,
CreateTime, Status, StrContent, StrTime, Remark, NickName, Sender`` — the last three are
the sender's remark, nickname and wxid. Older releases wrote only the first nine columns
for one-to-one chats; both shapes are read. See docs/formats/wechat.md.

Decisions, and why:

- ``message_id`` is ``TalkerId:localId:CreateTime``. ``localId`` is the row id of the
  decrypted, merged ``MSG.db``: stable when the same database is exported again, but a new
  decrypt-and-merge renumbers it, so such an export imports as new records (duplicates,
  never losses). The CSV carries no server id (``MsgSvrID``) to do better.
- ``TalkerId`` is, in the exporter's SQL, the numeric ``Name2ID`` row of the chat; some
  variants write the talker's wxid instead. A wxid is used as the conversation id as is
  (``…@chatroom`` is a group). For a number, a first streaming pass over the file decides:
  two or more distinct other senders, or a system line about the group (群), make a group
  ``talker-<n>``; otherwise the chat is one-to-one and its id is the peer's wxid when the
  ``Sender`` column names it (``talker-<n>`` when it does not). The conversation name comes
  from the file name (``<name>_utf8.csv``).
- Times: ``CreateTime`` (epoch seconds) is the instant; its display offset is that of
  ``--tz`` at that instant. ``StrTime`` (the exporter machine's local time) stays in ``raw``.
- System lines (types 10000, 10002) are sent by ``system`` whatever ``Sender`` says; recall
  notices ("…撤回了一条消息") are ``recall`` records with no ``target_id`` because the
  CSV does not say which row was recalled (WeChat replaced it in place).
- Quotes (49/57) are text; ``reply_to`` stays empty since the quoted message is named by
  its server id, which the CSV does not carry. The quoted text is shown after the reply.
- Media are never in the CSV: images, voice, video and files become attachments with
  ``included=False`` (named by file name or md5 where the XML gives one).
- ``raw`` is the exact text of the CSV row (all its physical lines).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from chatcustody.importers._base import (
    ParseResult,
    Rejected,
    SourceInput,
    head_bytes,
)
from chatcustody.importers._csv import PhysicalLines, raise_field_limit
from chatcustody.importers._time import ZoneOffsets
from chatcustody.importers._wechat_types import (
    PLATFORM,
    SELF_SENDER,
    SYSTEM_NAME,
    SYSTEM_SENDER,
    SYSTEM_TYPES,
    csv_payload,
    is_number,
)
from chatcustody.model import ConversationKind, Record

HEADER: Final[tuple[str, ...]] = (
    "localId",
    "TalkerId",
    "Type",
    "SubType",
    "IsSender",
    "CreateTime",
    "Status",
    "StrContent",
    "StrTime",
    "Remark",
    "NickName",
    "Sender",
)
_SHORT_ROW: Final[int] = 9  # old exporters: no Remark/NickName/Sender in one-to-one chats
_BOM: Final[bytes] = b"\xef\xbb\xbf"
# CreateTime must be epoch seconds between 1973 and 2100; anything else is a defect.
_MIN_EPOCH_S: Final[int] = 100_000_000
_MAX_EPOCH_S: Final[int] = 4_102_444_800


@dataclass(slots=True)
class CsvRow:
    """One CSV row: where it starts, its fields (None when unreadable) and its exact text."""

    line: int
    fields: list[str] | None
    text: str
    problem: str = ""


def iter_csv_rows(stream: IO[bytes]) -> Iterator[CsvRow]:
    """Yield the non-blank rows of a CSV stream with the physical line each starts on.

    Quoted fields may span lines; a row with invalid UTF-8 or broken quoting comes back
    with ``fields=None`` and a problem, and reading resumes on the next line.
    """
    raise_field_limit()
    lines = PhysicalLines(stream)
    reader = csv.reader(lines, strict=True)
    while True:
        start = lines.number + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield CsvRow(start, None, lines.take()[:500], f"malformed CSV: {exc}")
            continue
        bad = lines.bad
        text = lines.take()
        if bad is not None:
            yield CsvRow(start, None, text[:500], f"invalid UTF-8 on line {bad.line}")
            continue
        if fields:
            yield CsvRow(start, fields, text)


@dataclass(slots=True)
class _Talker:
    """What the first pass learnt about one numeric TalkerId."""

    others: set[str] = field(default_factory=set)
    group_hint: bool = False


class _Columns:
    """Positions of the columns, from the header row."""

    def __init__(self, header: list[str]) -> None:
        index = {name.strip(): i for i, name in enumerate(header)}
        self.width = len(header)
        self.local_id = index["localId"]
        self.talker = index["TalkerId"]
        self.type = index["Type"]
        self.subtype = index["SubType"]
        self.is_sender = index["IsSender"]
        self.create_time = index["CreateTime"]
        self.content = index["StrContent"]
        self.remark = index.get("Remark")
        self.nickname = index.get("NickName")
        self.sender = index.get("Sender")

    def get(self, fields: list[str], i: int | None) -> str:
        """Return field ``i`` of a row, '' when the row is short or the column absent."""
        return fields[i].strip() if i is not None and i < len(fields) else ""


def header_ok(fields: list[str]) -> bool:
    """Return True when a header row starts with the exporter's first nine columns."""
    return tuple(f.strip() for f in fields[:_SHORT_ROW]) == HEADER[:_SHORT_ROW]


class InvalidRow(ValueError):
    """One row's defect (turned into a Rejected)."""


def _int(value: str, name: str) -> int:
    if not is_number(value):
        raise InvalidRow(f"{name} is not a number: {value[:40]!r}")
    return int(value)


class WeChatCsvImporter:
    """WeChatMsg / MemoTrace CSV of one WeChat chat."""

    name = "wechat"
    description = (
        "WeChat chats exported as CSV by WeChatMsg / MemoTrace (localId,TalkerId,… columns)"
    )
    detect_order = 30

    def detect(self, path: Path) -> bool:
        """Return True when the file starts with the exporter's CSV header."""
        head = head_bytes(path, 1024)
        if head.startswith(_BOM):
            head = head[len(_BOM) :]
        first = head.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
        return header_ok(first.split(","))

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield one Record per CSV row, or Rejected naming the row's line and defect."""
        if not source.path.is_file() or source.is_zip:
            yield Rejected(None, "expects one CSV file exported by WeChatMsg / MemoTrace")
            return
        with source.open() as f:
            rows = iter_csv_rows(f)
            first = next(rows, None)
            if first is None:
                yield Rejected(None, "file is empty")
                return
            if first.fields is None or not header_ok(first.fields):
                yield Rejected(
                    first.line,
                    "first line is not the WeChatMsg CSV header (localId,TalkerId,Type,…)",
                    first.text[:500],
                )
                return
            columns = _Columns(first.fields)
        with source.open() as f:
            chats = _Chats(_first_pass(f, columns))
        name = source.path.stem.removesuffix("_utf8")
        zone = ZoneOffsets(source.tz)
        with source.open() as f:
            rows = iter_csv_rows(f)
            next(rows, None)  # the header, checked above
            for row in rows:
                if row.fields is None:
                    yield Rejected(row.line, row.problem, row.text)
                    continue
                try:
                    yield _record(row, columns, chats, name, zone)
                except InvalidRow as exc:
                    local = columns.get(row.fields, columns.local_id) or None
                    yield Rejected(row.line, str(exc), row.text[:500], local)


def _first_pass(stream: IO[bytes], c: _Columns) -> dict[str, _Talker]:
    """Learn, per numeric TalkerId, who else writes and whether it is a group.

    A quick read (C-speed csv, bad bytes replaced): defects are the main pass's business.
    """
    talkers: dict[str, _Talker] = {}
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    needed = max(c.talker, c.type, c.is_sender, c.content)
    rows = csv.reader(text)
    try:
        next(rows, None)  # the header
        while True:
            try:
                f = next(rows)
            except csv.Error:  # reported by the main pass; the hints go on
                continue
            if len(f) <= needed or not is_number(talker := f[c.talker].strip()):
                continue
            info = talkers.get(talker)
            if info is None:
                info = talkers[talker] = _Talker()
            mtype = f[c.type].strip()
            if mtype in ("10000", "10002"):
                info.group_hint = info.group_hint or "群" in f[c.content]
            elif len(info.others) < 2 and f[c.is_sender].strip() == "0":
                sender = c.get(f, c.sender)
                if sender:
                    info.others.add(sender)
    except StopIteration:
        pass
    finally:
        text.detach()
    return talkers


class _Chats:
    """The conversation (id, kind) of each TalkerId, decided once."""

    def __init__(self, talkers: dict[str, _Talker]) -> None:
        self._talkers = talkers
        self._known: dict[str, tuple[str, ConversationKind]] = {}

    def of(self, talker: str) -> tuple[str, ConversationKind]:
        """Return the conversation id and kind of a TalkerId."""
        known = self._known.get(talker)
        if known is None:
            known = self._known[talker] = self._decide(talker)
        return known

    def _decide(self, talker: str) -> tuple[str, ConversationKind]:
        if not is_number(talker):
            group = talker.endswith("@chatroom")
            return talker, ConversationKind.GROUP if group else ConversationKind.DIRECT
        info = self._talkers.get(talker, _Talker())
        if info.group_hint or len(info.others) >= 2:
            return f"talker-{talker}", ConversationKind.GROUP
        if len(info.others) == 1:
            return next(iter(info.others)), ConversationKind.DIRECT
        return f"talker-{talker}", ConversationKind.DIRECT


def _record(row: CsvRow, c: _Columns, chats: _Chats, name: str, zone: ZoneOffsets) -> Record:
    f = row.fields
    assert f is not None
    if len(f) != c.width and not (len(f) == _SHORT_ROW and c.width > _SHORT_ROW):
        raise InvalidRow(f"row has {len(f)} fields; the header has {c.width}")
    local_id = _int(f[c.local_id].strip(), "localId")
    talker = f[c.talker].strip()
    if not talker:
        raise InvalidRow("TalkerId is empty")
    mtype = _int(f[c.type].strip(), "Type")
    subtype = _int(f[c.subtype].strip() or "0", "SubType")
    is_sender = f[c.is_sender].strip()
    if is_sender not in ("0", "1"):
        raise InvalidRow(f"IsSender must be 0 or 1, not {is_sender[:20]!r}")
    created = _int(f[c.create_time].strip(), "CreateTime")
    if not _MIN_EPOCH_S <= created <= _MAX_EPOCH_S:
        raise InvalidRow(f"CreateTime {created} is not epoch seconds between 1973 and 2100")
    ts, offset = zone.at(created * 1000)
    conv_id, kind = chats.of(talker)
    payload = csv_payload(mtype, subtype, f[c.content])
    sender = c.get(f, c.sender)
    sender_name = c.get(f, c.remark) or c.get(f, c.nickname) or sender
    if mtype in SYSTEM_TYPES:
        sender, sender_name = SYSTEM_SENDER, SYSTEM_NAME
    elif not sender and is_sender == "1":
        sender, sender_name = SELF_SENDER, "我"
    elif not sender:
        direct = kind is ConversationKind.DIRECT
        sender = conv_id if direct else "unknown"
        sender_name = name if direct else "unknown"
    return Record(
        platform=PLATFORM,
        conversation_id=conv_id,
        conversation_name=name or conv_id,
        conversation_kind=kind,
        message_id=f"{talker}:{local_id}:{created}",
        sender_id=sender,
        sender_name=sender_name,
        timestamp_ms=ts,
        utc_offset_min=offset,
        type=payload.type,
        text=payload.text,
        raw=row.text,
        attachments=payload.attachments,
        line=row.line,
    )


IMPORTER = WeChatCsvImporter()
