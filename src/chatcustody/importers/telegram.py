"""``telegram``: Telegram Desktop's JSON export (``result.json``: one chat or a whole account).

One chat is ``{name, type, id, messages[]}``; an account export nests chats in
``chats.list[]`` and ``left_chats.list[]`` beside ``personal_information`` and other
sections. The file can be large (an account's history), so it is walked incrementally:
containers by hand, each message (and every other small value) by
``json.JSONDecoder.raw_decode`` over a bounded buffer; memory stays flat.

Rules (see docs/formats/telegram.md):

- The instant is ``date_unixtime`` (epoch seconds), shown in ``source.tz``'s offset at that
  instant; without it, ``date`` (local, no zone) is read in ``source.tz``.
- Supergroups and channels number their messages per chat: conversation ``channel<id>``,
  message id as given. Personal chats, bot chats, saved messages and basic groups number
  them per *account*, so the same id means different messages in two people's exports:
  the conversation is ``<owner>/<peer>`` (``user1/user2``, ``user1/chat3``), the owner
  being ``source.options["account"]``, the account export's ``personal_information``,
  the saved-messages id, or the other writer in a personal/bot chat. When the owner
  cannot be known the conversation is ``<peer>`` and the message id None (ingest dedupes
  by content), so nothing can collide.
- ``edited``/``edited_unixtime`` add an ``Amendment`` (action "edit", text = the exported,
  final text). Service messages become ``system`` records. ``"unsupported"`` messages
  (no date in the export) take the time of the message before them and say so.
- Files the export names as a path are attachments, ``included`` when present in the
  export; "(File not included…)" and the other skip notices give ``included=False``.
"""

from __future__ import annotations

import codecs
import json
import mimetypes
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
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
    local_to_utc,
    offset_minutes,
)
from chatcustody.model import (
    Amendment,
    Attachment,
    ConversationKind,
    MessageType,
    Record,
    to_epoch_ms,
)

PLATFORM: Final[str] = "telegram"
RESULT_JSON: Final[str] = "result.json"
_READ_BYTES: Final[int] = 1 << 20
_MAX_VALUE_CHARS: Final[int] = 256 << 20  # one JSON value (a message, a section) at most
_MAX_EPOCH_S: Final[int] = 32_503_680_000  # year 3000
_LOOKAHEAD_MESSAGES: Final[int] = 1000  # held while looking for a personal chat's owner
_TAIL_CHARS: Final[int] = 16  # a decode error this close to the buffer end may be a cut
_EXCERPT_CHARS: Final[int] = 500
# What reading a corrupt, encrypted or unsupported zip (or an unreadable file) raises.
_READ_ERRORS: Final = (
    OSError,
    EOFError,
    KeyError,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,
    RuntimeError,
    UnicodeDecodeError,
)
_UNSUPPORTED: Final[str] = (
    "(message type not supported by the exporter; the export gives no date: shown at the "
    "time of the message before it)"
)
_WS: Final = re.compile(r"[ \t\n\r]*")
_DECODER: Final = json.JSONDecoder()
_TYPES: Final = re.compile(
    rb'"type"\s*:\s*"(?:personal_chat|bot_chat|saved_messages|replies|private_group'
    rb'|private_supergroup|public_supergroup|private_channel|public_channel)"'
)
_USER_ID: Final = re.compile(r"user\d+")
_CHANNEL_TYPES: Final[frozenset[str]] = frozenset(
    {"private_supergroup", "public_supergroup", "private_channel", "public_channel"}
)
_DIRECT_TYPES: Final[frozenset[str]] = frozenset(
    {"personal_chat", "bot_chat", "saved_messages", "replies"}
)
_MEDIA_TYPES: Final[dict[str, MessageType]] = {
    "sticker": MessageType.STICKER,
    "voice_message": MessageType.VOICE,
    "video_message": MessageType.VIDEO,
    "video_file": MessageType.VIDEO,
    "animation": MessageType.VIDEO,
    "audio_file": MessageType.FILE,
}
_ACTIONS: Final[dict[str, str]] = {
    "create_group": "created the group",
    "create_channel": "created the channel",
    "invite_members": "invited",
    "remove_members": "removed",
    "join_group_by_link": "joined by invite link",
    "join_group_by_request": "joined by request",
    "pin_message": "pinned message",
    "edit_group_title": "changed the title to",
    "edit_group_photo": "changed the group photo",
    "delete_group_photo": "removed the group photo",
    "migrate_to_supergroup": "converted the group to a supergroup",
    "migrate_from_group": "converted from the group",
    "phone_call": "phone call",
    "group_call": "group call",
    "invite_to_group_call": "invited to the group call",
    "clear_history": "cleared the history",
    "take_screenshot": "took a screenshot",
    "joined_telegram": "joined Telegram",
    "topic_created": "created the topic",
    "set_messages_ttl": "set auto-delete to",
}


