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
import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Final
from zoneinfo import ZoneInfo

from chatcustody.importers._base import (
    ParseResult,
    Rejected,
    SourceInput,
    epoch_ms_with_zone,
    head_bytes,
)
from chatcustody.model import Attachment, ConversationKind, MessageType, Record

PLATFORM: Final[str] = "wechat"
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
_FIELD_LIMIT_CHARS: Final[int] = 64 * 1024 * 1024  # merged-forward XML can pass csv's 128 KiB
# CreateTime must be epoch seconds between 1973 and 2100; anything else is a defect.
_MIN_EPOCH_S: Final[int] = 100_000_000
_MAX_EPOCH_S: Final[int] = 4_102_444_800
SYSTEM_SENDER: Final[str] = "system"
SYSTEM_NAME: Final[str] = "系统消息"
SELF_SENDER: Final[str] = "self"
RECALL_MARK: Final[str] = "撤回了一条消息"
SYSTEM_TYPES: Final[frozenset[int]] = frozenset({10000, 10002})
APP_TYPE: Final[int] = 49

# WeChat type codes → (canonical type, label shown when the source gives nothing better).
BASE_TYPES: Final[dict[int, tuple[MessageType, str]]] = {
    1: (MessageType.TEXT, ""),
    3: (MessageType.IMAGE, "[图片]"),
    34: (MessageType.VOICE, "[语音]"),
    37: (MessageType.SYSTEM, "[好友验证]"),
    42: (MessageType.CARD, "[名片]"),
    43: (MessageType.VIDEO, "[视频]"),
    47: (MessageType.STICKER, "[动画表情]"),
    48: (MessageType.LOCATION, "[位置]"),
    50: (MessageType.CALL, "[通话]"),
    10000: (MessageType.SYSTEM, "[系统消息]"),
    10002: (MessageType.SYSTEM, "[系统消息]"),
}
# Type 49 ("app message") by SubType.
APP_TYPES: Final[dict[int, tuple[MessageType, str]]] = {
    3: (MessageType.LINK, "[音乐]"),
    4: (MessageType.LINK, "[分享]"),
    5: (MessageType.LINK, "[链接]"),
    6: (MessageType.FILE, "[文件]"),
    8: (MessageType.STICKER, "[GIF表情]"),
    19: (MessageType.FORWARD, "[聊天记录]"),
    33: (MessageType.LINK, "[小程序]"),
    36: (MessageType.LINK, "[小程序]"),
    40: (MessageType.FORWARD, "[聊天记录]"),
    51: (MessageType.LINK, "[视频号]"),
    57: (MessageType.TEXT, "[引用]"),
    62: (MessageType.SYSTEM, "[拍一拍]"),
    63: (MessageType.LINK, "[视频号]"),
    87: (MessageType.OTHER, "[群公告]"),
    2000: (MessageType.OTHER, "[转账]"),
    2001: (MessageType.OTHER, "[红包]"),
    2003: (MessageType.OTHER, "[红包封面]"),
}
MEDIA_KINDS: Final[dict[MessageType, str]] = {
    MessageType.IMAGE: "image",
    MessageType.VOICE: "voice",
    MessageType.VIDEO: "video",
}


def classify(mtype: int, subtype: int) -> tuple[MessageType, str]:
    """Return the canonical type and fallback label of a WeChat (Type, SubType)."""
    if mtype == APP_TYPE:
        return APP_TYPES.get(subtype, (MessageType.OTHER, "[分享]"))
    return BASE_TYPES.get(mtype, (MessageType.OTHER, f"[消息类型 {mtype}]"))


def system_type(mtype: int, text: str) -> MessageType:
    """Return ``recall`` for a recall notice among system lines, else ``system``."""
    return MessageType.RECALL if RECALL_MARK in text else MessageType.SYSTEM


@lru_cache(maxsize=64)
def _attr_re(name: str) -> re.Pattern[str]:
    return re.compile(rf'\b{name}\s*=\s*"([^"]*)"')


@lru_cache(maxsize=64)
def _elem_re(tag: str) -> re.Pattern[str]:
    return re.compile(
        rf"<{tag}(?:\s[^>]*)?>\s*(?:<!\[CDATA\[(.*?)\]\]>|([^<]*?))\s*</{tag}>", re.DOTALL
    )


def xml_attr(xml: str, name: str) -> str:
    """Return the first attribute ``name="…"`` in an XML snippet, unescaped ('' if none).

    A regular expression, not an XML parser: exporters' snippets are often truncated or
    not well-formed, and parsing untrusted XML fully is not needed to show a title.
    """
    m = _attr_re(name).search(xml)
    return html.unescape(m.group(1)).strip() if m else ""


def xml_text(xml: str, tag: str) -> str:
    """Return the text of the first ``<tag>…</tag>`` (CDATA or escaped), or ''."""
    m = _elem_re(tag).search(xml)
    if not m:
        return ""
    return (m.group(1) if m.group(1) is not None else html.unescape(m.group(2))).strip()


def is_number(value: str) -> bool:
    """Return True for a non-empty string of ASCII digits."""
    return value.isascii() and value.isdigit()


def join(*parts: str) -> str:
    """Join the non-empty parts with a space."""
    return " ".join(p for p in parts if p)


@dataclass(slots=True)
class Payload:
    """What a message shows: its canonical type, readable text and named media."""

    type: MessageType
    text: str
    attachments: tuple[Attachment, ...] = ()


def missing_media(kind: str, name: str = "") -> tuple[Attachment, ...]:
    """Return one attachment the export names but does not include."""
    return (Attachment(name=name or kind, included=False),)


