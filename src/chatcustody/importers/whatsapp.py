"""``whatsapp``: WhatsApp "Export chat" text (a ``.txt``, or the ``.zip`` with its media).

A message starts with a date header, on Android ``12/24/19, 11:23 - Name: text`` and on
iOS ``[09/10/22 10:37:00 p.m.] Name: text``; lines without a header continue the message
above. Headers vary by phone locale: ``/ . -`` separators, year first or last (2 or 4
digits), 12 h (``AM``, ``a.m.``, ``a. m.``, ``上午``/``下午`` before or after the time) or
24 h, seconds or not; iOS puts U+200E before lines and attachments and U+202F before AM/PM.

Rules (see docs/formats/whatsapp.md):

- Day/month order is decided per chat file: ``source.options["dayfirst"]`` ("1"/"0")
  forces it; else a first field above 12 anywhere means day first, a second field above 12
  means month first (the majority wins); with no such line, ``.`` and ``-`` separators and
  ``/`` with anything but a plain ``AM``/``PM`` mean day first, ``/`` with ``AM``/``PM``
  (the en-US layout) means month first. A 4-digit first field is the year (Y/M/D).
- A 2-digit year is 20YY. Times are local: ``source.tz`` gives the UTC instant and offset.
- Lines without ``Name:`` are system lines (sender ``system``); so are iOS lines whose text
  starts with U+200E and is not media, a deletion, a call or a location.
- The conversation id and name are the chat's title from the file name ("WhatsApp Chat
  with 张三.txt" → "张三"; "_chat.txt" takes the name of its zip or folder);
  ``source.options["conversation"]`` overrides the id. The chat is direct when at most two
  people wrote in it and no group system line appears, else a group.
- WhatsApp has no message ids: records carry None and ingest dedupes by content.

Parsing streams line by line and reads each chat file twice: a survey pass (day/month
evidence, senders, group lines) and the pass that yields records; memory stays flat.
"""

from __future__ import annotations

import mimetypes
import re
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from chatcustody.importers._base import (
    ExportUnreadable,
    ParseResult,
    Rejected,
    SourceInput,
    head_bytes,
)
from chatcustody.importers._time import LocalClock
from chatcustody.importers._whatsapp_format import (
    _ATTACHED,
    _BIDI,
    _BOM,
    _CALL,
    _DELETED,
    _FILE_ATTACHED,
    _GROUP_LINE,
    _HEAD_BYTES,
    _HEADER,
    _IOS_OMITTED,
    _LOCATION,
    _MARKED,
    _MARKS,
    _MAX_MESSAGE_CHARS,
    _MEDIA_OMITTED,
    _OMITTED_TYPES,
    PLATFORM,
    SYSTEM_SENDER,
    _ChatFile,
    _file_type,
    _Pending,
    _Survey,
    chat_title,
    split_sender,
)
from chatcustody.model import Attachment, ConversationKind, MessageType, Record