class _Malformed(Exception):
    """The document cannot be read any further (becomes one Rejected, parsing stops)."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


class _Bad(ValueError):
    """A defect of one message (becomes a Rejected; parsing goes on)."""


class _JsonStream:
    """Walk one JSON document incrementally: containers by hand, leaves by raw_decode."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._started = False
        self._line = 1  # line number at self._counted
        self._counted = 0
        self._bytes = 0

    def line(self, pos: int | None = None) -> int:
        """Return the 1-based line number at ``pos`` (default: the read position)."""
        pos = self._pos if pos is None else pos
        if pos >= self._counted:
            self._line += self._buf.count("\n", self._counted, pos)
            self._counted = pos
            return self._line
        return self._line - self._buf.count("\n", pos, self._counted)

    def _fill(self, want: int) -> bool:
        """Append the next ``want`` bytes (decoded) to the buffer; False at end of file."""
        if self._eof:
            return False
        data = self._f.read(want)
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            line = self.line(len(self._buf)) + data[: exc.start].count(b"\n")
            raise _Malformed(
                line, f"invalid UTF-8 at byte {self._bytes + exc.start} of the file"
            ) from None
        self._bytes += len(data)
        if not data:
            self._eof = True
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        self.line()
        self._buf = self._buf[self._pos :] + text
        self._counted -= self._pos
        self._pos = 0
        return True

    def peek(self) -> str:
        """Skip whitespace; return the next character, or "" at the end of the file."""
        if self._pos < len(self._buf) and self._buf[self._pos] not in " \t\n\r":
            return self._buf[self._pos]
        while True:
            self._pos = _WS.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill(_READ_BYTES):
                return ""

    def expect(self, ch: str, what: str) -> None:
        """Consume ``ch`` or fail naming what was expected."""
        got = self.peek()
        if got != ch:
            raise self._unexpected(got, what)
        self._pos += 1

    def _unexpected(self, got: str, what: str) -> _Malformed:
        if not got:
            return _Malformed(self.line(), "the file ends inside the JSON document (truncated?)")
        return _Malformed(self.line(), f"expected {what} here, found {got!r}")

    def value(self) -> Any:
        """Decode the next complete JSON value."""
        return self._decode()[0]

    def _decode(self) -> tuple[Any, int, int]:
        if not self.peek():
            raise self._unexpected("", "a value")
        want = _READ_BYTES
        while True:
            start = self._pos
            try:
                obj, end = _DECODER.raw_decode(self._buf, start)
            except json.JSONDecodeError as exc:
                cut = exc.msg.startswith("Unterminated string") or (
                    exc.pos >= len(self._buf) - _TAIL_CHARS
                )
                if self._eof or not cut:
                    if self._eof and cut:
                        raise self._unexpected("", "a value") from None
                    raise _Malformed(self.line(exc.pos), f"malformed JSON: {exc.msg}") from None
            except (ValueError, RecursionError) as exc:
                raise _Malformed(self.line(), f"malformed JSON: {exc}") from None
            else:
                if end < len(self._buf) or self._eof:
                    self._pos = end
                    return obj, start, end
            if len(self._buf) - self._pos > _MAX_VALUE_CHARS:
                raise _Malformed(self.line(), "a JSON value is larger than 256 MiB")
            self._fill(want)
            want = min(want * 2, 64 << 20)

    def members(self) -> Iterator[str]:
        """Yield the keys of the object that starts here; the caller consumes each value."""
        self.expect("{", "'{'")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise _Malformed(self.line(), "malformed JSON: an object key is not a string")
            self.expect(":", "':'")
            yield key
            got = self.peek()
            if got not in (",", "}"):
                raise self._unexpected(got, "',' or '}'")
            self._pos += 1
            if got == "}":
                return

    def items(self) -> Iterator[int]:
        """Yield once per element of the array that starts here (its first line)."""
        self.expect("[", "'['")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            self.peek()
            yield self.line()
            got = self.peek()
            if got not in (",", "]"):
                raise self._unexpected(got, "',' or ']'")
            self._pos += 1
            if got == "]":
                return

    def elements(self) -> Iterator[tuple[int, Any, str]]:
        """Yield (first line, value, exact source text) of each element of the array here."""
        self.expect("[", "'['")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            line = self.line()
            obj, start, end = self._decode()
            yield line, obj, self._buf[start:end]
            got = self.peek()
            if got == "]":
                self._pos += 1
                return
            if got != ",":
                raise self._unexpected(got, "',' or ']'")
            self._pos += 1
            self.peek()


