"""``discord``: DiscordChatExporter JSON exports, streamed message by message.

A DiscordChatExporter (DCE) JSON file is one object: ``guild``, ``channel``, ``dateRange``,
``exportedAt``, then ``messages: [...]`` and ``messageCount``. Exports of busy channels run
to hundreds of MB, so the file is never loaded whole: :class:`JsonReader` walks the top-level
object key by key and decodes the ``messages`` array one element at a time with
``json.JSONDecoder.raw_decode`` over a sliding text buffer (memory stays flat: one message
plus one read of 1 MiB). ``raw`` is the exact source text of each message object, sliced from
that buffer. A file whose header comes after ``messages`` is read twice (header, then
messages). ``messageCount`` is checked against the messages actually read: a truncated or
edited export is refused rather than half-imported.

The imported path may be one ``.json`` file, or a folder / zip holding several DCE files
(an export of many channels) with their ``*_Files`` media folders. Attachment ``url`` values
that are relative paths are resolved against the JSON file's folder: present → the file is
acquired; absent or a CDN URL → ``included=False`` (the export only names it).

The streaming reader is :mod:`._json`; listing, opening and detecting export files, the
media index and ISO 8601 times are :mod:`._export` (shared with ``feishu`` and ``teams``).
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final

from chatcustody.importers._base import (
    ExportUnreadable,
    ParseResult,
    Rejected,
    SourceInput,
)
from chatcustody.importers._export import (
    ExportFile,
    MediaIndex,
    as_dict,
    as_list,
    as_str,
    detect_export,
    guess_mime,
    iso_time,
    open_export,
    readable_files,
    type_of_attachment,
)
from chatcustody.importers._json import (
    _BOM,
    InvalidMessage,
    JsonReader,
    JsonSyntaxError,
)
from chatcustody.model import (
    Amendment,
    Attachment,
    ConversationKind,
    MessageType,
    Record,
)

# -- Discord --------------------------------------------------------------------------------

PLATFORM: Final[str] = "discord"
# Message kinds that are ordinary messages; other named kinds are system notifications.
# DCE writes kinds it has no name for as numbers: 20 (slash command), 21 (thread starter),
# 23 (context-menu command) are user/bot messages.
_ORDINARY: Final[frozenset[str]] = frozenset(
    {"Default", "Reply", "0", "19", "20", "21", "23", "ChatInputCommand", "ContextMenuCommand"}
)
_CALL: Final[frozenset[str]] = frozenset({"Call", "3"})
_DIRECT: Final[frozenset[str]] = frozenset({"DirectTextChat", "1"})
_GROUP_DM: Final[frozenset[str]] = frozenset({"DirectGroupTextChat", "3"})
_KEY: Final = re.compile(rb'"(guild|channel)"\s*:\s*\{')


def _sniff(head: bytes) -> bool:
    keys = {m.group(1) for m in _KEY.finditer(head)}
    return keys == {b"guild", b"channel"} and head.lstrip(_BOM).lstrip().startswith(b"{")


@dataclass(frozen=True, slots=True)
class _Channel:
    id: str
    name: str
    kind: ConversationKind


def _channel(header: dict[str, Any]) -> _Channel:
    guild = as_dict(header.get("guild"))
    channel = as_dict(header.get("channel"))
    cid = as_str(channel.get("id"))
    if not cid:
        raise InvalidMessage("the export has no channel.id")
    ctype = as_str(channel.get("type")) or ""
    name = as_str(channel.get("name")) or cid
    if ctype in _DIRECT or ctype in _GROUP_DM:
        kind = ConversationKind.DIRECT if ctype in _DIRECT else ConversationKind.GROUP
        return _Channel(cid, name, kind)
    parts = (as_str(guild.get("name")), as_str(channel.get("category")), name)
    return _Channel(cid, " / ".join(p for p in parts if p), ConversationKind.CHANNEL)


def _attachments(obj: dict[str, Any], media: MediaIndex, folder: str) -> tuple[Attachment, ...]:
    if not obj.get("attachments"):
        return ()
    out = []
    for i, a in enumerate(as_list(obj.get("attachments"))):
        a = as_dict(a)
        url = as_str(a.get("url")) or ""
        name = as_str(a.get("fileName")) or PurePosixPath(url.replace("\\", "/")).name
        if not name:
            raise InvalidMessage(f"attachment {i} has neither fileName nor url")
        rel = media.find(folder, url) if url else None
        out.append(Attachment(name=name, mime=guess_mime(name), path=rel, included=rel is not None))
    return tuple(out)


def _embed_text(embeds: list[Any]) -> str:
    lines = []
    for e in embeds:
        e = as_dict(e)
        for key in ("title", "url", "description"):
            v = as_str(e.get(key))
            if v:
                lines.append(v)
    return "\n".join(lines)


def message_items(
    obj: Any, raw: str, line: int, chan: _Channel, media: MediaIndex, folder: str
) -> list[Record | Amendment]:
    """Map one DCE message to its Record (and an edit Amendment); raise InvalidMessage."""
    if not isinstance(obj, dict):
        raise InvalidMessage("message is not a JSON object")
    mid = as_str(obj.get("id"))
    if not mid:
        raise InvalidMessage("message has no id")
    ts, off = iso_time(obj.get("timestamp"), "timestamp")
    author = obj.get("author")
    if not isinstance(author, dict) or not as_str(author.get("id")):
        raise InvalidMessage("message has no author.id")
    content = obj.get("content")
    if content is not None and not isinstance(content, str):
        raise InvalidMessage("content is not a string")
    content = content or ""
    kind = as_str(obj.get("type")) or "Default"
    attachments = _attachments(obj, media, folder)
    if kind in _ORDINARY:
        stickers = as_list(obj.get("stickers"))
        if attachments:
            mtype = type_of_attachment(attachments[0].mime)
            text = content or ", ".join(a.name for a in attachments)
        elif content.strip():
            mtype, text = MessageType.TEXT, content
        elif stickers:
            names = (as_str(as_dict(s).get("name")) or "sticker" for s in stickers)
            mtype, text = MessageType.STICKER, ", ".join(names)
        elif embeds := as_list(obj.get("embeds")):
            # A link preview has a URL; a bot's rich embed (an alert, a form) is a card.
            linked = any(as_str(as_dict(e).get("url")) for e in embeds)
            mtype = MessageType.LINK if linked else MessageType.CARD
            text = _embed_text(embeds)
        else:
            mtype, text = MessageType.OTHER, content
    elif kind in _CALL:
        mtype, text = MessageType.CALL, content or "Call"
    else:
        mtype, text = MessageType.SYSTEM, content or kind
    ref = as_dict(obj.get("reference"))
    reply_to = as_str(ref.get("messageId"))
    if as_str(ref.get("channelId")) not in (None, chan.id):
        reply_to = None  # a crosspost or forward from another channel: not a reply here
    sender = str(as_str(author["id"]))
    record = Record(
        platform=PLATFORM,
        conversation_id=chan.id,
        conversation_name=chan.name,
        conversation_kind=chan.kind,
        message_id=mid,
        sender_id=sender,
        sender_name=as_str(author.get("nickname")) or as_str(author.get("name")) or sender,
        timestamp_ms=ts,
        utc_offset_min=off,
        type=mtype,
        text=text,
        raw=raw,
        reply_to=reply_to if reply_to != mid else None,
        attachments=attachments,
        line=line,
    )
    items: list[Record | Amendment] = [record]
    edited = obj.get("timestampEdited")
    if edited is not None:
        ets, eoff = iso_time(edited, "timestampEdited")
        items.append(Amendment(PLATFORM, chan.id, mid, "edit", ets, eoff, sender, text, raw, line))
    return items


class DiscordImporter:
    """DiscordChatExporter JSON."""

    name = "discord"
    description = "Discord channel exports by DiscordChatExporter (JSON, with its media folder)"
    detect_order = 30

    def detect(self, path: Path) -> bool:
        """Return True for a DCE JSON file, or a folder/zip of them."""
        return detect_export(path, _sniff, (".json",))

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield each message's Record (+ edit Amendment), or Rejected naming line and defect."""
        none = "the folder holds no DiscordChatExporter JSON file"
        media: MediaIndex | None = None
        for f in readable_files(source, _sniff, (".json",), none):
            if isinstance(f, Rejected):
                yield f
            else:
                media = media or MediaIndex(source)
                yield from self._parse_file(source, f, media)

    def _parse_file(
        self, source: SourceInput, f: ExportFile, media: MediaIndex
    ) -> Iterator[ParseResult]:
        header: dict[str, Any] = {}
        read = 0
        deferred = False
        try:
            with open_export(source, f) as stream:
                reader = JsonReader(stream)
                if reader.at_end():
                    yield Rejected(None, f.where("file is empty"))
                    return
                if reader.peek() != "{":
                    yield Rejected(reader.line(), f.where("not a DiscordChatExporter export"))
                    return
                for key in reader.object_keys():
                    if key != "messages" or reader.peek() != "[":
                        header[key] = reader.value()
                    elif "channel" in header:
                        read = yield from self._messages(reader, header, f, media)
                    else:
                        deferred = True  # header after the messages: read it first
                        reader.skip()
            if deferred:
                with open_export(source, f) as stream:
                    reader = JsonReader(stream)
                    for key in reader.object_keys():
                        if key == "messages" and reader.peek() == "[":
                            read = yield from self._messages(reader, header, f, media)
                        else:
                            reader.skip()
        except JsonSyntaxError as exc:
            yield Rejected(exc.line, f.where(f"{exc.reason}; the rest of the file is unreadable"))
            return
        except InvalidMessage as exc:
            yield Rejected(None, f.where(str(exc)))
            return
        except (ExportUnreadable, OSError) as exc:  # opening a damaged zip member
            yield Rejected(None, f.where(f"the file cannot be read: {exc}"))
            return
        if "messages" not in header and not read and not deferred:
            yield Rejected(None, f.where("the export has no messages array"))
        count = header.get("messageCount")
        if isinstance(count, int) and not isinstance(count, bool) and count != read:
            yield Rejected(
                None,
                f.where(
                    f"messageCount says {count} messages but the file holds {read} "
                    "(truncated or edited export?)"
                ),
            )

    def _messages(
        self, reader: JsonReader, header: dict[str, Any], f: ExportFile, media: MediaIndex
    ) -> Generator[ParseResult, None, int]:
        """Yield the items of the messages array; return how many messages it held."""
        header["messages"] = None
        chan = _channel(header)
        read = 0
        for line in reader.array():
            obj = reader.value()
            raw = reader.raw()
            read += 1
            try:
                yield from message_items(obj, raw, line, chan, media, f.folder)
            except InvalidMessage as exc:
                record = as_str(obj.get("id")) if isinstance(obj, dict) else None
                yield Rejected(line, f.where(str(exc)), raw[:500], record)
        return read


IMPORTER = DiscordImporter()
