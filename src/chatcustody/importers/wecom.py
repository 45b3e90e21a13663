"""``wecom``: WeCom 会话内容存档 (chat archive) messages, as decrypted by the Finance SDK.

Input is one file of decrypted message objects, either one per line (JSON lines) or one JSON
array (``[{...}, {...}]``, pretty-printed or not). Lines are read one at a time; an array is
streamed through a small incremental decoder (``_json_array.iter_json_array``), so a 1 GB
array never sits in memory at once. ``raw`` keeps each message's exact source text (its line, or its
array element as written).

Mapping (docs/formats/wecom.md has the full table):

- ``roomid`` set: a group keyed by ``roomid``; empty: a one-to-one chat keyed by the sorted
  pair ``from`` / ``tolist`` joined by ``|``.
- ``action: recall`` (msgtype ``revoke``): a ``recall`` record, ``target_id`` = ``pre_msgid``.
- ``action: switch`` (``{msgid, time, user}``): a ``system`` record in the pseudo
  conversation ``@switch`` (``@switch:<corpid>`` with the ``corpid`` import option).
- ``chatrecord`` is kept whole as one ``forward`` record whose text lists the items;
  ``mixed`` is one ``text`` record made of its parts. Their media become attachments.
- Media carry only ``sdkfileid``/``md5sum``: the bytes are fetched separately with the SDK.
  A medium is ``included`` when a file named ``<md5sum>`` or ``<sdkfileid>`` (with any
  extension) sits in the export's folder or one of its immediate subfolders and its MD5 is
  the message's ``md5sum`` (a mismatch rejects the message); otherwise it is listed with
  ``included=False``.
- Unknown msgtypes become ``other`` records: never dropped, never rejected.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from chatcustody.importers._base import (
    ParseResult,
    Rejected,
    SourceInput,
    epoch_ms_with_zone,
    head_bytes,
)
from chatcustody.importers._fields import (
    BadRecord,
    epoch_ms,
    inner_json,
    int_of,
    join,
    list_of,
    local_time,
    mime_of,
    obj_of,
    text_of,
)
from chatcustody.importers._json_array import (
    iter_json_records,
)
from chatcustody.model import Attachment, ConversationKind, MessageType, Record

PLATFORM: Final[str] = "wecom"
SWITCH_CONVERSATION: Final[str] = "@switch"
_EXCERPT_CHARS: Final[int] = 500
_MD5_HEX: Final[re.Pattern[str]] = re.compile(r"[0-9a-fA-F]{32}")
_MAX_BUNDLE_DEPTH: Final[int] = 8  # chatrecord inside chatrecord: deeper levels stay in raw

# Payload object name when it differs from the msgtype (markdown and qydiskfile: unverified,
# both names are accepted).
_PAYLOAD_ALIAS: Final[dict[str, str]] = {
    "docmsg": "doc",
    "news": "info",
    "external_redpacket": "redpacket",
    "markdown": "info",
    "qydiskfile": "info",
}
# Default extension of media whose payload has no file name.
_MEDIA_EXT: Final[dict[str, str]] = {
    "image": ".jpg",
    "voice": ".amr",
    "video": ".mp4",
    "meeting_voice_call": ".amr",
}


# --- media -----------------------------------------------------------------------------------


class MediaIndex:
    """Files of the export folder (and its immediate subfolders) by name and by stem.

    Built on first use only. Keys are exact names/stems (sdkfileid is case-sensitive) and
    lower-cased ones (md5sum is hex, exporters vary in case). A found file is checked against
    the message's md5sum: a file that merely carries the right name must not become evidence
    for a message whose media it is not.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._exact: dict[str, str] | None = None
        self._lower: dict[str, str] = {}
        self._md5: dict[str, str] = {}

    def _build(self) -> dict[str, str]:
        exact: dict[str, str] = {}
        dirs = [self._root]
        with contextlib.suppress(OSError):
            dirs += sorted(p for p in self._root.iterdir() if p.is_dir())
        for d in dirs:
            try:
                files = sorted(p for p in d.iterdir() if p.is_file())
            except OSError:
                continue
            for p in files:
                rel = p.relative_to(self._root).as_posix()
                for key in (p.name, p.name.split(".", 1)[0]):
                    exact.setdefault(key, rel)
                    self._lower.setdefault(key.lower(), rel)
        return exact

    def find(self, sdkfileid: str, md5sum: str) -> str | None:
        """Return the export-relative path of a medium's file, or None.

        Raise BadRecord when the file found does not have the MD5 the message states.
        """
        if self._exact is None:
            self._exact = self._build()
        hit = self._lower.get(md5sum.lower()) if md5sum else None
        if hit is None and sdkfileid and "/" not in sdkfileid:
            hit = self._exact.get(sdkfileid)
        if hit is not None and _MD5_HEX.fullmatch(md5sum):
            actual = self._digest(hit)
            if actual != md5sum.lower():
                raise BadRecord(
                    f"media file {hit!r} does not match the message's md5sum {md5sum} "
                    f"(its MD5 is {actual}): replace or remove the file"
                )
        return hit

    def _digest(self, rel: str) -> str:
        if rel not in self._md5:
            h = hashlib.md5(usedforsecurity=False)
            try:
                with (self._root / rel).open("rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
            except OSError as exc:
                raise BadRecord(f"media file {rel!r} cannot be read: {exc.strerror}") from None
            self._md5[rel] = h.hexdigest()
        return self._md5[rel]


def media_attachment(
    kind: str, payload: dict[str, Any], fallback_name: str, media: MediaIndex
) -> Attachment | None:
    """Return the attachment of a media payload (sdkfileid / md5sum), or None if it has none."""
    sdkfileid = text_of(payload.get("sdkfileid"))
    md5sum = text_of(payload.get("md5sum"))
    if not sdkfileid and not md5sum:
        return None
    if kind == "emotion":
        ext = ".png" if int_of(payload.get("type")) == 2 else ".gif"
    else:
        ext = _MEDIA_EXT.get(kind, "")
    name = text_of(payload.get("filename")) or f"{md5sum or fallback_name}{ext}"
    path = media.find(sdkfileid, md5sum)
    if path is not None and not text_of(payload.get("filename")):
        name = Path(path).name
    mime = mime_of(Path(name).suffix.lower())
    return Attachment(name=name, mime=mime, path=path, included=path is not None)


# --- message bodies --------------------------------------------------------------------------


@dataclass(slots=True)
class Body:
    """What a payload shows: its canonical type, readable text and media."""

    type: MessageType
    text: str
    attachments: list[Attachment]


# msgtype → (canonical type, label, payload fields whose values make up the text).
_PLAIN: Final[dict[str, tuple[MessageType, str, tuple[str, ...]]]] = {
    "text": (MessageType.TEXT, "", ("content",)),
    "markdown": (MessageType.TEXT, "", ("content",)),
    "image": (MessageType.IMAGE, "[image]", ()),
    "voice": (MessageType.VOICE, "[voice]", ()),
    "video": (MessageType.VIDEO, "[video]", ()),
    "emotion": (MessageType.STICKER, "[sticker]", ()),
    "file": (MessageType.FILE, "[file]", ("filename",)),
    "voip_doc_share": (MessageType.FILE, "[file]", ("filename",)),
    "qydiskfile": (MessageType.FILE, "[file]", ("filename",)),
    "card": (MessageType.CARD, "[card]", ("corpname", "userid")),
    "location": (MessageType.LOCATION, "[location]", ("title", "address")),
    "link": (MessageType.LINK, "", ("title", "description", "link_url")),
    "weapp": (MessageType.LINK, "[mini program]", ("displayname", "title", "description")),
    "docmsg": (MessageType.LINK, "[doc]", ("title", "link_url", "doc_creator")),
    "sphfeed": (MessageType.LINK, "[channels]", ("sph_name", "feed_desc", "url")),
    "todo": (MessageType.OTHER, "[todo]", ("title", "content")),
    "redpacket": (MessageType.OTHER, "[red packet]", ("wish",)),
    "external_redpacket": (MessageType.OTHER, "[red packet]", ("wish",)),
    "vote": (MessageType.OTHER, "[vote]", ("votetitle",)),
    "collect": (MessageType.OTHER, "[form]", ("title", "room_name")),
    "meeting": (MessageType.OTHER, "[meeting]", ("topic",)),
    "calendar": (MessageType.OTHER, "[calendar]", ("title",)),
    "voiptext": (MessageType.CALL, "[call]", ()),
    "meeting_voice_call": (MessageType.CALL, "[meeting recording]", ()),
    "agree": (MessageType.SYSTEM, "", ("userid",)),
    "disagree": (MessageType.SYSTEM, "", ("userid",)),
    "news": (MessageType.LINK, "[news]", ()),
    "mixed": (MessageType.TEXT, "", ()),
    "chatrecord": (MessageType.FORWARD, "[chat record]", ("title",)),
}


def _extra(kind: str, p: dict[str, Any], top: dict[str, Any], tz: ZoneInfo) -> list[str]:
    """Return the parts of a payload's text that need more than copying a field."""
    g = p.get
    if kind in ("voice", "video") and g("play_length") is not None:
        return [f"{text_of(g('play_length'))}s"]
    if kind == "voiptext" and g("callduration") is not None:
        return [f"{text_of(g('callduration'))}s"]
    if kind == "meeting_voice_call":
        shared = [text_of(obj_of(d).get("filename")) for d in list_of(g("demofiledata"))]
        return [text_of(top.get("voiceid")), *shared]
    if kind in ("redpacket", "external_redpacket") and (fen := int_of(g("totalamount"))):
        return [f"total {fen / 100:.2f} x{text_of(g('totalcnt'))}"]
    if kind == "vote":
        return [" / ".join(text_of(i) for i in list_of(g("voteitem")))]
    if kind == "collect":
        return [" / ".join(text_of(obj_of(d).get("ques")) for d in list_of(g("details")))]
    if kind == "location":
        return [f"({text_of(g('latitude'))}, {text_of(g('longitude'))})"]
    if kind in ("meeting", "calendar"):
        span = f"{local_time(g('starttime'), tz)} – {local_time(g('endtime'), tz)}"
        return [span, text_of(g("address") or g("place")), text_of(g("remarks"))]
    if kind == "agree":
        return ["agreed to conversation archiving (同意会话存档)", local_time(g("agree_time"), tz)]
    if kind == "disagree":
        when = local_time(g("disagree_time"), tz)
        return ["declined conversation archiving (拒绝会话存档)", when]
    if kind == "news":
        items = (obj_of(i) for i in list_of(g("item")))
        return [join(text_of(i.get("title")), text_of(i.get("url"))) for i in items]
    return []


def describe(
    kind: str, p: dict[str, Any], ctx: _Context, name: str, top: dict[str, Any], depth: int = 0
) -> Body:
    """Return the body of one payload of msgtype ``kind`` (``top`` is the whole record)."""
    atts: list[Attachment] = []
    if (att := media_attachment(kind, p, name, ctx.media)) is not None:
        atts.append(att)
    plain = _PLAIN.get(kind)
    if plain is None:  # an msgtype this importer does not know: keep it, readable
        return Body(MessageType.OTHER, join(f"[{kind}]", *map(text_of, p.values())), atts)
    mtype, label, fields = plain
    parts = [label, *(text_of(p.get(f)) for f in fields), *_extra(kind, p, top, ctx.tz)]
    if kind in ("mixed", "chatrecord"):
        items = [obj_of(i) for i in list_of(p.get("item"))]
        if kind == "chatrecord":
            parts.append(f"({len(items)} items)")
        lines = [join(*parts)]
        if depth >= _MAX_BUNDLE_DEPTH:  # a bundle in a bundle in …: the rest stays in raw
            items = []
            lines.append("[nested bundle: see raw]")
        for item in items:
            sub_kind = text_of(item.get("type")).removeprefix("ChatRecord").lower()
            sub = describe(sub_kind, inner_json(item.get("content")), ctx, name, {}, depth + 1)
            when = local_time(item.get("msgtime"), ctx.tz) if kind == "chatrecord" else ""
            lines.append(join(when, sub.text))
            atts.extend(sub.attachments)
        text = "\n".join(line for line in lines if line)
    else:
        text = join(*parts)
    return Body(mtype, text or (atts[0].name if atts else ""), atts)


# --- records ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Context:
    tz: ZoneInfo
    media: MediaIndex
    switch_conversation: str


def _conversation(obj: dict[str, Any], sender: str) -> tuple[str, str, ConversationKind]:
    roomid = obj.get("roomid")
    if roomid not in (None, ""):
        if not isinstance(roomid, str):
            raise BadRecord("roomid is not a string")
        return roomid, roomid, ConversationKind.GROUP
    tolist = obj.get("tolist", [])
    if not isinstance(tolist, list) or not all(isinstance(x, str) for x in tolist):
        raise BadRecord("tolist is not a list of user ids")
    people = sorted({sender, *tolist})
    kind = ConversationKind.DIRECT if len(people) <= 2 else ConversationKind.GROUP
    return "|".join(people), " & ".join(people), kind


def build_record(obj: Any, text: str, line: int, ctx: _Context) -> Record:
    """Build the Record of one decrypted archive message; raise BadRecord on a defect."""
    if not isinstance(obj, dict):
        raise BadRecord("record is not a JSON object")
    if "encrypt_chat_msg" in obj or "chatdata" in obj:
        raise BadRecord(
            "this is the encrypted pull envelope (chatdata / encrypt_chat_msg): decrypt it "
            "with the WeCom Finance SDK first; chatcustody imports the decrypted messages"
        )
    msgid = obj.get("msgid")
    if type(msgid) is int:
        msgid = str(msgid)
    elif type(msgid) is not str or not msgid:
        raise BadRecord("msgid is missing")
    action = obj.get("action") or ("switch" if "user" in obj and "msgtype" not in obj else "send")
    if action == "switch":
        user = obj.get("user")
        if not isinstance(user, str) or not user:
            raise BadRecord("switch record has no user")
        ms, off = epoch_ms_with_zone(epoch_ms(obj.get("time"), "time"), ctx.tz)
        return Record(
            platform=PLATFORM,
            conversation_id=ctx.switch_conversation,
            conversation_name="企业切换记录 / account switches",
            conversation_kind=ConversationKind.CHANNEL,
            message_id=msgid,
            sender_id=user,
            sender_name=user,
            timestamp_ms=ms,
            utc_offset_min=off,
            type=MessageType.SYSTEM,
            text=f"{user} switched enterprise account on a device (切换企业)",
            raw=text,
            line=line,
        )
    if action not in ("send", "recall"):
        raise BadRecord(f"unknown action {text_of(action)[:40]!r} (send, recall or switch)")
    sender = obj.get("from")
    if not isinstance(sender, str) or not sender:
        raise BadRecord("from is missing")
    ms, off = epoch_ms_with_zone(epoch_ms(obj.get("msgtime"), "msgtime"), ctx.tz)
    conv_id, conv_name, conv_kind = _conversation(obj, sender)
    kind = obj.get("msgtype")
    if not isinstance(kind, str) or not kind:
        raise BadRecord("msgtype is missing")
    payload = obj.get(kind)
    if payload is None and kind in _PAYLOAD_ALIAS:
        payload = obj.get(_PAYLOAD_ALIAS[kind])
    target: str | None = None
    if (
        kind == "text"
        and action == "send"
        and isinstance(content := obj_of(payload).get("content"), str)
    ):
        body = Body(MessageType.TEXT, content, [])  # the common case, kept fast
    elif action == "recall" or kind == "revoke":
        target = text_of(obj_of(payload).get("pre_msgid"))
        if not target:
            raise BadRecord("recall has no revoke.pre_msgid")
        body = Body(MessageType.RECALL, f"recalled message {target}", [])
    else:
        if payload is not None and not isinstance(payload, dict):
            raise BadRecord(f"{kind} payload is not a JSON object")
        if payload is None and kind in _PLAIN:
            raise BadRecord(f"{kind} record has no {_PAYLOAD_ALIAS.get(kind, kind)} object")
        body = describe(kind, obj_of(payload), ctx, msgid, obj)
    return Record(
        platform=PLATFORM,
        conversation_id=conv_id,
        conversation_name=conv_name,
        conversation_kind=conv_kind,
        message_id=msgid,
        sender_id=sender,
        sender_name=sender,
        timestamp_ms=ms,
        utc_offset_min=off,
        type=body.type,
        text=body.text,
        raw=text,
        target_id=target,
        attachments=tuple(body.attachments),
        line=line,
    )


def _looks_like_wecom(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return (b'"msgid"' in text and b'"action"' in text) or b'"encrypt_chat_msg"' in text
    first = text.split(b"\n", 1)[0]
    try:
        obj = json.loads(first)
    except ValueError:  # a first line longer than the head: judge by its keys
        return first.startswith(b"{") and all(
            k in first for k in (b'"msgid"', b'"action"', b'"msgtime"', b'"msgtype"')
        )
    if not isinstance(obj, dict):
        return False
    if "encrypt_chat_msg" in obj or ("chatdata" in obj and "errcode" in obj):
        return True
    keys = obj.keys()
    return {"msgid", "action"} <= keys and ("msgtime" in keys or {"time", "user"} <= keys)


class WeComImporter:
    """WeCom chat-archive messages decrypted with the Finance SDK."""

    name = "wecom"
    description = "WeCom 会话内容存档 (chat archive) messages decrypted by the Finance SDK"
    detect_order = 30

    def detect(self, path: Path) -> bool:
        """Return True for decrypted archive messages (or their encrypted envelope)."""
        try:
            return _looks_like_wecom(head_bytes(path))
        except Exception:  # detect must never raise, whatever the file holds
            return False

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield one Record per archived message, or Rejected naming the line and defect."""
        corp = source.options.get("corpid", "")
        root = source.path if source.path.is_dir() else source.path.parent
        ctx = _Context(
            tz=source.tz,
            media=MediaIndex(root),
            switch_conversation=f"{SWITCH_CONVERSATION}:{corp}" if corp else SWITCH_CONVERSATION,
        )
        for item in iter_json_records(source):
            if isinstance(item, Rejected):
                yield item
                continue
            line, text, obj = item
            try:
                yield build_record(obj, text, line, ctx)
            except BadRecord as exc:
                msgid = obj.get("msgid") if isinstance(obj, dict) else None
                yield Rejected(
                    line,
                    str(exc),
                    text[:_EXCERPT_CHARS],
                    text_of(msgid) or None,
                )


IMPORTER = WeComImporter()