@dataclass(frozen=True, slots=True)
class _Chat:
    """How one chat's messages map to canonical records."""

    conversation_id: str
    name: str
    kind: ConversationKind
    peer: str  # the chat as a Telegram peer reference: user1, chat2, channel3
    keep_ids: bool  # False when ids may collide with another account's (dedupe by content)


class _Context:
    """State of one parse: the zone, the export owner, attachments and the last instant."""

    def __init__(self, source: SourceInput, owner: str | None, prefix: str) -> None:
        self.tz = source.tz
        self.owner = owner
        self.prefix = prefix
        self.present = _presence(source)
        self.last: tuple[int, int] | None = None
        self.chats = 0
        self._hour = -1
        self._hour_offset: int | None = None

    def instant(self, secs: int) -> tuple[int, int]:
        """Return (UTC ms, offset of the zone then) for epoch seconds.

        One zone lookup per hour: an hour whose first and last second share an offset has
        no transition inside it.
        """
        hour = secs // 3600
        if hour != self._hour:
            first = epoch_ms_with_zone(hour * 3_600_000, self.tz)[1]
            last = epoch_ms_with_zone(hour * 3_600_000 + 3_599_000, self.tz)[1]
            self._hour, self._hour_offset = hour, (first if first == last else None)
        if self._hour_offset is None:
            return epoch_ms_with_zone(secs * 1000, self.tz)
        return secs * 1000, self._hour_offset


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _encodable(*values: str) -> bool:
    """Return True when every string can be stored as UTF-8 (no lone surrogates)."""
    try:
        for value in values:
            value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _peer_ref(value: Any) -> str | None:
    """Return a sender reference ("user123") from a from_id/actor_id value."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return f"user{value}"  # exports before 2021 wrote bare user ids
    return None


def _instant(
    obj: dict[str, Any], unix_key: str, local_key: str, ctx: _Context
) -> tuple[int, int] | None:
    """Return (UTC ms, offset) from the epoch field, else the local ISO field; None if neither."""
    value = obj.get(unix_key)
    if value is not None:
        if isinstance(value, str) and value.isascii() and value.isdigit():
            secs = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            secs = value
        else:
            raise _Bad(f"{unix_key} is not a number: {value!r}")
        if not 0 <= secs <= _MAX_EPOCH_S:
            raise _Bad(f"{unix_key} {value!r} is out of range")
        return ctx.instant(secs)
    value = obj.get(local_key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(f"{local_key} is not a date string: {value!r}")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(f"{local_key} {value!r} is not an ISO 8601 date") from None
    if not 1970 <= dt.year <= 3000:
        raise _Bad(f"{local_key} {value!r} is out of range")
    if dt.tzinfo is not None:
        return to_epoch_ms(dt), offset_minutes(dt)
    return local_to_utc(dt, ctx.tz)


def _plain(value: Any) -> tuple[str, bool]:
    """Return (plain text, is only links) of a ``text`` value: a string or a part list."""
    if value is None:
        return "", False
    if isinstance(value, str):
        return value, False
    if not isinstance(value, list):
        raise _Bad("text is neither a string nor a list")
    parts: list[str] = []
    links = 0
    others = False
    for part in value:
        if isinstance(part, str):
            parts.append(part)
            others = others or bool(part.strip())
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
            if part.get("type") in ("link", "text_link"):
                links += 1
            elif part["text"].strip():
                others = True
        else:
            raise _Bad("a text part is neither a string nor an entity with text")
    return "".join(parts), links > 0 and not others


def _is_skipped(path: str) -> bool:
    """Return True for the exporter's "(File not included. …)"-style notices."""
    return path.endswith(")") and ("(File " in path or "(Photo " in path)


