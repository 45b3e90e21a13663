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

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Final

from chatcustody.importers._base import (
    ExportUnreadable,
    ParseResult,
    Rejected,
    SourceInput,
    head_bytes,
)
from chatcustody.importers._json_stream import JsonStream, MalformedJson
from chatcustody.importers._telegram_messages import (
    BadMessage,
    Chat,
    Context,
    as_text,
    attachments_of,
    classify_message,
    encodable,
    instant_of,
    peer_ref_of,
    plain_text,
    service_text_of,
)
from chatcustody.model import (
    Amendment,
    ConversationKind,
    MessageType,
    Record,
)

PLATFORM: Final[str] = "telegram"
RESULT_JSON: Final[str] = "result.json"
_LOOKAHEAD_MESSAGES: Final[int] = 1000  # held while looking for a personal chat's owner
_EXCERPT_CHARS: Final[int] = 500
_UNSUPPORTED: Final[str] = (
    "(message type not supported by the exporter; the export gives no date: shown at the "
    "time of the message before it)"
)
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


def _convert(obj: Any, raw: str, line: int, chat: Chat, ctx: Context) -> list[ParseResult]:
    """Return the Record (and an edit Amendment) of one message object, or a Rejected."""
    if not isinstance(obj, dict):
        return [Rejected(line, "message is not a JSON object", raw[:_EXCERPT_CHARS])]
    mid = obj.get("id")
    if isinstance(mid, bool) or not isinstance(mid, int | str) or mid == "":
        return [Rejected(line, "message has no id", raw[:_EXCERPT_CHARS])]
    msg_id = str(mid)
    try:
        return _convert_message(obj, raw, msg_id, line, chat, ctx)
    except BadMessage as exc:
        return [Rejected(line, str(exc), raw[:_EXCERPT_CHARS], msg_id)]


def _convert_message(
    obj: dict[str, Any], raw: str, msg_id: str, line: int, chat: Chat, ctx: Context
) -> list[ParseResult]:
    kind = obj.get("type")
    plain, links_only = plain_text(obj["text"] if "text" in obj else obj.get("text_entities"))
    atts = attachments_of(obj, ctx)
    service = kind == "service"
    if kind == "unsupported":
        if ctx.last is None:
            raise BadMessage(
                "unsupported message has no date and no earlier message to place it by"
            )
        ts, off = ctx.last
        mtype, text = MessageType.OTHER, _UNSUPPORTED
    else:
        instant = instant_of(obj, "date_unixtime", "date", ctx)
        if instant is None:
            raise BadMessage("message has no date (date_unixtime or date)")
        ts, off = instant
        if service:
            mtype, text = MessageType.SYSTEM, service_text_of(obj, plain)
        else:
            mtype, description = classify_message(obj, links_only, atts)
            text = plain or description
            if not text:
                mtype, text = MessageType.OTHER, "(empty message)"
            if "forwarded_from" in obj:
                mtype = MessageType.FORWARD
    ref = peer_ref_of(obj.get("actor_id" if service else "from_id"))
    sender_name = as_text(obj.get("actor" if service else "from"))
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
        instant_of(obj, "edited_unixtime", "edited", ctx)
        if "edited" in obj or "edited_unixtime" in obj
        else None
    )
    if not encodable(
        text + sender_id + sender_name + (reply_to or ""),
        *(f"{a.name}{a.mime or ''}{a.path or ''}" for a in atts),
    ):
        raise BadMessage("the message has an invalid \\u escape (a lone surrogate)")
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


def _resolve(meta: dict[str, Any], owner: str | None) -> Chat:
    """Return how a chat's messages map, given its metadata and the export's owner."""
    chat_type = as_text(meta.get("type"))
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
    name = as_text(meta.get("name")) or defaults.get(chat_type, peer)
    if chat_type in _CHANNEL_TYPES:
        return Chat(peer, name, kind, peer, keep_ids=True)
    if owner is None:
        return Chat(peer, name, kind, peer, keep_ids=False)
    return Chat(f"{owner}/{peer}", name, kind, peer, keep_ids=True)


_CHAT_KEYS: Final[frozenset[str]] = frozenset({"name", "type", "id"})


def _walk_chat(stream: JsonStream, owner: str | None, ctx: Context) -> Iterator[ParseResult]:
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
    stream: JsonStream, meta: dict[str, Any], owner: str | None, ctx: Context
) -> Iterator[ParseResult]:
    """Walk a chat's messages array; its id and type must have come before it."""
    ctx.chats += 1
    if "id" not in meta or "type" not in meta:
        raise MalformedJson(
            stream.line(),
            "a chat lists its messages before its id and type (Telegram Desktop writes them "
            "first); the file was re-serialised",
        )
    mid = meta["id"]
    if isinstance(mid, bool) or not isinstance(mid, int | str) or mid == "":
        raise MalformedJson(stream.line(), f"chat id {mid!r} is not a number")
    if not encodable(as_text(meta.get("name")), as_text(meta.get("type"))):
        raise MalformedJson(stream.line(), "chat name has an invalid \\u escape (a lone surrogate)")
    chat_type = as_text(meta.get("type"))
    bare = str(meta["id"])
    if owner is None and chat_type == "saved_messages":
        owner = f"user{bare}"
    chat: Chat | None = _resolve(meta, owner)
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
        ref = peer_ref_of(obj.get(key))
        if ref is not None and ref != peer and _USER_ID.fullmatch(ref):
            return ref
    return None


def _walk(stream: JsonStream, ctx: Context) -> Iterator[ParseResult]:
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
        raise MalformedJson(stream.line(), "unexpected data after the end of the JSON document")
    if ctx.chats == 0:
        yield Rejected(None, "not a Telegram export: no 'messages' list and no 'chats.list'")


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
    raise BadMessage(f"option account must be a Telegram user id like user123456, not {value!r}")


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
        except BadMessage as exc:
            yield Rejected(None, str(exc))
            return
        if not (source.path.is_dir() or source.is_zip):
            yield from self._parse_file(source, owner, None)
            return
        try:
            members = _result_members(source.members())
        except (ExportUnreadable, OSError, KeyError) as exc:
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
            ctx = Context(source, owner, "" if member is None else member[: -len(RESULT_JSON)])
        except (ExportUnreadable, OSError, KeyError) as exc:
            yield Rejected(None, f"cannot read the export: {exc}")
            return
        with opened as f:
            try:
                yield from _walk(JsonStream(f), ctx)
            except MalformedJson as exc:
                yield Rejected(exc.line, exc.reason)
            except (ExportUnreadable, OSError, KeyError) as exc:
                yield Rejected(None, f"cannot read the export: {exc}")


IMPORTER = TelegramImporter()
