"""Telegram messages as canonical items: chats, parse context, text, attachments, types.

The pieces of one message the ``telegram`` importer converts: its instant (epoch or local
ISO time), its plain text (a string or a list of parts), its files (present in the export
or not) and its canonical type, or a service action's text.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Final

from chatcustody.importers._base import (
    SourceInput,
    local_to_utc,
    offset_minutes,
)
from chatcustody.importers._time import ZoneOffsets
from chatcustody.model import (
    Attachment,
    ConversationKind,
    MessageType,
    to_epoch_ms,
)

_MAX_EPOCH_S: Final[int] = 32_503_680_000  # year 3000
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


class BadMessage(ValueError):
    """A defect of one message (becomes a Rejected; parsing goes on)."""


@dataclass(frozen=True, slots=True)
class Chat:
    """How one chat's messages map to canonical records."""

    conversation_id: str
    name: str
    kind: ConversationKind
    peer: str  # the chat as a Telegram peer reference: user1, chat2, channel3
    keep_ids: bool  # False when ids may collide with another account's (dedupe by content)


class Context:
    """State of one parse: the zone, the export owner, attachments and the last instant."""

    def __init__(self, source: SourceInput, owner: str | None, prefix: str) -> None:
        self.tz = source.tz
        self.owner = owner
        self.prefix = prefix
        self.present = source.presence()
        self.last: tuple[int, int] | None = None
        self.chats = 0
        self._zone = ZoneOffsets(source.tz)

    def instant(self, secs: int) -> tuple[int, int]:
        """Return (UTC ms, offset of the zone then) for epoch seconds (one lookup per hour)."""
        return self._zone.at(secs * 1000)


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def encodable(*values: str) -> bool:
    """Return True when every string can be stored as UTF-8 (no lone surrogates)."""
    try:
        for value in values:
            value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def peer_ref_of(value: Any) -> str | None:
    """Return a sender reference ("user123") from a from_id/actor_id value."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return f"user{value}"  # exports before 2021 wrote bare user ids
    return None


def instant_of(
    obj: dict[str, Any], unix_key: str, local_key: str, ctx: Context
) -> tuple[int, int] | None:
    """Return (UTC ms, offset) from the epoch field, else the local ISO field; None if neither."""
    value = obj.get(unix_key)
    if value is not None:
        if isinstance(value, str) and value.isascii() and value.isdigit():
            secs = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            secs = value
        else:
            raise BadMessage(f"{unix_key} is not a number: {value!r}")
        if not 0 <= secs <= _MAX_EPOCH_S:
            raise BadMessage(f"{unix_key} {value!r} is out of range")
        return ctx.instant(secs)
    value = obj.get(local_key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadMessage(f"{local_key} is not a date string: {value!r}")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise BadMessage(f"{local_key} {value!r} is not an ISO 8601 date") from None
    if not 1970 <= dt.year <= 3000:
        raise BadMessage(f"{local_key} {value!r} is out of range")
    if dt.tzinfo is not None:
        return to_epoch_ms(dt), offset_minutes(dt)
    return local_to_utc(dt, ctx.tz)


def plain_text(value: Any) -> tuple[str, bool]:
    """Return (plain text, is only links) of a ``text`` value: a string or a part list."""
    if value is None:
        return "", False
    if isinstance(value, str):
        return value, False
    if not isinstance(value, list):
        raise BadMessage("text is neither a string nor a list")
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
            raise BadMessage("a text part is neither a string nor an entity with text")
    return "".join(parts), links > 0 and not others


def is_skipped_path(path: str) -> bool:
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


def attachments_of(obj: dict[str, Any], ctx: Context) -> list[Attachment]:
    out: list[Attachment] = []
    if "photo" not in obj and "file" not in obj and "contact_vcard" not in obj:
        return out
    file_name = as_text(obj.get("file_name"))
    for key in _FILE_KEYS:
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            continue
        if is_skipped_path(value):
            if key == "thumbnail":
                continue  # a preview of the main file, which is recorded on its own
            default = as_text(obj.get("media_type")) or key
            name = (file_name if key == "file" else "") or default
            mime = as_text(obj.get("mime_type")) or None if key == "file" else None
            out.append(Attachment(name, mime, None, included=False))
            continue
        rel = ctx.prefix + value.replace("\\", "/")
        base = PurePosixPath(rel).name
        name = (file_name if key == "file" else "") or base
        if key == "file":
            mime = as_text(obj.get("mime_type")) or mimetypes.guess_type(base)[0]
        elif key == "contact_vcard":
            mime = "text/vcard"
        else:
            mime = mimetypes.guess_type(base)[0]
        out.append(Attachment(name, mime, rel, included=ctx.present(rel)))
    return out


def classify_message(
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
            return mtype, f"{as_text(obj.get('sticker_emoji'))} sticker".strip()
        if media in ("voice_message", "video_message"):
            return mtype, media.replace("_", " ") + length
        if media == "audio_file":
            song = " – ".join(
                x for x in (as_text(obj.get("performer")), as_text(obj.get("title"))) if x
            )
            return mtype, (song or first or "audio file") + length
        return mtype, (first or media.replace("_", " ")) + length
    if "file" in obj:
        return MessageType.FILE, first or "file"
    location = obj.get("location_information")
    if "place_name" in obj or "address" in obj or location is not None:
        where = ", ".join(
            x for x in (as_text(obj.get("place_name")), as_text(obj.get("address"))) if x
        )
        if not where and isinstance(location, dict):
            where = f"{location.get('latitude')}, {location.get('longitude')}"
        return MessageType.LOCATION, where or "location"
    contact = obj.get("contact_information")
    if isinstance(contact, dict):
        who = " ".join(
            x
            for x in (
                as_text(contact.get("first_name")),
                as_text(contact.get("last_name")),
                as_text(contact.get("phone_number")),
            )
            if x
        )
        return MessageType.CARD, who or "contact"
    poll = obj.get("poll")
    if isinstance(poll, dict):
        return MessageType.OTHER, f"poll: {as_text(poll.get('question'))}".strip()
    if "game_title" in obj:
        return MessageType.OTHER, f"game: {as_text(obj.get('game_title'))}"
    invoice = obj.get("invoice_information")
    if isinstance(invoice, dict):
        return MessageType.OTHER, f"invoice: {as_text(invoice.get('title'))}"
    if links_only:
        return MessageType.LINK, ""
    return MessageType.TEXT, ""


def service_text_of(obj: dict[str, Any], plain: str) -> str:
    """Describe a service message in one line ("赵队长 created the group «护卫队»: 钱, 孙")."""
    action = as_text(obj.get("action"))
    parts = [as_text(obj.get("actor")), _ACTIONS.get(action, action.replace("_", " "))]
    title = as_text(obj.get("title")) or as_text(obj.get("new_title"))
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