_FILE_KEYS: Final[tuple[str, ...]] = ("photo", "file", "contact_vcard", "thumbnail")
_CONTENT_KEYS: Final[frozenset[str]] = frozenset(
    {
        "photo",
        "media_type",
        "file",
        "location_information",
        "place_name",
        "address",
        "contact_information",
        "poll",
        "game_title",
        "invoice_information",
    }
)


def _attachments(obj: dict[str, Any], ctx: _Context) -> list[Attachment]:
    out: list[Attachment] = []
    if "photo" not in obj and "file" not in obj and "contact_vcard" not in obj:
        return out
    file_name = _s(obj.get("file_name"))
    for key in _FILE_KEYS:
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            continue
        if _is_skipped(value):
            if key == "thumbnail":
                continue  # a preview of the main file, which is recorded on its own
            default = _s(obj.get("media_type")) or key
            name = (file_name if key == "file" else "") or default
            mime = _s(obj.get("mime_type")) or None if key == "file" else None
            out.append(Attachment(name, mime, None, included=False))
            continue
        rel = ctx.prefix + value.replace("\\", "/")
        base = PurePosixPath(rel).name
        name = (file_name if key == "file" else "") or base
        if key == "file":
            mime = _s(obj.get("mime_type")) or mimetypes.guess_type(base)[0]
        elif key == "contact_vcard":
            mime = "text/vcard"
        else:
            mime = mimetypes.guess_type(base)[0]
        out.append(Attachment(name, mime, rel, included=ctx.present(rel)))
    return out


