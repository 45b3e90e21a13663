"""``wechat-chatlog``: WeChat messages saved from chatlog's HTTP API as JSON.

chatlog (sjzar/chatlog) serves ``/api/v1/chatlog?talker=…&time=…&format=json``: a JSON
array of messages ``{seq, time, talker, talkerName, isChatRoom, sender, senderName, isSelf,
type, subType, content, contents{…}}`` with WeChat's type codes (see wechat.py). JSON lines
of the same objects are read too. See docs/formats/wechat.md.

Decisions, and why:

- The array is read incrementally (one element decoded at a time from a sliding buffer):
  an API dump of a busy group can be large, and memory must stay flat.
- ``message_id`` is ``seq`` (creation second × 1000 + a per-second sequence, unique within
  a talker); the conversation is ``talker`` (wxid or ``…@chatroom``), so chats line up with
  the ``wechat`` CSV importer when that file names talkers by wxid.
- ``time`` is RFC 3339 with the offset of the machine chatlog ran on: that offset is kept.
  Without ``time``, the instant is ``seq // 1000`` seconds shown in ``--tz``.
- Quotes (49/57) carry the quoted message in ``contents.refer`` but not its ``seq``, so
  ``reply_to`` stays empty and the quoted text is shown after the reply. Recall notices
  are ``recall`` records without ``target_id`` for the same reason.
- Media are not in the JSON: they become attachments with ``included=False``, named after
  ``contents.imgfile`` / ``videofile`` / ``voice`` / file title, or the md5.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final

from chatcustody.importers._base import (
    ParseResult,
    Rejected,
    SourceInput,
    epoch_ms_with_zone,
    head_bytes,
    offset_minutes,
)
from chatcustody.importers._wechat_types import (
    APP_TYPE,
    MEDIA_KINDS,
    PLATFORM,
    SELF_SENDER,
    SYSTEM_NAME,
    SYSTEM_SENDER,
    SYSTEM_TYPES,
    Payload,
    classify,
    is_number,
    join,
    missing_media,
    system_type,
)
from chatcustody.model import ConversationKind, MessageType, Record, to_epoch_ms

_CHUNK_BYTES: Final[int] = 1 << 16
_BOM: Final[str] = "\ufeff"
_WS: Final[re.Pattern[str]] = re.compile(r"[ \t\r\n]*")
_MIN_MS: Final[int] = 100_000_000_000  # 1973: earlier instants are defects, not chats
_MAX_MS: Final[int] = 4_102_444_800_000  # 2100
_MEDIA_KEYS: Final[dict[str, str]] = {"image": "imgfile", "video": "videofile", "voice": "voice"}
_DETECT_KEYS: Final[tuple[bytes, ...]] = (b'"seq"', b'"talker"', b'"isChatRoom"')


@dataclass(slots=True)
class JsonItem:
    """One element of the export: its index, the line it starts on, and its value."""

    index: int
    line: int
    value: Any = None
    text: str = ""  # the element's exact source text
    problem: str = ""  # set when the element could not be read; value is then None


class _ArrayReader:
    """Decode the elements of one top-level JSON array from a byte stream, one at a time."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._json = json.JSONDecoder()
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._line = 1
        self._counted = 0  # buf position up to which newlines are counted in _line
        self._started = False

    def more(self, want: int = _CHUNK_BYTES) -> bool:
        """Append at least ``want`` bytes (decoded) to the buffer; False at end of file."""
        if self.eof:
            return False
        chunk = self._stream.read(max(want, _CHUNK_BYTES))
        text = self._utf8.decode(chunk, final=not chunk)
        if not self._started:
            self._started = True
            text = text.removeprefix(_BOM)
        self.eof = not chunk
        self.line_at(self.pos)
        self.buf = self.buf[self.pos :] + text
        self._counted -= self.pos
        self.pos = 0
        return True

    def line_at(self, pos: int) -> int:
        """Return the 1-based line of buffer position ``pos`` (positions only move forward)."""
        self._line += self.buf.count("\n", self._counted, pos)
        self._counted = pos
        return self._line

    def skip_ws(self) -> str:
        """Skip whitespace and return the next character ('' at end of file)."""
        while True:
            m = _WS.match(self.buf, self.pos)
            assert m is not None  # the pattern matches the empty string
            self.pos = m.end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def value(self) -> tuple[Any, str]:
        """Decode the value at the current position, reading more input as needed.

        Return the value and its exact source text.
        """
        while True:
            try:
                value, end = self._json.raw_decode(self.buf, self.pos)
            except RecursionError:  # absurdly deep nesting: a defect, not a crash
                raise json.JSONDecodeError("nesting too deep", self.buf, self.pos) from None
            except json.JSONDecodeError as exc:
                truncated = exc.pos >= len(self.buf) - 8 or exc.msg.startswith("Unterminated")
                if truncated and self.more(len(self.buf)):
                    continue
                raise
            # A number ending exactly at the buffer's end may continue in the next chunk.
            if end >= len(self.buf) and not isinstance(value, dict | list) and self.more():
                continue
            start, self.pos = self.pos, end
            return value, self.buf[start:end]


