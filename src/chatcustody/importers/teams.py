"""``teams``: Microsoft Teams messages saved from Microsoft Graph (``chatMessage`` lists).

Accepted, in one ``.json`` / ``.jsonl`` file or a folder / zip of them: a Graph page
``{"@odata.context": ..., "@odata.nextLink": ..., "value": [chatMessage, ...]}``, an array
of such pages or of chatMessages, or JSON lines of either. Messages are decoded one at a
time with the streaming reader in ``discord.py``; ``raw`` is each message's exact source
text (the HTML body included).

Mapping: ``chatId`` (chats) or ``channelIdentity.channelId`` (channel posts) is the
conversation; a chat id ending ``@unq.gbl.spaces`` is a one-on-one chat, other chats are
groups. HTML bodies become text with the standard library's ``html.parser`` (mentions keep
their display text, emoji their character, inline images become not-included
attachments). ``createdDateTime`` keeps the offset it states (Graph writes ``Z``).
``systemEventMessage`` (and ``chatEvent``) are ``system`` records whose text summarises
``eventDetail``. ``lastEditedDateTime`` adds an ``edit`` Amendment (Graph returns only the
current text), ``deletedDateTime`` a ``delete`` Amendment; the message stays a Record.
``replyToId``, or a quoted ``messageReference`` attachment, is ``reply_to``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any, Final

from chatcustody.importers._base import ParseResult, Rejected, SourceInput
from chatcustody.importers._export import (
    ExportFile,
    MediaIndex,
    as_dict,
    as_list,
    as_str,
    detect_export,
    guess_mime,
    iso_time,
    readable_files,
    type_of_attachment,
    walk_file,
)
from chatcustody.importers._json import Found, InvalidMessage
from chatcustody.model import Amendment, Attachment, ConversationKind, MessageType, Record

PLATFORM: Final[str] = "teams"
_EXTS: Final[tuple[str, ...]] = (".json", ".jsonl", ".ndjson")
_ITEM_KEYS: Final[frozenset[str]] = frozenset({"value"})
_NO_NEST: Final[frozenset[str]] = frozenset()
_SYSTEM_TYPES: Final[frozenset[str]] = frozenset({"systemEventMessage", "chatEvent"})
_BLOCK_TAGS: Final[frozenset[str]] = frozenset(
    {"p", "div", "li", "tr", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol"}
)
_SPACES: Final = re.compile(r"[ \t\r\n\f\xa0]+")
_HOSTED: Final = re.compile(r"/hostedContents/([^/]+)")
# Tags the fast path understands: blocks, line breaks and inline tags whose text is kept
# (mentions, attachment placeholders, styling), with plain name="value" attributes only.
_SIMPLE_TAG: Final = re.compile(
    r'<(/?)(p|div|br|at|attachment|span|b|i|u|s|em|strong)(?:\s+[a-z-]+(?:="[^"<>]*")?)*\s*/?>',
    re.IGNORECASE,
)
_MAX_DEPTH: Final[int] = 12  # nesting walked when collecting a card's text
_ODATA: Final = re.compile(rb'"@odata\.context"\s*:\s*"[^"]*(?:/messages|chatMessage)')


def _sniff(head: bytes) -> bool:
    return bool(_ODATA.search(head)) or (b'"messageType"' in head and b'"createdDateTime"' in head)


class _HtmlText(HTMLParser):
    """Collect the visible text of a Teams HTML body and the images it shows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.images: list[tuple[str, str]] = []  # (src, alt)
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "br" or tag in _BLOCK_TAGS:
            self.parts.append("\n")
            self._pre += tag == "pre"
        elif tag == "emoji":
            self.parts.append(a.get("alt", ""))
        elif tag == "img":
            kind = (a.get("itemtype", "") + a.get("src", "")).lower()
            if "emoji" in kind or "emoticon" in kind:
                self.parts.append(a.get("alt", ""))
            elif a.get("src"):
                self.images.append((a["src"], a.get("alt", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
            if tag == "pre" and self._pre:
                self._pre -= 1

    def handle_data(self, data: str) -> None:
        self.parts.append(data if self._pre else _SPACES.sub(" ", data))

    def text(self) -> str:
        lines = (line.strip(" \xa0") for line in "".join(self.parts).split("\n"))
        return "\n".join(line for line in lines if line)


def html_text(html: str) -> tuple[str, list[tuple[str, str]]]:
    """Return the readable text of an HTML body and its images as (src, alt)."""
    simple = _simple_html_text(html)
    if simple is not None:
        return simple, []
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return parser.text(), parser.images


def _collapse(text: str) -> str:
    """Collapse HTML whitespace runs to one space (skipping the regex when there are none)."""
    if "  " in text or any(c in text for c in "\t\n\r\f\xa0"):
        return _SPACES.sub(" ", text)
    return text


def _simple_html_text(html: str) -> str | None:
    """Return the text of bare-paragraph HTML exactly as :class:`_HtmlText` would, else None.

    Most bodies are paragraphs, line breaks, mentions and attachment placeholders around
    plain text; this avoids the parser's cost for them (same splitting, unescaping and
    spacing rules; a test checks both agree).
    """
    plain_paragraph = html.startswith("<p>") and html.endswith("</p>") and "&" not in html
    if plain_paragraph and html.count("<") == 2:  # the commonest body
        return _collapse(html[3:-4]).strip(" ")
    parts = _SIMPLE_TAG.split(html)
    lines: list[str] = []
    for k in range(0, len(parts), 3):
        part = parts[k]
        if part:
            if "<" in part:
                return None
            lines.append(_collapse(unescape(part) if "&" in part else part))
        if k + 2 < len(parts):
            closing, name = parts[k + 1], parts[k + 2].lower()
            if name in ("p", "div") or (name == "br" and not closing):
                lines.append("\n")
    text = (line.strip(" \xa0") for line in "".join(lines).split("\n"))
    return "\n".join(line for line in text if line)


def _collect(value: Any, out: list[str], depth: int = 0) -> None:
    """Collect a card's titles and texts, depth-first."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, v in value.items():
            if key in ("title", "subtitle", "text") and isinstance(v, str):
                if v and (not out or out[-1] != v):
                    out.append(v)
            else:
                _collect(v, out, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _collect(v, out, depth + 1)


def _card_text(content: Any) -> str:
    """Return a card's readable text; its ``content`` is usually a JSON string."""
    if isinstance(content, str):
        try:
            decoded: Any = json.loads(content)
        except (ValueError, RecursionError):
            return content
    else:
        decoded = content
    out: list[str] = []
    _collect(decoded, out)
    return "\n".join(out)


def _identity_name(value: Any) -> str | None:
    ident = as_dict(value)
    for k in ("user", "application", "device"):
        name = as_str(as_dict(ident.get(k)).get("displayName"))
        if name:
            return name
    return None


def _event_text(detail: dict[str, Any]) -> str:
    """Summarise a system event: its kind, who did it, and whom or what it concerns."""
    kind = as_str(detail.get("@odata.type")) or "event"
    kind = kind.removeprefix("#microsoft.graph.").removesuffix("EventMessageDetail")
    actor = _identity_name(detail.get("initiator"))
    names = [as_str(as_dict(m).get("displayName")) for m in as_list(detail.get("members"))]
    names += [
        _identity_name(as_dict(p).get("participant"))
        for p in as_list(detail.get("callParticipants"))
    ]
    about = [n for n in names if n]
    for key in ("chatDisplayName", "channelDisplayName", "teamDisplayName", "callDuration"):
        v = as_str(detail.get(key))
        if v:
            about.append(v)
    text = kind + (f" by {actor}" if actor else "")
    return text + (f": {', '.join(about)}" if about else "")


def _conversation(obj: dict[str, Any]) -> tuple[str, ConversationKind]:
    chat = as_str(obj.get("chatId"))
    if chat:
        one_on_one = chat.endswith("@unq.gbl.spaces") or chat.startswith("48:")
        return chat, ConversationKind.DIRECT if one_on_one else ConversationKind.GROUP
    channel = as_str(as_dict(obj.get("channelIdentity")).get("channelId"))
    if channel:
        return channel, ConversationKind.CHANNEL
    raise InvalidMessage("message has neither chatId nor channelIdentity.channelId")


def message_to_items(
    obj: Any, raw: str, line: int | None, media: MediaIndex, folder: str
) -> list[Record | Amendment]:
    """Map one Graph chatMessage to its Record and Amendments; raise InvalidMessage."""
    if not isinstance(obj, dict):
        raise InvalidMessage("message is not a JSON object")
    mid = as_str(obj.get("id"))
    if not mid:
        raise InvalidMessage("message has no id")
    ts, off = iso_time(obj.get("createdDateTime"), "createdDateTime")
    conv, kind = _conversation(obj)
    source_type = as_str(obj.get("messageType")) or "message"
    system = source_type in _SYSTEM_TYPES
    frm = obj.get("from")
    ident: dict[str, Any] = {}
    if isinstance(frm, dict):
        for k in ("user", "application", "device"):
            if frm.get(k):
                ident = as_dict(frm[k])
                break
    sender_name = as_str(ident.get("displayName")) or ""
    sender_id = as_str(ident.get("id")) or sender_name or ("system" if system else "unknown")
    body = as_dict(obj.get("body"))
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        raise InvalidMessage("body.content is not a string")
    if (as_str(body.get("contentType")) or "text").lower() == "html":
        text, images = html_text(content or "")
    else:
        text, images = (content or "").strip(), []
    subject = as_str(obj.get("subject"))
    if subject:
        text = f"{subject}\n{text}" if text else subject

    files: list[Attachment] = []
    cards: list[str] = []
    others: list[str] = []
    reply_to = as_str(obj.get("replyToId"))
    for a in (as_dict(x) for x in as_list(obj.get("attachments") or ())):
        ctype = as_str(a.get("contentType")) or ""
        if ctype == "messageReference":
            reply_to = reply_to or as_str(a.get("id"))
            continue
        if ctype.startswith("application/vnd.microsoft.card"):
            cards.append(_card_text(a.get("content")) or as_str(a.get("name")) or ctype)
            continue
        url = as_str(a.get("contentUrl")) or ""
        name = as_str(a.get("name")) or PurePosixPath(url.split("?", 1)[0]).name
        if url or (ctype == "reference" and name):
            rel = media.find(folder, url) if url else None
            mime = ctype if "/" in ctype else guess_mime(name)
            files.append(Attachment(name or url, mime, rel, rel is not None))
        else:
            others.append(name or ctype or "attachment")
    shown: list[Attachment] = []
    for src, alt in images:
        hosted = _HOSTED.search(src)
        name = hosted.group(1) if hosted else PurePosixPath(src.split("?", 1)[0]).name or alt
        rel = media.find(folder, src)
        shown.append(Attachment(name or "image", guess_mime(name), rel, rel is not None))

    if system:
        detail = as_dict(obj.get("eventDetail"))
        mtype = MessageType.SYSTEM
        text = _event_text(detail) if detail else text or source_type
    elif source_type != "message":
        mtype = MessageType.OTHER
    elif files:
        mtype = type_of_attachment(files[0].mime)
    elif shown:
        mtype = MessageType.IMAGE
    elif cards:
        mtype = MessageType.CARD
    else:
        mtype = MessageType.TEXT if text else MessageType.OTHER
    files += shown
    if not text:
        text = "\n".join(cards) or ", ".join(a.name for a in files) or ", ".join(others)

    record = Record(
        platform=PLATFORM,
        conversation_id=conv,
        conversation_name=conv,
        conversation_kind=kind,
        message_id=mid,
        sender_id=sender_id,
        sender_name=sender_name,
        timestamp_ms=ts,
        utc_offset_min=off,
        type=mtype,
        text=text,
        raw=raw,
        reply_to=reply_to if reply_to != mid else None,
        attachments=tuple(files),
        line=line,
    )
    items: list[Record | Amendment] = [record]
    if obj.get("lastEditedDateTime") is not None:
        ets, eoff = iso_time(obj.get("lastEditedDateTime"), "lastEditedDateTime")
        items.append(Amendment(PLATFORM, conv, mid, "edit", ets, eoff, sender_id, text, raw, line))
    if obj.get("deletedDateTime") is not None:
        dts, doff = iso_time(obj.get("deletedDateTime"), "deletedDateTime")
        items.append(Amendment(PLATFORM, conv, mid, "delete", dts, doff, sender_id, "", raw, line))
    return items


class TeamsImporter:
    """Microsoft Graph chatMessage lists."""

    name = "teams"
    description = "Microsoft Teams chat/channel messages saved from Microsoft Graph (JSON)"
    detect_order = 30

    def detect(self, path: Path) -> bool:
        """Return True for saved Graph chatMessage pages (or a folder/zip of them)."""
        return detect_export(path, _sniff, _EXTS)

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield each message's Record (+ Amendments), or Rejected naming line and defect."""
        media: MediaIndex | None = None
        for f in readable_files(
            source, _sniff, _EXTS, "the folder holds no Graph chatMessage file"
        ):
            if isinstance(f, Rejected):
                yield f
                continue
            media = media or MediaIndex(source)
            for found in walk_file(source, f, _ITEM_KEYS, _NO_NEST):
                if isinstance(found, Rejected):
                    yield found
                else:
                    yield from self._found(found, f, media)

    def _found(self, found: Found, f: ExportFile, media: MediaIndex) -> Iterator[ParseResult]:
        value = found.value
        if found.kind == "page":
            return
        if found.kind == "object" and "error" in value and "id" not in value:
            err = as_dict(value.get("error"))
            reason = (
                f"Graph error response: {as_str(err.get('code'))}: {as_str(err.get('message'))}"
            )
            yield Rejected(found.line, f.where(reason), found.raw[:500])
            return
        if found.kind == "other":
            reason = f"expected a page or a chatMessage object, found {type(value).__name__}"
            yield Rejected(found.line, f.where(reason), found.raw[:500])
            return
        try:
            yield from message_to_items(value, found.raw, found.line, media, f.folder)
        except InvalidMessage as exc:
            record = as_str(value.get("id")) if isinstance(value, dict) else None
            yield Rejected(found.line, f.where(str(exc)), found.raw[:500], record)


IMPORTER = TeamsImporter()
