"""``qq``: the .txt export of the QQ (PC) message manager (消息管理器 → 导出消息记录).

The file opens with a preamble::

    消息记录（此消息记录为文本格式，不支持重新导入）

    ================================================================
    消息分组:我的群聊
    ================================================================
    消息对象:护卫队值班群
    ================================================================

then messages, each a header line ``YYYY-MM-DD HH:MM:SS Nickname(QQ number)`` (or
``…Nickname<email>``, or 12-hour ``8:43:38 PM``), its content lines, and a blank line. An
"export all" file repeats the preamble block for every chat. See docs/formats/qq.md.

Decisions, and why:

- A header is only recognised after a blank line (or the preamble): the exporter always
  writes one, and a pasted line that merely looks like a header inside a message must not
  become a message attributed to someone else. Such lines stay in the text.
- There are no message ids: ``message_id`` is None and ingest dedupes by content hash plus
  occurrence. The conversation id is its kind and name (``group:护卫队值班群``), the only
  identity the file gives; a renamed group therefore becomes a new conversation.
- Kind: 消息分组 naming a group (群, 讨论组) → group; another 消息分组 → direct; none → group.
- Times are local without a zone: read in ``--tz`` (local_to_utc).
- ``系统消息(10000)`` / ``(1000000)`` lines are ``system`` records, or ``recall`` when they
  say "撤回了一条消息" (no ``target_id``: the file does not say which message).
- ``[图片]``/``[语音]``/``[视频]`` placeholders are attachments with ``included=False``; a
  message of only images is ``image``, of only ``[表情]`` a ``sticker``.
- Text in UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030 (decided from the
  preamble). Lines before the first header that are not preamble are rejected, not dropped.
- ``raw`` is the exact header and content lines of the message.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Final

from chatcustody.importers._base import (
    ParseResult,
    Rejected,
    SourceInput,
    head_bytes,
)
from chatcustody.importers._time import LocalClock
from chatcustody.model import Attachment, ConversationKind, MessageType, Record

PLATFORM: Final[str] = "qq"
TITLE: Final[str] = "消息记录（此消息记录为文本格式，不支持重新导入）"
_GROUP_KEY: Final[str] = "消息分组"
_OBJECT_KEY: Final[str] = "消息对象"
_SECTION: Final[re.Pattern[str]] = re.compile(r"^(消息分组|消息对象)\s*[:：]\s*(.*)$")
_SEPARATOR_MIN: Final[int] = 10  # a line of at least this many '=' and nothing else
_HEADER: Final[re.Pattern[str]] = re.compile(
    r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2}) (\d{1,2}):(\d{2}):(\d{2})"
    r"(?: ?(AM|PM|am|pm|上午|下午))? (.*)$"
)
_WITH_NUMBER: Final[re.Pattern[str]] = re.compile(r"^(.*)\((\d+)\)$")
_WITH_EMAIL: Final[re.Pattern[str]] = re.compile(r"^(.*)<([^<>\s]+@[^<>\s]+)>$")
_TITLE_PREFIX: Final[re.Pattern[str]] = re.compile(r"^【[^】]*】")
_PLACEHOLDER: Final[re.Pattern[str]] = re.compile(r"\[(图片|表情|语音|视频)\]")
# QQ (OICQ) dates from 1999: a header year outside this range is a defect, not a chat.
_FIRST_YEAR: Final[int] = 1990
_LAST_YEAR: Final[int] = 2100
_PM: Final[frozenset[str]] = frozenset({"PM", "pm", "下午"})
SYSTEM_IDS: Final[frozenset[str]] = frozenset({"10000", "1000000"})
RECALL_MARK: Final[str] = "撤回了一条消息"
_MEDIA: Final[dict[str, str]] = {"图片": "image", "语音": "voice", "视频": "video"}
_ONLY_TYPES: Final[dict[str, MessageType]] = {
    "图片": MessageType.IMAGE,
    "表情": MessageType.STICKER,
    "语音": MessageType.VOICE,
    "视频": MessageType.VIDEO,
}


def is_separator(stripped: str) -> bool:
    """Return True for a preamble separator line (only '=', at least ten)."""
    return stripped[:1] == "=" and len(stripped) >= _SEPARATOR_MIN and not stripped.strip("=")


def sniff_encoding(head: bytes) -> str:
    """Return the text encoding of an export from its first bytes."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A cut multi-byte character at the end of the sample is not a defect.
        if exc.start < len(head) - 3 and _OBJECT_KEY in head.decode("gb18030", "ignore"):
            return "gb18030"
    return "utf-8"


@dataclass(slots=True)
class _Line:
    number: int
    raw: str  # with its line break
    text: str  # without it