def iter_json_array(stream: IO[bytes]) -> Iterator[JsonItem]:
    """Yield the elements of a top-level JSON array; a defect ends the stream with a problem."""
    reader = _ArrayReader(stream)
    index = 0
    try:
        if reader.skip_ws() != "[":
            yield JsonItem(0, reader.line_at(reader.pos), problem="file is not a JSON array")
            return
        reader.pos += 1
        if reader.skip_ws() == "]":
            reader.pos += 1
        else:
            while True:
                line = reader.line_at(reader.pos)
                try:
                    value, text = reader.value()
                except json.JSONDecodeError as exc:
                    yield JsonItem(index, line, problem=f"malformed JSON: {exc.msg}")
                    return
                yield JsonItem(index, line, value, text)
                index += 1
                nxt = reader.skip_ws()
                reader.pos += 1
                if nxt == "]":
                    break
                if nxt != ",":
                    where = reader.line_at(reader.pos - 1)
                    found = repr(nxt) if nxt else "end of file"
                    yield JsonItem(index, where, problem=f"expected ',' or ']', found {found}")
                    return
                reader.skip_ws()
        if reader.skip_ws():
            where = reader.line_at(reader.pos)
            yield JsonItem(index, where, problem="unexpected data after the JSON array")
    except UnicodeDecodeError as exc:
        where = reader.line_at(reader.pos)
        yield JsonItem(index, where, problem=f"invalid UTF-8 near element {index}: {exc.reason}")


def iter_json_lines(stream: IO[bytes]) -> Iterator[JsonItem]:
    """Yield one element per non-blank line of a JSON lines stream."""
    index = 0
    for number, raw in enumerate(stream, start=1):
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield JsonItem(index, number, problem=f"invalid UTF-8 at byte {exc.start}")
            index += 1
            continue
        if not text.strip():
            continue
        text = text.rstrip("\r\n")
        try:
            yield JsonItem(index, number, json.loads(text), text)
        except (ValueError, RecursionError) as exc:
            yield JsonItem(index, number, problem=f"malformed JSON: {exc}")
        index += 1


class InvalidItem(ValueError):
    """One message's defect (turned into a Rejected)."""


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidItem(f"{key} must be a string")
    return str(value)


def _int(obj: dict[str, Any], key: str, default: int | None = None) -> int:
    value = obj.get(key)
    if type(value) is int:
        return value
    if value is None and default is not None:
        return default
    if isinstance(value, str) and is_number(value):
        return int(value)
    raise InvalidItem(f"{key} is {'missing' if value is None else 'not a number'}")


def _name(path: str) -> str:
    return PurePosixPath(path.replace("\\", "/")).name


def chatlog_payload(mtype: int, subtype: int, content: str, contents: dict[str, Any]) -> Payload:
    """Return the payload of one chatlog message from its codes, content and contents."""

    def c(key: str) -> str:
        value = contents.get(key)
        return value.strip() if isinstance(value, str) else ""

    if mtype == 1:
        return Payload(MessageType.TEXT, content)
    ctype, label = classify(mtype, subtype)
    if mtype in SYSTEM_TYPES:
        text = content or label
        return Payload(system_type(mtype, text), text)
    if ctype in MEDIA_KINDS:
        kind = MEDIA_KINDS[ctype]
        name = _name(c(_MEDIA_KEYS[kind])) or c("md5") or c("rawmd5")
        return Payload(ctype, label, missing_media(kind, name))
    if mtype == APP_TYPE:
        title = c("title")
        if subtype == 6:
            return Payload(ctype, join(label, title), missing_media("file", title or c("md5")))
        if subtype == 57:
            text = content or label
            refer = contents.get("refer")
            if isinstance(refer, dict) and refer.get("type") == 1:
                quoted = refer.get("content")
                who = refer.get("senderName") or refer.get("sender") or ""
                if isinstance(quoted, str) and quoted:
                    text = f"{text}\n「{who}：{quoted}」"
            return Payload(ctype, text)
        if subtype in (19, 40):
            return Payload(ctype, "\n".join(p for p in (join(label, title), c("desc")) if p))
        if ctype is MessageType.LINK:
            return Payload(ctype, join(label, title, c("url")))
        return Payload(ctype, content or join(label, title))
    if content and not content.lstrip().startswith("<"):
        return Payload(ctype, content if ctype is MessageType.CALL else join(label, content))
    return Payload(ctype, label)