def _classify(
    obj: dict[str, Any], links_only: bool, atts: list[Attachment]
) -> tuple[MessageType, str]:
    """Return the type of an ordinary message and a description for when it has no text."""
    if obj.keys().isdisjoint(_CONTENT_KEYS):
        return (MessageType.LINK if links_only else MessageType.TEXT), ""
    first = atts[0].name if atts else ""
    if "photo" in obj:
        return MessageType.IMAGE, first or "photo"
    media = obj.get("media_type")
    if isinstance(media, str) and media:
        mtype = _MEDIA_TYPES.get(media, MessageType.FILE)
        seconds = obj.get("duration_seconds")
        length = f" ({seconds} s)" if isinstance(seconds, int) else ""
        if media == "sticker":
            return mtype, f"{_s(obj.get('sticker_emoji'))} sticker".strip()
        if media in ("voice_message", "video_message"):
            return mtype, media.replace("_", " ") + length
        if media == "audio_file":
            song = " – ".join(x for x in (_s(obj.get("performer")), _s(obj.get("title"))) if x)
            return mtype, (song or first or "audio file") + length
        return mtype, (first or media.replace("_", " ")) + length
    if "file" in obj:
        return MessageType.FILE, first or "file"
    location = obj.get("location_information")
    if "place_name" in obj or "address" in obj or location is not None:
        where = ", ".join(x for x in (_s(obj.get("place_name")), _s(obj.get("address"))) if x)
        if not where and isinstance(location, dict):
            where = f"{location.get('latitude')}, {location.get('longitude')}"
        return MessageType.LOCATION, where or "location"
    contact = obj.get("contact_information")
    if isinstance(contact, dict):
        who = " ".join(
            x
            for x in (
                _s(contact.get("first_name")),
                _s(contact.get("last_name")),
                _s(contact.get("phone_number")),
            )
            if x
        )
        return MessageType.CARD, who or "contact"
    poll = obj.get("poll")
    if isinstance(poll, dict):
        return MessageType.OTHER, f"poll: {_s(poll.get('question'))}".strip()
    if "game_title" in obj:
        return MessageType.OTHER, f"game: {_s(obj.get('game_title'))}"
    invoice = obj.get("invoice_information")
    if isinstance(invoice, dict):
        return MessageType.OTHER, f"invoice: {_s(invoice.get('title'))}"
    if links_only:
        return MessageType.LINK, ""
    return MessageType.TEXT, ""


def _service_text(obj: dict[str, Any], plain: str) -> str:
    """Describe a service message in one line ("赵队长 created the group «护卫队»: 钱, 孙")."""
    action = _s(obj.get("action"))
    parts = [_s(obj.get("actor")), _ACTIONS.get(action, action.replace("_", " "))]
    title = _s(obj.get("title")) or _s(obj.get("new_title"))
    if title:
        parts.append(f"«{title}»")
    members = obj.get("members")
    if isinstance(members, list) and members:
        parts[-1] += ":"
        parts.append(", ".join(m if isinstance(m, str) else "Deleted Account" for m in members))
    for key, fmt in (
        ("message_id", "#{}"),
        ("duration_seconds", "({} s)"),
        ("duration", "({} s)"),
        ("discard_reason", "({})"),
        ("period", "{} s"),
        ("information_text", "{}"),
    ):
        value = obj.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            parts.append(fmt.format(value))
    if plain:
        parts.append(plain)
    return " ".join(p for p in parts if p) or "service message"


def _convert(obj: Any, raw: str, line: int, chat: _Chat, ctx: _Context) -> list[ParseResult]:
    """Return the Record (and an edit Amendment) of one message object, or a Rejected."""
    if not isinstance(obj, dict):
        return [Rejected(line, "message is not a JSON object", raw[:_EXCERPT_CHARS])]
    mid = obj.get("id")
    if isinstance(mid, bool) or not isinstance(mid, int | str) or mid == "":
        return [Rejected(line, "message has no id", raw[:_EXCERPT_CHARS])]
    msg_id = str(mid)
    try:
        return _convert_message(obj, raw, msg_id, line, chat, ctx)
    except _Bad as exc:
        return [Rejected(line, str(exc), raw[:_EXCERPT_CHARS], msg_id)]