class WhatsAppImporter:
    """WhatsApp's "Export chat" text, with or without media."""

    name = "whatsapp"
    description = "WhatsApp 'Export chat' text (.txt, or the .zip with media), Android and iOS"
    detect_order = 40

    def detect(self, path: Path) -> bool:
        """Return True for a .txt, zip or folder whose chat text starts with a date header."""
        try:
            if path.is_dir():
                names = [
                    p.relative_to(path).as_posix()
                    for p in (*path.glob("*.txt"), *path.glob("*/*.txt"))
                    if p.is_file()
                ]
                return any(
                    _looks_like_chat(head_bytes(path / rel, _HEAD_BYTES))
                    for rel in _chat_members(sorted(names))
                )
            if path.suffix.lower() == ".txt":
                return _looks_like_chat(head_bytes(path, _HEAD_BYTES))
            if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as zf:
                    for rel in _chat_members(zf.namelist()):
                        with zf.open(rel) as f:
                            if _looks_like_chat(f.read(_HEAD_BYTES)):
                                return True
        except Exception:  # detect must never raise, whatever the file holds
            return False
        return False

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield one Record per message of each chat file, or Rejected naming the line."""
        forced: bool | None = None
        option = source.options.get("dayfirst")
        if option is not None:
            if option not in ("1", "0"):
                yield Rejected(None, f"option dayfirst must be 1 or 0, not {option!r}")
                return
            forced = option == "1"
        try:
            chats = _chat_files(source)
        except (ExportUnreadable, OSError, KeyError) as exc:
            yield Rejected(None, f"cannot read the export: {exc}")
            return
        if not chats:
            yield Rejected(None, "no WhatsApp chat text file (.txt) found in the export")
            return
        if len(chats) > 1 and source.options.get("conversation"):
            names = ", ".join(c.name for c in chats)
            yield Rejected(None, f"option conversation needs an export of one chat, not {names}")
            return
        for chat in chats:
            try:
                yield from self._parse_chat(source, chat, forced)
            except (ExportUnreadable, OSError, KeyError) as exc:
                yield Rejected(None, f"{chat.name or source.path.name}: cannot read: {exc}")

    def _parse_chat(
        self, source: SourceInput, chat: _ChatFile, forced: bool | None
    ) -> Iterator[ParseResult]:
        survey = _survey(chat)
        dayfirst = survey.dayfirst() if forced is None else forced
        conversation_id = source.options.get("conversation") or chat.title
        where = f"{chat.name}: " if chat.name else ""
        present = source.presence()
        clock = _Clock(source, dayfirst)
        cache_key = ""
        cache_val: tuple[int, int] | str = ""
        pending: _Pending | None = None
        seen = False

        def finish(p: _Pending) -> ParseResult:
            return _build(p, conversation_id, chat, survey.kind, present, where)

        with chat.open() as f:
            for number, text in _lines(f):
                seen = True
                if text is None:
                    if pending is not None:
                        yield finish(pending)
                        pending = None
                    yield Rejected(number, f"{where}invalid UTF-8", "")
                    continue
                m = _HEADER.match(text)
                if m is None:
                    if pending is not None:
                        _extend(pending, text)
                    elif text.strip(_BIDI + " \t"):
                        yield Rejected(
                            number,
                            f"{where}line does not start with a WhatsApp date header "
                            "(e.g. '12/24/19, 11:23 - Name: text')",
                            text[:500],
                        )
                    continue
                if pending is not None:
                    yield finish(pending)
                key = text[: m.start("rest")]
                if key != cache_key:
                    cache_key, cache_val = key, clock.instant(m)
                sender, body = split_sender(m["rest"])
                pending = _Pending(number, cache_val, sender, [body], [text], len(body))
        if pending is not None:
            yield finish(pending)
        if not seen:
            yield Rejected(None, f"{where}file is empty")


def _extend(p: _Pending, text: str) -> None:
    if p.overflow:
        return
    p.size += len(text) + 1
    if p.size > _MAX_MESSAGE_CHARS:
        p.overflow = True
        return
    p.lines.append(text)
    p.raw.append(text)


def _build(
    p: _Pending,
    conversation_id: str,
    chat: _ChatFile,
    kind: ConversationKind,
    present: Callable[[str], bool],
    where: str,
) -> ParseResult:
    raw = p.raw[0] if len(p.raw) == 1 else "\n".join(p.raw)
    if p.overflow:
        return Rejected(
            p.line,
            f"{where}message is longer than {_MAX_MESSAGE_CHARS:,} characters "
            "(is this a WhatsApp export?)",
            raw[:500],
        )
    if isinstance(p.instant, str):
        return Rejected(p.line, f"{where}{p.instant}", raw[:500])
    ts, off = p.instant
    lines = p.lines
    while len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    text = lines[0] if len(lines) == 1 else "\n".join(lines)
    attachments: tuple[Attachment, ...] = ()
    if p.sender is None:
        mtype = MessageType.SYSTEM
    else:
        mtype, attachments = _content(text, chat.prefix, present)
    return Record(
        platform=PLATFORM,
        conversation_id=conversation_id,
        conversation_name=chat.title,
        conversation_kind=kind,
        message_id=None,
        sender_id=p.sender or SYSTEM_SENDER,
        sender_name=p.sender or SYSTEM_SENDER,
        timestamp_ms=ts,
        utc_offset_min=off,
        type=mtype,
        text=text,
        raw=raw,
        attachments=attachments,
        line=p.line,
    )


def _content(
    text: str, prefix: str, present: Callable[[str], bool]
) -> tuple[MessageType, tuple[Attachment, ...]]:
    """Return the type and attachments of a message's text."""
    if _MARKED.search(text) is None:
        return MessageType.TEXT, ()
    first = text.split("\n", 1)[0]
    m = _ATTACHED.search(first) or _FILE_ATTACHED.match(first)
    if m:
        name = m[1].strip(_BIDI + " ")
        rel = prefix + name
        mime = mimetypes.guess_type(name)[0]
        if present(rel):
            return _file_type(name), (Attachment(name, mime, rel, included=True),)
        return _file_type(name), (Attachment(name, mime, rel, included=False),)
    if _MEDIA_OMITTED.match(first):
        return MessageType.OTHER, (Attachment("media", included=False),)
    m = _IOS_OMITTED.search(first)
    if m:
        return _OMITTED_TYPES[m[1]], (Attachment(m[1].lower(), included=False),)
    if _DELETED.match(text):
        return MessageType.RECALL, ()
    if _CALL.match(text):
        return MessageType.CALL, ()
    if _LOCATION.match(text):
        return MessageType.LOCATION, ()
    return MessageType.TEXT, ()


_MIN_YEAR = 2009
_MAX_YEAR = 2199