def _instant(obj: dict[str, Any], seq: int, source: SourceInput) -> tuple[int, int]:
    value = obj.get("time")
    if value is None:
        ts, offset = epoch_ms_with_zone(seq // 1000 * 1000, source.tz)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidItem(f"time {value[:40]!r} is not RFC 3339") from None
        if dt.tzinfo is None:
            raise InvalidItem(f"time {value[:40]!r} has no UTC offset")
        ts, offset = to_epoch_ms(dt), offset_minutes(dt)
    else:
        raise InvalidItem("time must be an RFC 3339 string")
    if not _MIN_MS <= ts <= _MAX_MS:
        what = f"seq {seq} does not encode" if value is None else f"time {value!r} is not"
        raise InvalidItem(f"{what} a time between 1973 and 2100")
    return ts, offset


def record_from_message(obj: Any, text: str, line: int, source: SourceInput) -> Record:
    """Build a Record from one chatlog message object; raise InvalidItem on any defect."""
    if not isinstance(obj, dict):
        raise InvalidItem("element is not a JSON object")
    seq = _int(obj, "seq")
    talker = _str(obj, "talker").strip()
    if not talker:
        raise InvalidItem("talker is missing")
    mtype = _int(obj, "type")
    subtype = _int(obj, "subType", 0)
    ts, offset = _instant(obj, seq, source)
    contents = obj.get("contents")
    if contents is not None and not isinstance(contents, dict):
        raise InvalidItem("contents must be an object")
    group = obj.get("isChatRoom") is True or talker.endswith("@chatroom")
    kind = ConversationKind.GROUP if group else ConversationKind.DIRECT
    payload = chatlog_payload(mtype, subtype, _str(obj, "content"), contents or {})
    sender, sender_name = _str(obj, "sender").strip(), _str(obj, "senderName").strip()
    if mtype in SYSTEM_TYPES or sender == SYSTEM_NAME:
        sender, sender_name = SYSTEM_SENDER, SYSTEM_NAME
    elif not sender and obj.get("isSelf") is True:
        sender, sender_name = SELF_SENDER, sender_name or "我"
    elif not sender:
        sender = "unknown" if group else talker
    return Record(
        platform=PLATFORM,
        conversation_id=talker,
        conversation_name=_str(obj, "talkerName").strip() or talker,
        conversation_kind=kind,
        message_id=str(seq),
        sender_id=sender,
        sender_name=sender_name or sender,
        timestamp_ms=ts,
        utc_offset_min=offset,
        type=payload.type,
        text=payload.text,
        raw=text or json.dumps(obj, ensure_ascii=False),
        attachments=payload.attachments,
        line=line,
    )


def _first_char(stream: IO[bytes]) -> bytes:
    head = stream.read(4096).removeprefix(b"\xef\xbb\xbf").lstrip()
    return head[:1]


class ChatlogImporter:
    """chatlog's ``/api/v1/chatlog?format=json`` output."""

    name = "wechat-chatlog"
    description = "WeChat messages from chatlog's HTTP API (/api/v1/chatlog?format=json)"
    detect_order = 30

    def detect(self, path: Path) -> bool:
        """Return True for a JSON array or JSON lines of chatlog message objects."""
        head = head_bytes(path).removeprefix(b"\xef\xbb\xbf").lstrip()
        return head[:1] in (b"[", b"{") and all(key in head for key in _DETECT_KEYS)

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield one Record per message, or Rejected naming the element and its defect."""
        if not source.path.is_file() or source.is_zip:
            yield Rejected(None, "expects one JSON file saved from chatlog's HTTP API")
            return
        with source.open() as f:
            start = _first_char(f)
        if start not in (b"[", b"{"):
            reason = "file is empty" if not start else "file is not a JSON array or JSON lines"
            yield Rejected(None if not start else 1, reason)
            return
        seen = False
        with source.open() as f:
            items = iter_json_array(f) if start == b"[" else iter_json_lines(f)
            for item in items:
                seen = True
                where = f"#{item.index}"
                if item.problem:
                    yield Rejected(item.line, item.problem, "", where)
                    continue
                try:
                    yield record_from_message(item.value, item.text, item.line, source)
                except InvalidItem as exc:
                    raw = item.text[:500]
                    seq = item.value.get("seq") if isinstance(item.value, dict) else None
                    yield Rejected(item.line, str(exc), raw, where if seq is None else f"seq {seq}")
        if not seen:
            yield Rejected(None, "the export holds no messages")


IMPORTER = ChatlogImporter()