def _convert_message(
    obj: dict[str, Any], raw: str, msg_id: str, line: int, chat: _Chat, ctx: _Context
) -> list[ParseResult]:
    kind = obj.get("type")
    plain, links_only = _plain(obj["text"] if "text" in obj else obj.get("text_entities"))
    atts = _attachments(obj, ctx)
    service = kind == "service"
    if kind == "unsupported":
        if ctx.last is None:
            raise _Bad("unsupported message has no date and no earlier message to place it by")
        ts, off = ctx.last
        mtype, text = MessageType.OTHER, _UNSUPPORTED
    else:
        instant = _instant(obj, "date_unixtime", "date", ctx)
        if instant is None:
            raise _Bad("message has no date (date_unixtime or date)")
        ts, off = instant
        if service:
            mtype, text = MessageType.SYSTEM, _service_text(obj, plain)
        else:
            mtype, description = _classify(obj, links_only, atts)
            text = plain or description
            if not text:
                mtype, text = MessageType.OTHER, "(empty message)"
            if "forwarded_from" in obj:
                mtype = MessageType.FORWARD
    ref = _peer_ref(obj.get("actor_id" if service else "from_id"))
    sender_name = _s(obj.get("actor" if service else "from"))
    sender_id = ref or sender_name
    if not sender_id:
        if chat.kind is ConversationKind.CHANNEL and not service:
            sender_id, sender_name = chat.peer, chat.name
        else:
            sender_id = "system" if service else "unknown"
    reply = obj.get("reply_to_message_id")
    reply_to = None
    if reply is not None and isinstance(reply, int | str) and not isinstance(reply, bool):
        reply_peer = obj.get("reply_to_peer_id")
        if reply_peer is None or str(reply_peer) == chat.peer:
            reply_to = str(reply)  # a reply to another chat's message keeps its id in raw
    edited = (
        _instant(obj, "edited_unixtime", "edited", ctx)
        if "edited" in obj or "edited_unixtime" in obj
        else None
    )
    if not _encodable(
        text + sender_id + sender_name + (reply_to or ""),
        *(f"{a.name}{a.mime or ''}{a.path or ''}" for a in atts),
    ):
        raise _Bad("the message has an invalid \\u escape (a lone surrogate)")
    ctx.last = (ts, off)
    record = Record(
        platform=PLATFORM,
        conversation_id=chat.conversation_id,
        conversation_name=chat.name,
        conversation_kind=chat.kind,
        message_id=msg_id if chat.keep_ids else None,
        sender_id=sender_id,
        sender_name=sender_name,
        timestamp_ms=ts,
        utc_offset_min=off,
        type=mtype,
        text=text,
        raw=raw,
        reply_to=reply_to,
        attachments=tuple(atts),
        line=line,
    )
    if edited is None:
        return [record]
    return [
        record,
        Amendment(
            platform=PLATFORM,
            conversation_id=chat.conversation_id,
            message_id=msg_id,
            action="edit",
            timestamp_ms=edited[0],
            utc_offset_min=edited[1],
            actor_id=sender_id,
            text=text,
            raw=raw,
            line=line,
        ),
    ]


def _resolve(meta: dict[str, Any], owner: str | None) -> _Chat:
    """Return how a chat's messages map, given its metadata and the export's owner."""
    chat_type = _s(meta.get("type"))
    bare = str(meta["id"])
    if chat_type in _CHANNEL_TYPES:
        peer = f"channel{bare}"
    elif chat_type == "private_group":
        peer = f"chat{bare}"
    elif chat_type in _DIRECT_TYPES:
        peer = f"user{bare}"
    else:
        peer = f"peer{bare}"
    if chat_type in _DIRECT_TYPES:
        kind = ConversationKind.DIRECT
    elif chat_type.endswith("channel"):
        kind = ConversationKind.CHANNEL
    else:
        kind = ConversationKind.GROUP
    defaults = {"saved_messages": "Saved Messages", "replies": "Replies"}
    name = _s(meta.get("name")) or defaults.get(chat_type, peer)
    if chat_type in _CHANNEL_TYPES:
        return _Chat(peer, name, kind, peer, keep_ids=True)
    if owner is None:
        return _Chat(peer, name, kind, peer, keep_ids=False)
    return _Chat(f"{owner}/{peer}", name, kind, peer, keep_ids=True)