def _lines(stream: IO[bytes], encoding: str) -> Iterator[_Line | Rejected]:
    """Yield the decoded lines of the export; invalid bytes become a Rejected for that line."""
    if encoding == "utf-16":
        wrapper = io.TextIOWrapper(stream, encoding="utf-16", newline="")
        number = 0
        try:
            for raw in wrapper:
                number += 1
                yield _Line(number, raw, raw.rstrip("\r\n").removeprefix("\ufeff"))
        except UnicodeDecodeError as exc:
            yield Rejected(number + 1, f"invalid UTF-16 text after line {number}: {exc.reason}")
        finally:
            wrapper.detach()
        return
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    for number, data in enumerate(stream, start=1):
        if number == 1:
            data = data.removeprefix(codecs.BOM_UTF8)
        try:
            raw = data.decode(codec)
        except UnicodeDecodeError as exc:
            yield Rejected(number, f"invalid {codec} text at byte {exc.start}", data.hex()[:200])
            continue
        yield _Line(number, raw, raw.rstrip("\r\n"))


@dataclass(slots=True)
class _Message:
    """A message being read: its header and content lines."""

    header: _Line
    when: datetime
    sender_id: str
    sender_name: str
    body: list[_Line] = field(default_factory=list)


class InvalidHeader(ValueError):
    """A header line's defect (turned into a Rejected)."""


@lru_cache(maxsize=4096)
def _sender(who: str) -> tuple[str, str]:
    """Return (id, display name) of a header's sender part (members repeat: cached)."""
    number = _WITH_NUMBER.match(who) or (_WITH_EMAIL.match(who) if who[-1:] == ">" else None)
    if number:
        sender_id, name = number.group(2), number.group(1).strip()
    else:
        sender_id, name = who, who
    if name.startswith("【"):
        name = _TITLE_PREFIX.sub("", name).strip() or name
    return sender_id, name


def parse_header(text: str) -> tuple[datetime, str, str] | None:
    """Return (local time, sender id, sender name) of a header line; None if it is not one.

    Raise InvalidHeader for a line shaped like a header whose date or sender is invalid.
    """
    m = _HEADER.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = map(int, m.group(1, 2, 3, 4, 5, 6))
    meridiem, who = m.group(7), m.group(8).strip()
    if meridiem:
        if not 1 <= hour <= 12:
            raise InvalidHeader(f"header hour {hour} is not valid with {meridiem}")
        hour = hour % 12 + (12 if meridiem in _PM else 0)
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise InvalidHeader(f"header year {year} is outside {_FIRST_YEAR}–{_LAST_YEAR}")
    try:
        when = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise InvalidHeader(f"header has an invalid date or time: {exc}") from None
    sender_id, name = _sender(who)
    if not sender_id:
        raise InvalidHeader("header line has no sender")
    return when, sender_id, name


@dataclass(slots=True)
class _Chat:
    """The conversation the preamble names."""

    group: str = ""
    name: str = ""

    def kind(self) -> ConversationKind:
        """Return group unless the 消息分组 names a friends' list."""
        if not self.group or "群" in self.group or "讨论组" in self.group:
            return ConversationKind.GROUP
        return ConversationKind.DIRECT


def _payload(text: str) -> tuple[MessageType, tuple[Attachment, ...]]:
    if "[" not in text:
        return MessageType.TEXT, ()
    found = _PLACEHOLDER.findall(text)
    attachments = tuple(Attachment(name=_MEDIA[k], included=False) for k in found if k in _MEDIA)
    if found and not _PLACEHOLDER.sub("", text).strip() and len(set(found)) == 1:
        return _ONLY_TYPES[found[0]], attachments
    return MessageType.TEXT, attachments


def _record(msg: _Message, chat: _Chat, fallback_name: str, clock: LocalClock) -> Record:
    body = msg.body
    while body and not body[-1].text.strip():
        body.pop()
    text = "\n".join([line.text for line in body])
    raw = (msg.header.raw + "".join([line.raw for line in body])).rstrip("\r\n")
    ts, offset = clock.utc(msg.when)
    kind = chat.kind()
    name = chat.name or fallback_name
    mtype, attachments = _payload(text)
    sender_name = msg.sender_name
    if msg.sender_id in SYSTEM_IDS:
        mtype = MessageType.RECALL if RECALL_MARK in text else MessageType.SYSTEM
        sender_name = sender_name or "系统消息"
    return Record(
        platform=PLATFORM,
        conversation_id=f"{kind.value}:{name}",
        conversation_name=name,
        conversation_kind=kind,
        message_id=None,
        sender_id=msg.sender_id,
        sender_name=sender_name or msg.sender_id,
        timestamp_ms=ts,
        utc_offset_min=offset,
        type=mtype,
        text=text,
        raw=raw,
        attachments=attachments,
        line=msg.header.number,
    )