def _app_payload(subtype: int, mtype: MessageType, label: str, xml: str) -> Payload:
    title = xml_text(xml, "title")
    if subtype == 6:
        return Payload(mtype, join(label, title), missing_media("file", title))
    if subtype == 57:
        refer = xml[xml.find("<refermsg") :] if "<refermsg" in xml else ""
        quoted = xml_text(refer, "content") if xml_text(refer, "type") == "1" else ""
        who = xml_text(refer, "displayname")
        text = title or label
        return Payload(mtype, f"{text}\n「{who}：{quoted}」" if quoted else text)
    if subtype in (19, 40):
        return Payload(mtype, "\n".join(p for p in (join(label, title), xml_text(xml, "des")) if p))
    if subtype == 2000:
        return Payload(mtype, join(label, xml_text(xml, "feedesc"), xml_text(xml, "pay_memo")))
    if subtype == 62:
        return Payload(mtype, xml_text(xml, "template") or title or label)
    if subtype == 87:
        return Payload(mtype, join(label, xml_text(xml, "textannouncement") or title))
    if mtype is MessageType.LINK:
        return Payload(mtype, join(label, title, xml_text(xml, "url")))
    return Payload(mtype, join(label, title))


def csv_payload(mtype: int, subtype: int, content: str) -> Payload:
    """Return the payload of one CSV row from its type codes and ``StrContent``.

    ``StrContent`` is the message text for type 1 and system lines, and an XML snippet
    (or empty, on PC WeChat where app messages keep their XML elsewhere) for the rest.
    """
    if mtype == 1:
        return Payload(MessageType.TEXT, content)
    if mtype == APP_TYPE and not subtype and "<type>" in content:
        declared = xml_text(content, "type")
        subtype = int(declared) if is_number(declared) else 0
    ctype, label = classify(mtype, subtype)
    if mtype in SYSTEM_TYPES:
        text = content
        if content.lstrip().startswith("<"):
            text = xml_text(content, "replacemsg") or xml_text(content, "plain") or label
        text = text or label
        return Payload(system_type(mtype, text), text)
    if mtype == APP_TYPE:
        return _app_payload(subtype, ctype, label, content)
    if ctype in MEDIA_KINDS:
        kind = MEDIA_KINDS[ctype]
        detail = ""
        if ctype is MessageType.VOICE and is_number(xml_attr(content, "voicelength")):
            detail = f"{int(xml_attr(content, 'voicelength')) / 1000:.1f}s"
        elif ctype is MessageType.VIDEO and is_number(xml_attr(content, "playlength")):
            detail = f"{xml_attr(content, 'playlength')}s"
        return Payload(ctype, join(label, detail), missing_media(kind, xml_attr(content, "md5")))
    if ctype is MessageType.LOCATION:
        return Payload(ctype, join(label, xml_attr(content, "poiname"), xml_attr(content, "label")))
    if ctype is MessageType.CARD:
        who = xml_attr(content, "nickname")
        user = xml_attr(content, "username")
        return Payload(ctype, join(label, who, f"({user})" if user else ""))
    if ctype is MessageType.CALL:
        return Payload(ctype, xml_text(content, "msg") or label)
    if ctype is MessageType.SYSTEM:  # friend requests
        return Payload(ctype, join(label, xml_attr(content, "content")))
    if ctype is MessageType.STICKER or content.lstrip().startswith("<"):
        return Payload(ctype, label)
    return Payload(ctype, join(label, content))


class ZoneOffsets:
    """``epoch_ms_with_zone`` for many instants: the zone's offset is looked up once per hour.

    An offset is reused for a whole UTC hour only when the zone has the same offset at both
    ends of that hour (no zone changes offset twice within an hour); otherwise every instant
    of that hour is looked up exactly.
    """

    _HOUR_MS: Final[int] = 3_600_000

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._hours: dict[int, int | None] = {}

    def at(self, ms: int) -> tuple[int, int]:
        """Return (ms, offset minutes of the zone at that instant)."""
        hour = ms // self._HOUR_MS
        try:
            offset = self._hours[hour]
        except KeyError:
            start = hour * self._HOUR_MS
            first = epoch_ms_with_zone(start, self.tz)[1]
            last = epoch_ms_with_zone(start + self._HOUR_MS - 1, self.tz)[1]
            offset = first if first == last else None
            if len(self._hours) >= 100_000:  # out-of-order exports: keep memory bounded
                self._hours.clear()
            self._hours[hour] = offset
        return (ms, offset) if offset is not None else epoch_ms_with_zone(ms, self.tz)


class _Lines:
    """Physical lines of a UTF-8 file for csv.reader; keeps each row's text and bad lines."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.number = 0
        self.pending: list[str] = []
        self.bad_utf8: list[int] = []

    def __iter__(self) -> Iterator[str]:
        for raw in self._stream:
            self.number += 1
            if self.number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.bad_utf8.append(self.number)
                line = raw.decode("utf-8", "replace")
            self.pending.append(line)
            yield line

    def take(self) -> str:
        """Return the text of the row just read (without its final line break)."""
        text = "".join(self.pending)
        self.pending.clear()
        return text.rstrip("\r\n")


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
    if csv.field_size_limit() < _FIELD_LIMIT_CHARS:
        csv.field_size_limit(_FIELD_LIMIT_CHARS)
    lines = _Lines(stream)
    reader = csv.reader(lines, strict=True)
    while True:
        start = lines.number + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield CsvRow(start, None, lines.take()[:500], f"malformed CSV: {exc}")
            lines.bad_utf8.clear()
            continue
        text = lines.take()
        if lines.bad_utf8:
            bad = lines.bad_utf8[0]
            lines.bad_utf8.clear()
            yield CsvRow(start, None, text[:500], f"invalid UTF-8 on line {bad}")
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