_CHAT_KEYS: Final[frozenset[str]] = frozenset({"name", "type", "id"})


def _walk_chat(stream: _JsonStream, owner: str | None, ctx: _Context) -> Iterator[ParseResult]:
    """Walk one chat object of an account export's chat list."""
    meta: dict[str, Any] = {}
    for key in stream.members():
        if key == "messages":
            yield from _walk_messages(stream, meta, owner, ctx)
        elif key in _CHAT_KEYS:
            meta[key] = stream.value()
        else:
            stream.value()


def _walk_messages(
    stream: _JsonStream, meta: dict[str, Any], owner: str | None, ctx: _Context
) -> Iterator[ParseResult]:
    """Walk a chat's messages array; its id and type must have come before it."""
    ctx.chats += 1
    if "id" not in meta or "type" not in meta:
        raise _Malformed(
            stream.line(),
            "a chat lists its messages before its id and type (Telegram Desktop writes them "
            "first); the file was re-serialised",
        )
    mid = meta["id"]
    if isinstance(mid, bool) or not isinstance(mid, int | str) or mid == "":
        raise _Malformed(stream.line(), f"chat id {mid!r} is not a number")
    if not _encodable(_s(meta.get("name")), _s(meta.get("type"))):
        raise _Malformed(stream.line(), "chat name has an invalid \\u escape (a lone surrogate)")
    chat_type = _s(meta.get("type"))
    bare = str(meta["id"])
    if owner is None and chat_type == "saved_messages":
        owner = f"user{bare}"
    chat: _Chat | None = _resolve(meta, owner)
    held: list[tuple[int, Any, str]] = []
    if owner is None and chat_type in ("personal_chat", "bot_chat"):
        chat = None  # look for the owner: the writer who is not the peer
    ctx.last = None
    for line, obj, raw in stream.elements():
        if chat is not None:
            yield from _convert(obj, raw, line, chat, ctx)
            continue
        held.append((line, obj, raw))
        found = _other_writer(obj, f"user{bare}")
        if found is not None or len(held) >= _LOOKAHEAD_MESSAGES:
            chat = _resolve(meta, found)
            for held_line, held_obj, held_raw in held:
                yield from _convert(held_obj, held_raw, held_line, chat, ctx)
            held.clear()
    if chat is None:
        chat = _resolve(meta, None)
        for held_line, held_obj, held_raw in held:
            yield from _convert(held_obj, held_raw, held_line, chat, ctx)


def _other_writer(obj: Any, peer: str) -> str | None:
    """Return the user id of a personal chat's writer other than the peer, if any."""
    if not isinstance(obj, dict):
        return None
    for key in ("from_id", "actor_id"):
        ref = _peer_ref(obj.get(key))
        if ref is not None and ref != peer and _USER_ID.fullmatch(ref):
            return ref
    return None


def _walk(stream: _JsonStream, ctx: _Context) -> Iterator[ParseResult]:
    """Walk the root: a single chat, or an account export with chat lists."""
    first = stream.peek()
    if not first:
        yield Rejected(None, "file is empty")
        return
    if first != "{":
        yield Rejected(stream.line(), "not a Telegram export: the top level is not a JSON object")
        return
    meta: dict[str, Any] = {}
    owner = ctx.owner
    for key in stream.members():
        if key == "messages":
            yield from _walk_messages(stream, meta, owner, ctx)
        elif key in ("chats", "left_chats"):
            for section_key in stream.members():
                if section_key != "list":
                    stream.value()
                    continue
                for _ in stream.items():
                    yield from _walk_chat(stream, owner, ctx)
        elif key == "personal_information":
            info = stream.value()
            user_id = info.get("user_id") if isinstance(info, dict) else None
            if owner is None and isinstance(user_id, int | str) and str(user_id).isdigit():
                owner = f"user{user_id}"
        elif key in _CHAT_KEYS:
            meta[key] = stream.value()
        else:
            stream.value()
    if stream.peek():
        raise _Malformed(stream.line(), "unexpected data after the end of the JSON document")
    if ctx.chats == 0:
        yield Rejected(None, "not a Telegram export: no 'messages' list and no 'chats.list'")