class QQTextImporter:
    """QQ message manager .txt export."""

    name = "qq"
    description = "QQ message manager .txt export (消息记录, header 'time Nickname(QQ)')"
    detect_order = 40

    def detect(self, path: Path) -> bool:
        """Return True when the preamble or a first QQ header line is present."""
        head = head_bytes(path, 4096)
        if not head:
            return False
        encoding = sniff_encoding(head)
        text = head.decode("utf-16" if encoding == "utf-16" else encoding, "ignore")
        if TITLE in text or re.search(r"^消息对象\s*[:：]", text, re.MULTILINE):
            return True
        first = text.lstrip("\ufeff\r\n ").split("\n", 1)[0].rstrip("\r")
        m = _HEADER.match(first)
        return bool(m and (_WITH_NUMBER.match(m.group(8)) or _WITH_EMAIL.match(m.group(8))))

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield one Record per message, or Rejected naming the line and its defect."""
        if not source.path.is_file() or source.is_zip:
            yield Rejected(None, "expects one .txt file exported by the QQ message manager")
            return
        reader = _Reader(source)
        with source.open() as f:
            for line in _lines(f, sniff_encoding(head_bytes(source.path, 8192))):
                if isinstance(line, Rejected):
                    reader.seen = True
                    yield line
                else:
                    yield from reader.feed(line)
        yield from reader.finish()


class _Reader:
    """The line-by-line state machine: preamble sections, headers, content lines."""

    def __init__(self, source: SourceInput) -> None:
        self.clock = LocalClock(source.tz)
        self.fallback = source.path.stem
        self.chat = _Chat()
        self.current: _Message | None = None
        self.held: _Line | None = None  # a '=' line: a section's start, or message text
        self.in_preamble = True
        self.skipping = False  # inside a message whose header was rejected
        self.prev_blank = True
        self.seen = False
        self.headers = 0  # header lines met, valid or not

    def _flush(self) -> Iterator[ParseResult]:
        if self.current is not None:
            yield _record(self.current, self.chat, self.fallback, self.clock)
            self.current = None

    def _start(self, line: _Line) -> Iterator[ParseResult]:
        """Start a message at a header line; reject a header-shaped line that is invalid."""
        try:
            header = parse_header(line.text)
        except InvalidHeader as exc:
            self.headers += 1
            yield from self._flush()
            yield Rejected(line.number, str(exc), line.text[:500])
            self.in_preamble, self.skipping = False, True
            return
        if header is None:
            return
        self.headers += 1
        yield from self._flush()
        when, sender_id, sender_name = header
        self.current = _Message(line, when, sender_id, sender_name)
        self.in_preamble, self.skipping = False, False

    def feed(self, line: _Line) -> Iterator[ParseResult]:
        """Consume one line; yield the message it completes, or a Rejected."""
        stripped = line.text.strip()
        self.seen = self.seen or bool(stripped)
        if self.held is not None:
            held, self.held = self.held, None
            if _SECTION.match(stripped):
                yield from self._flush()
                self.in_preamble, self.skipping = True, False
            elif self.current is not None:
                self.current.body.append(held)
        if self.in_preamble:
            yield from self._preamble(line, stripped)
            return
        if is_separator(stripped):
            self.held = line
            return
        if self.prev_blank and _HEADER.match(line.text):
            yield from self._start(line)
            self.prev_blank = False
            if self.current is not None or self.skipping:
                return
        if self.current is not None:
            self.current.body.append(line)
        self.prev_blank = not stripped

    def _preamble(self, line: _Line, stripped: str) -> Iterator[ParseResult]:
        section = _SECTION.match(stripped)
        if section is not None:
            key, value = section.group(1), section.group(2).strip()
            if key == _GROUP_KEY:
                self.chat = _Chat(group=value)
            else:
                self.chat.name = value
        elif stripped and stripped != TITLE and not is_separator(stripped):
            yield from self._start(line)
            if self.in_preamble:
                yield Rejected(
                    line.number,
                    "line before the first message header is not part of the preamble",
                    line.text[:500],
                )
        self.prev_blank = not stripped

    def finish(self) -> Iterator[ParseResult]:
        """Yield the last message, or a Rejected when the file held none."""
        if self.held is not None and self.current is not None:
            self.current.body.append(self.held)
        yield from self._flush()
        if not self.seen:
            yield Rejected(None, "file is empty")
        elif not self.headers:
            yield Rejected(None, "no message header ('YYYY-MM-DD HH:MM:SS Nickname(QQ)') found")


IMPORTER = QQTextImporter()
