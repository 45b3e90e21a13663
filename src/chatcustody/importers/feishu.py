"""``feishu``: Feishu / Lark ``im/v1/messages`` API pages, as saved by an export script.

Accepted shapes, in one ``.json`` / ``.jsonl`` file or a folder / zip of them:

- one page ``{"code": 0, "msg": "success", "data": {"has_more", "page_token", "items": [...]}}``
  (or its ``data`` object alone);
- an array of such pages (every page of a chat, in order);
- JSON lines: one page or one message item per line.

Items are decoded one at a time with the streaming reader in ``discord.py`` (memory stays
flat whatever the number of pages); ``raw`` is each item's exact source text.
``body.content`` is itself a JSON string and is decoded per ``msg_type``; ``@_user_N``
mention keys are replaced by ``@name``. ``create_time`` / ``update_time`` are epoch
milliseconds (strings); their display offset is that of ``--tz``. ``deleted: true`` (a
recalled message, whose content Feishu replaces by ``"This message was recalled"``) gives
the Record plus a ``delete`` Amendment; ``updated: true`` gives the Record (Feishu returns
only the current content) plus an ``edit`` Amendment at ``update_time``. Merged-forward
children (``upper_message_id``) are Records whose ``reply_to`` is the forward.
The API names no chat, no chat type and no sender names: the conversation is named by its
``chat_id``, is a group unless an item says ``chat_type: "p2p"``, and senders have no name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from chatcustody.importers._base import ParseResult, Rejected, SourceInput, epoch_ms_with_zone
from chatcustody.importers._export import (
    MAX_EPOCH_MS,
    MIN_EPOCH_MS,
    ExportFile,
    as_dict,
    as_list,
    as_str,
    detect_export,
    guess_mime,
    readable_files,
    walk_file,
)
from chatcustody.importers._json import Found, InvalidMessage
from chatcustody.model import Amendment, Attachment, ConversationKind, MessageType, Record

PLATFORM: Final[str] = "feishu"
_EXTS: Final[tuple[str, ...]] = (".json", ".jsonl", ".ndjson")
_ITEM_KEYS: Final[frozenset[str]] = frozenset({"items"})
_NEST_KEYS: Final[frozenset[str]] = frozenset({"data"})
_TYPES: Final[dict[str, MessageType]] = {
    "text": MessageType.TEXT,
    "post": MessageType.TEXT,
    "image": MessageType.IMAGE,
    "file": MessageType.FILE,
    "folder": MessageType.FILE,
    "audio": MessageType.VOICE,
    "media": MessageType.VIDEO,
    "sticker": MessageType.STICKER,
    "interactive": MessageType.CARD,
    "share_chat": MessageType.CARD,
    "share_user": MessageType.CARD,
    "share_calendar_event": MessageType.CARD,
    "calendar": MessageType.CARD,
    "general_calendar": MessageType.CARD,
    "merge_forward": MessageType.FORWARD,
    "system": MessageType.SYSTEM,
    "location": MessageType.LOCATION,
    "video_chat": MessageType.CALL,
}
_KINDS: Final[dict[str, ConversationKind]] = {
    "p2p": ConversationKind.DIRECT,
    "group": ConversationKind.GROUP,
    "topic_group": ConversationKind.GROUP,
}
_GROUP: Final = ConversationKind.GROUP
_decode: Final = json.JSONDecoder().decode
_DIGITS: Final = re.compile(r"[0-9]{1,16}")
_SLOT: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAX_DEPTH: Final[int] = 12  # nesting walked when collecting a card's text
_SNIFF_ITEM: Final[tuple[bytes, ...]] = (b'"message_id"', b'"msg_type"', b'"create_time"')
_SNIFF_PAGE: Final[tuple[bytes, ...]] = (b'"code"', b'"items"', b'"has_more"')


def _sniff(head: bytes) -> bool:
    return all(k in head for k in _SNIFF_ITEM) or all(k in head for k in _SNIFF_PAGE)


def _epoch_ms(value: Any, field: str) -> int:
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        ms = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        ms = value
    else:
        raise InvalidMessage(f"{field} is not epoch milliseconds: {value!r}")
    if ms < MIN_EPOCH_MS and ms >= 1_000_000_000:
        raise InvalidMessage(f"{field} {value!r} looks like epoch seconds, not milliseconds")
    if not MIN_EPOCH_MS <= ms < MAX_EPOCH_MS:
        raise InvalidMessage(f"{field} {value!r} is outside 1973–2100")
    return ms


@lru_cache(maxsize=256)
def _mention_pattern(keys: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first and not followed by a digit, so "@_user_1" never eats "@_user_10".
    alternatives = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
    return re.compile(f"(?:{alternatives})(?![0-9])")


def _with_mentions(text: str, mentions: dict[str, str]) -> str:
    if not mentions or "@" not in text:
        return text
    return _mention_pattern(tuple(mentions)).sub(lambda m: mentions[m.group(0)], text)


def _post(content: dict[str, Any], mentions: dict[str, str]) -> tuple[str, tuple[Attachment, ...]]:
    """Render a rich-text post: title, then one line per paragraph; images are attachments."""
    if "content" not in content:  # the send form keyed by language: take the first one
        content = next((v for v in content.values() if isinstance(v, dict)), {})
    lines = []
    files: list[Attachment] = []
    title = as_str(content.get("title"))
    if title:
        lines.append(title)
    for paragraph in as_list(content.get("content")):
        parts = []
        for el in as_list(paragraph):
            el = as_dict(el)
            tag = el.get("tag")
            if tag == "at":
                key = as_str(el.get("user_id")) or ""
                name = as_str(el.get("user_name")) or mentions.get(key, "").lstrip("@") or key
                parts.append(f"@{name}")
            elif tag in ("img", "media"):
                key = as_str(el.get("image_key" if tag == "img" else "file_key")) or ""
                if key:
                    files.append(Attachment(name=key, included=False))
                parts.append(f"[{'image' if tag == 'img' else 'video'} {key}]")
            elif tag == "emotion":
                parts.append(f"[{as_str(el.get('emoji_type')) or 'emoji'}]")
            elif tag == "a":
                text, href = as_str(el.get("text")) or "", as_str(el.get("href")) or ""
                parts.append(f"{text} ({href})" if text and href and text != href else text or href)
            else:
                parts.append(as_str(el.get("text")) or "")
        lines.append("".join(parts))
    return _with_mentions("\n".join(lines), mentions), tuple(files)


def _collect(value: Any, out: list[str], depth: int = 0) -> None:
    """Collect the human-readable strings of a card (titles, texts), depth-first."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, v in value.items():
            if key in ("title", "text", "content", "summary", "topic") and isinstance(v, str):
                if v and (not out or out[-1] != v):
                    out.append(v)
            else:
                _collect(v, out, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _collect(v, out, depth + 1)


def _system_text(content: dict[str, Any]) -> str:
    template = as_str(content.get("template")) or ""

    def fill(m: re.Match[str]) -> str:
        v = content.get(m.group(1))
        if isinstance(v, list):
            return ", ".join(s for s in (as_str(x) for x in v) if s)
        if isinstance(v, dict) and as_str(v.get("text")):
            return str(v["text"])
        return as_str(v) or m.group(0)

    return _SLOT.sub(fill, template)


def _body(
    msg_type: str, content: Any, mentions: dict[str, str]
) -> tuple[str, tuple[Attachment, ...]]:
    """Return (text, attachments) of a decoded ``body.content``."""
    if not isinstance(content, dict):
        return (as_str(content) or "", ())
    s = as_str
    if msg_type == "text":
        return _with_mentions(s(content.get("text")) or "", mentions), ()
    if msg_type == "post":
        return _post(content, mentions)
    if msg_type == "system":
        return _system_text(content), ()
    if msg_type in ("image", "file", "folder", "audio", "media", "sticker"):
        key = s(content.get("file_key")) or s(content.get("image_key")) or ""
        name = s(content.get("file_name")) or key
        if not name:
            return "", ()
        text = name
        duration = content.get("duration")
        if msg_type == "audio" and isinstance(duration, int) and not isinstance(duration, bool):
            text = f"{name} ({duration / 1000:.1f} s)"
        return text, (Attachment(name=name, mime=guess_mime(name), included=False),)
    if msg_type == "share_chat":
        return f"shared chat {s(content.get('chat_id')) or ''}".strip(), ()
    if msg_type == "share_user":
        return f"shared contact {s(content.get('user_id')) or ''}".strip(), ()
    if msg_type == "location":
        name = s(content.get("name")) or ""
        lat, lon = s(content.get("latitude")), s(content.get("longitude"))
        return (f"{name} ({lat}, {lon})".strip() if lat and lon else name), ()
    out: list[str] = []
    _collect(content, out)
    return "\n".join(out), ()


def _mentions(value: Any) -> dict[str, str]:
    """Return mention key → "@name" (the name, else the user id)."""
    out = {}
    for m in as_list(value):
        m = as_dict(m)
        key = as_str(m.get("key"))
        if key:
            out[key] = f"@{as_str(m.get('name')) or as_str(m.get('id')) or key}"
    return out


def item_to_items(
    obj: Any, raw: str, line: int | None, source: SourceInput
) -> list[Record | Amendment]:
    """Map one im/v1 message item to its Record and Amendments; raise InvalidMessage."""
    if not isinstance(obj, dict):
        raise InvalidMessage("message item is not a JSON object")
    mid = as_str(obj.get("message_id"))
    if not mid:
        raise InvalidMessage("message item has no message_id")
    chat = as_str(obj.get("chat_id"))
    if not chat:
        raise InvalidMessage("message item has no chat_id")
    msg_type = as_str(obj.get("msg_type"))
    if not msg_type:
        raise InvalidMessage("message item has no msg_type")
    ts, off = epoch_ms_with_zone(_epoch_ms(obj.get("create_time"), "create_time"), source.tz)
    deleted, updated = obj.get("deleted") is True, obj.get("updated") is True
    raw_content = as_dict(obj.get("body")).get("content")
    if raw_content is None:
        raw_content = ""
    if not isinstance(raw_content, str):
        raise InvalidMessage("body.content is not a string")
    try:
        content: Any = _decode(raw_content) if raw_content else ""
    except (ValueError, RecursionError):
        # Recalled messages and merge_forward carry plain text, not JSON.
        if not (deleted or msg_type == "merge_forward"):
            raise InvalidMessage("body.content is not valid JSON") from None
        content = raw_content
    mentions = _mentions(obj["mentions"]) if obj.get("mentions") else {}
    text, attachments = _body(msg_type, content, mentions)
    sender = as_dict(obj.get("sender"))
    sender_id = as_str(sender.get("id")) or (
        "system" if msg_type == "system" else as_str(sender.get("sender_type")) or "unknown"
    )
    reply_to = as_str(obj.get("parent_id")) or as_str(obj.get("upper_message_id"))
    chat_type = obj.get("chat_type")
    record = Record(
        platform=PLATFORM,
        conversation_id=chat,
        conversation_name=as_str(obj.get("chat_name")) or chat,
        conversation_kind=_KINDS.get(chat_type, _GROUP) if isinstance(chat_type, str) else _GROUP,
        message_id=mid,
        sender_id=sender_id,
        sender_name=as_str(sender.get("name")) or "",
        timestamp_ms=ts,
        utc_offset_min=off,
        type=_TYPES.get(msg_type, MessageType.OTHER),
        text=text,
        raw=raw,
        reply_to=reply_to if reply_to != mid else None,
        attachments=attachments,
        line=line,
    )
    items: list[Record | Amendment] = [record]
    if updated or deleted:
        changed = obj.get("update_time")
        ams, aoff = (
            (ts, off)
            if changed in (None, "")
            else epoch_ms_with_zone(_epoch_ms(changed, "update_time"), source.tz)
        )
        if updated:
            items.append(
                Amendment(PLATFORM, chat, mid, "edit", ams, aoff, sender_id, text, raw, line)
            )
        if deleted:
            items.append(
                Amendment(PLATFORM, chat, mid, "delete", ams, aoff, sender_id, "", raw, line)
            )
    return items


class FeishuImporter:
    """Feishu / Lark im/v1 message pages."""

    name = "feishu"
    description = "Feishu / Lark chat history saved from the im/v1/messages API (JSON pages)"
    detect_order = 30

    def detect(self, path: Path) -> bool:
        """Return True for saved im/v1 message pages or items (or a folder/zip of them)."""
        return detect_export(path, _sniff, _EXTS)

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield each item's Record (+ Amendments), or Rejected naming line and defect."""
        none = "the folder holds no Feishu im/v1 message file"
        for f in readable_files(source, _sniff, _EXTS, none):
            if isinstance(f, Rejected):
                yield f
                continue
            for found in walk_file(source, f, _ITEM_KEYS, _NEST_KEYS):
                if isinstance(found, Rejected):
                    yield found
                else:
                    yield from self._found(found, source, f)

    def _found(self, found: Found, source: SourceInput, f: ExportFile) -> Iterator[ParseResult]:
        value = found.value
        is_item = found.kind == "item" or (found.kind == "object" and "message_id" in value)
        if is_item:
            try:
                yield from item_to_items(value, found.raw, found.line, source)
            except InvalidMessage as exc:
                record = as_str(value.get("message_id")) if isinstance(value, dict) else None
                yield Rejected(found.line, f.where(str(exc)), found.raw[:500], record)
            return
        if found.kind == "other":
            reason = f"expected a page or a message object, found {type(value).__name__}"
        elif value.get("code", 0) != 0:
            msg = as_str(value.get("msg")) or ""
            reason = f"the page is an API error response: code {value.get('code')} {msg}".rstrip()
        elif found.kind == "object" and "code" not in value:
            reason = "object is neither an im/v1 messages page nor a message item"
        else:
            return  # a page: its items came before
        yield Rejected(found.line, f.where(reason), found.raw[:500])


IMPORTER = FeishuImporter()