def _presence(source: SourceInput) -> Callable[[str], bool]:
    """Return a test of whether a relative path is a file in the export."""
    if source.is_zip:
        return set(source.members()).__contains__
    base = source.path if source.path.is_dir() else source.path.parent

    def present(rel: str) -> bool:
        posix = PurePosixPath(rel)
        if posix.is_absolute() or ".." in posix.parts:
            return False
        return (base / posix).is_file()

    return present


def _result_members(names: list[str]) -> list[str]:
    """Return the result.json files of a folder or zip export (root or one folder down)."""
    return sorted(n for n in names if PurePosixPath(n).name == RESULT_JSON and n.count("/") <= 1)


def _looks_like_export(head: bytes) -> bool:
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        return False
    if b'"personal_information"' in head and b'"user_id"' in head:
        return True
    return b'"messages"' in head and (_TYPES.search(head) is not None or b'"date_unixtime"' in head)


def _owner_option(source: SourceInput) -> str | None:
    value = source.options.get("account")
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return f"user{value}"
    if _USER_ID.fullmatch(value):
        return value
    raise _Bad(f"option account must be a Telegram user id like user123456, not {value!r}")


class TelegramImporter:
    """Telegram Desktop's JSON export."""

    name = "telegram"
    description = "Telegram Desktop JSON export (result.json: one chat or the whole account)"
    detect_order = 30

    def detect(self, path: Path) -> bool:
        """Return True for a result.json (or a folder/zip holding one) of Telegram Desktop."""
        try:
            if path.is_dir():
                names = [
                    p.relative_to(path).as_posix()
                    for p in (*path.glob(RESULT_JSON), *path.glob(f"*/{RESULT_JSON}"))
                ]
                members = _result_members(names)
                return bool(members) and _looks_like_export(head_bytes(path / members[0]))
            if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as zf:
                    members = _result_members(zf.namelist())
                    if not members:
                        return False
                    with zf.open(members[0]) as f:
                        return _looks_like_export(f.read(8192))
            return _looks_like_export(head_bytes(path))
        except Exception:  # detect must never raise, whatever the file holds
            return False

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield each chat's messages in file order, or Rejected naming the line."""
        try:
            owner = _owner_option(source)
        except _Bad as exc:
            yield Rejected(None, str(exc))
            return
        if not (source.path.is_dir() or source.is_zip):
            yield from self._parse_file(source, owner, None)
            return
        try:
            members = _result_members(source.members())
        except _READ_ERRORS as exc:
            yield Rejected(None, f"cannot read the export: {exc}")
            return
        if not members:
            yield Rejected(None, f"no {RESULT_JSON} in the export")
        for member in members:
            for item in self._parse_file(source, owner, member):
                if isinstance(item, Rejected):
                    item = Rejected(item.line, f"{member}: {item.reason}", item.raw, item.record)
                yield item

    def _parse_file(
        self, source: SourceInput, owner: str | None, member: str | None
    ) -> Iterator[ParseResult]:
        """Parse the export file itself (member None) or one result.json inside it."""
        try:
            opened = source.open() if member is None else source.open_member(member)
            ctx = _Context(source, owner, "" if member is None else member[: -len(RESULT_JSON)])
        except _READ_ERRORS as exc:
            yield Rejected(None, f"cannot read the export: {exc}")
            return
        with opened as f:
            try:
                yield from _walk(_JsonStream(f), ctx)
            except _Malformed as exc:
                yield Rejected(exc.line, exc.reason)
            except _READ_ERRORS as exc:
                yield Rejected(None, f"cannot read the export: {exc}")


IMPORTER = TelegramImporter()