class _Clock:
    """Turn header fields into (UTC ms, offset) through a per-hour :class:`LocalClock`."""

    def __init__(self, source: SourceInput, dayfirst: bool) -> None:
        self._dayfirst = dayfirst
        self._clock = LocalClock(source.tz)
        self._hour: tuple[int, int, int, int] | None = None
        self._base = datetime(1970, 1, 1)  # the current hour's start (set with _hour)

    def instant(self, m: re.Match[str]) -> tuple[int, int] | str:
        """Return (UTC ms, offset) of a header's local time, or why it cannot be read."""
        if m["y1"]:
            year, month, day = int(m["y1"]), int(m["m1"]), int(m["d1"])
        else:
            a, b, y = int(m["a"]), int(m["b"]), m["y"]
            year = int(y) + (2000 if len(y) == 2 else 0)
            day, month = (a, b) if self._dayfirst else (b, a)
        if not _MIN_YEAR <= year <= _MAX_YEAR:
            # WhatsApp did not exist before 2009: a year like 0024 is a damaged line.
            return f"year {year} is outside {_MIN_YEAR}–{_MAX_YEAR}"
        hour, minute, second = int(m["h"]), int(m["mi"]), int(m["s"] or 0)
        mark = m["pre"] or m["post"]
        if mark:
            meaning = _MARKS.get(re.sub(r"[\s.]", "", mark).lower())
            if meaning is None or not 1 <= hour <= 12:
                return f"time {m['h']}:{m['mi']} {mark} is not a valid 12-hour time"
            if meaning == "am":
                hour %= 12
            elif meaning == "pm" or hour < 11:
                hour = hour % 12 + 12
        key = (year, month, day, hour)
        if key != self._hour:
            try:
                start = datetime(year, month, day, hour)
            except ValueError:
                order = "day/month" if self._dayfirst else "month/day"
                when = m.group(0)[: m.start("rest")].strip(_BIDI + " []-–")
                return (
                    f"date {when!r} is not a valid {order} date and time "
                    "(force the order with the dayfirst option)"
                )
            self._hour = key
            self._base = start
        if minute > 59 or second > 59:
            return f"time {m['h']}:{m['mi']}:{m['s'] or '00'} is not a valid time"
        return self._clock.utc(self._base.replace(minute=minute, second=second))


def _lines(f: IO[bytes]) -> Iterator[tuple[int, str | None]]:
    """Yield (line number, text without line end), text None for invalid UTF-8."""
    for number, raw in enumerate(f, start=1):
        if number == 1 and raw.startswith(_BOM):
            raw = raw[3:]
        try:
            yield number, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield number, None


def _survey(chat: _ChatFile) -> _Survey:
    """Read a chat file once for day/month evidence, its senders and group lines."""
    s = _Survey()
    need_order = need_kind = True
    with chat.open() as f:
        for _, text in _lines(f):
            m = None if text is None else _HEADER.match(text)
            if m is None:
                continue
            if need_order:
                if m["y1"]:
                    need_order = False
                else:
                    a, b = int(m["a"]), int(m["b"])
                    s.day_votes += a > 12
                    s.month_votes += b > 12
                    if s.hint_dayfirst is None:
                        mark = m["pre"] or m["post"] or ""
                        s.hint_dayfirst = m["s2"] != "/" or mark not in ("AM", "PM")
                    need_order = s.day_votes + s.month_votes < 3
            if need_kind:
                sender, body = split_sender(m["rest"])
                if sender is None:
                    s.group_line = s.group_line or bool(_GROUP_LINE.search(body))
                else:
                    s.senders.add(sender)
                need_kind = s.kind is ConversationKind.DIRECT
            if not (need_order or need_kind):
                break
    return s


def _looks_like_chat(head: bytes) -> bool:
    if head.startswith(_BOM):
        head = head[3:]
    text = head.decode("utf-8", errors="replace")
    for line in text.splitlines()[:5]:
        if line.strip():
            return _HEADER.match(line) is not None
    return False


def _chat_members(names: list[str]) -> list[str]:
    """Return the chat text files among an export's member names (root or one folder down)."""
    txts = [n for n in names if n.lower().endswith(".txt") and n.count("/") <= 1]
    ios = [n for n in txts if PurePosixPath(n).name == "_chat.txt"]
    if ios:
        return ios
    return [n for n in txts if PurePosixPath(n).name.startswith("WhatsApp Chat")] or (
        txts if len(txts) == 1 else []
    )


def _chat_files(source: SourceInput) -> list[_ChatFile]:
    path = source.path
    if path.is_dir() or source.is_zip:
        container = chat_title(path.name)
        out = []
        for rel in _chat_members(source.members()):
            posix = PurePosixPath(rel)
            prefix = "" if len(posix.parts) == 1 else f"{posix.parent}/"
            if posix.name == "_chat.txt":
                title = container if not prefix else chat_title(posix.parent.name)
            else:
                title = chat_title(posix.name)
            out.append(_ChatFile(partial(source.open_member, rel), rel, prefix, title))
        return out
    title = chat_title(path.parent.name if path.name == "_chat.txt" else path.name)
    return [_ChatFile(source.open, "", "", title)]


IMPORTER = WhatsAppImporter()
