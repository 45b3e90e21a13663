"""WeChat's message types and payloads, shared by the CSV (``wechat``) and chatlog importers.

Type codes map to canonical types and labels; app messages (type 49) are classified by their
XML subtype; :func:`csv_payload` turns a CSV row's content into text and attachments.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from chatcustody.model import Attachment, MessageType

PLATFORM: Final[str] = "wechat"
SYSTEM_SENDER: Final[str] = "system"
SYSTEM_NAME: Final[str] = "系统消息"
SELF_SENDER: Final[str] = "self"
RECALL_MARK: Final[str] = "撤回了一条消息"
SYSTEM_TYPES: Final[frozenset[int]] = frozenset({10000, 10002})
APP_TYPE: Final[int] = 49

# WeChat type codes → (canonical type, label shown when the source gives nothing better).
BASE_TYPES: Final[dict[int, tuple[MessageType, str]]] = {
    1: (MessageType.TEXT, ""),
    3: (MessageType.IMAGE, "[图片]"),
    34: (MessageType.VOICE, "[语音]"),
    37: (MessageType.SYSTEM, "[好友验证]"),
    42: (MessageType.CARD, "[名片]"),
    43: (MessageType.VIDEO, "[视频]"),
    47: (MessageType.STICKER, "[动画表情]"),
    48: (MessageType.LOCATION, "[位置]"),
    50: (MessageType.CALL, "[通话]"),
    10000: (MessageType.SYSTEM, "[系统消息]"),
    10002: (MessageType.SYSTEM, "[系统消息]"),
}
# Type 49 ("app message") by SubType.
APP_TYPES: Final[dict[int, tuple[MessageType, str]]] = {
    3: (MessageType.LINK, "[音乐]"),
    4: (MessageType.LINK, "[分享]"),
    5: (MessageType.LINK, "[链接]"),
    6: (MessageType.FILE, "[文件]"),
    8: (MessageType.STICKER, "[GIF表情]"),
    19: (MessageType.FORWARD, "[聊天记录]"),
    33: (MessageType.LINK, "[小程序]"),
    36: (MessageType.LINK, "[小程序]"),
    40: (MessageType.FORWARD, "[聊天记录]"),
    51: (MessageType.LINK, "[视频号]"),
    57: (MessageType.TEXT, "[引用]"),
    62: (MessageType.SYSTEM, "[拍一拍]"),
    63: (MessageType.LINK, "[视频号]"),
    87: (MessageType.OTHER, "[群公告]"),
    2000: (MessageType.OTHER, "[转账]"),
    2001: (MessageType.OTHER, "[红包]"),
    2003: (MessageType.OTHER, "[红包封面]"),
}
MEDIA_KINDS: Final[dict[MessageType, str]] = {
    MessageType.IMAGE: "image",
    MessageType.VOICE: "voice",
    MessageType.VIDEO: "video",
}


def classify(mtype: int, subtype: int) -> tuple[MessageType, str]:
    """Return the canonical type and fallback label of a WeChat (Type, SubType)."""
    if mtype == APP_TYPE:
        return APP_TYPES.get(subtype, (MessageType.OTHER, "[分享]"))
    return BASE_TYPES.get(mtype, (MessageType.OTHER, f"[消息类型 {mtype}]"))


def system_type(mtype: int, text: str) -> MessageType:
    """Return ``recall`` for a recall notice among system lines, else ``system``."""
    return MessageType.RECALL if RECALL_MARK in text else MessageType.SYSTEM


@lru_cache(maxsize=64)
def _attr_re(name: str) -> re.Pattern[str]:
    return re.compile(rf'\b{name}\s*=\s*"([^"]*)"')


@lru_cache(maxsize=64)
def _elem_re(tag: str) -> re.Pattern[str]:
    return re.compile(
        rf"<{tag}(?:\s[^>]*)?>\s*(?:<!\[CDATA\[(.*?)\]\]>|([^<]*?))\s*</{tag}>", re.DOTALL
    )


def xml_attr(xml: str, name: str) -> str:
    """Return the first attribute ``name="…"`` in an XML snippet, unescaped ('' if none).

    A regular expression, not an XML parser: exporters' snippets are often truncated or
    not well-formed, and parsing untrusted XML fully is not needed to show a title.
    """
    m = _attr_re(name).search(xml)
    return html.unescape(m.group(1)).strip() if m else ""


def xml_text(xml: str, tag: str) -> str:
    """Return the text of the first ``<tag>…</tag>`` (CDATA or escaped), or ''."""
    m = _elem_re(tag).search(xml)
    if not m:
        return ""
    return (m.group(1) if m.group(1) is not None else html.unescape(m.group(2))).strip()


def is_number(value: str) -> bool:
    """Return True for a non-empty string of ASCII digits."""
    return value.isascii() and value.isdigit()


def join(*parts: str) -> str:
    """Join the non-empty parts with a space."""
    return " ".join(p for p in parts if p)


@dataclass(slots=True)
class Payload:
    """What a message shows: its canonical type, readable text and named media."""

    type: MessageType
    text: str
    attachments: tuple[Attachment, ...] = ()


def missing_media(kind: str, name: str = "") -> tuple[Attachment, ...]:
    """Return one attachment the export names but does not include."""
    return (Attachment(name=name or kind, included=False),)


def _app_payload(subtype: int, mtype: MessageType, label: str, xml: str) -> Payload:
    title = xml_text(xml, "title")
    if subtype == 6:
        return Payload(mtype, join(label, title), missing_media("file", title))
    if subtype == 57:
        refer = xml[xml.find("<refermsg") :] if "<refermsg" in xml else ""
        quoted = xml_text(refer, "content") if xml_text(refer, "type") == "1" else ""
        who = xml_text(refer, "displayname")
        text = title or label
        return Payload(mtype, f"{text}\n「{who}：{quoted}」" if quoted else text)
    if subtype in (19, 40):
        return Payload(mtype, "\n".join(p for p in (join(label, title), xml_text(xml, "des")) if p))
    if subtype == 2000:
        return Payload(mtype, join(label, xml_text(xml, "feedesc"), xml_text(xml, "pay_memo")))
    if subtype == 62:
        return Payload(mtype, xml_text(xml, "template") or title or label)
    if subtype == 87:
        return Payload(mtype, join(label, xml_text(xml, "textannouncement") or title))
    if mtype is MessageType.LINK:
        return Payload(mtype, join(label, title, xml_text(xml, "url")))
    return Payload(mtype, join(label, title))


def csv_payload(mtype: int, subtype: int, content: str) -> Payload:
    """Return the payload of one CSV row from its type codes and ``StrContent``.

    ``StrContent`` is the message text for type 1 and system lines, and an XML snippet
    (or empty, on PC WeChat where app messages keep their XML elsewhere) for the rest.
    """
    if mtype == 1:
        return Payload(MessageType.TEXT, content)
    if mtype == APP_TYPE and not subtype and "<type>" in content:
        declared = xml_text(content, "type")
        subtype = int(declared) if is_number(declared) else 0
    ctype, label = classify(mtype, subtype)
    if mtype in SYSTEM_TYPES:
        text = content
        if content.lstrip().startswith("<"):
            text = xml_text(content, "replacemsg") or xml_text(content, "plain") or label
        text = text or label
        return Payload(system_type(mtype, text), text)
    if mtype == APP_TYPE:
        return _app_payload(subtype, ctype, label, content)
    if ctype in MEDIA_KINDS:
        kind = MEDIA_KINDS[ctype]
        detail = ""
        if ctype is MessageType.VOICE and is_number(xml_attr(content, "voicelength")):
            detail = f"{int(xml_attr(content, 'voicelength')) / 1000:.1f}s"
        elif ctype is MessageType.VIDEO and is_number(xml_attr(content, "playlength")):
            detail = f"{xml_attr(content, 'playlength')}s"
        return Payload(ctype, join(label, detail), missing_media(kind, xml_attr(content, "md5")))
    if ctype is MessageType.LOCATION:
        return Payload(ctype, join(label, xml_attr(content, "poiname"), xml_attr(content, "label")))
    if ctype is MessageType.CARD:
        who = xml_attr(content, "nickname")
        user = xml_attr(content, "username")
        return Payload(ctype, join(label, who, f"({user})" if user else ""))
    if ctype is MessageType.CALL:
        return Payload(ctype, xml_text(content, "msg") or label)
    if ctype is MessageType.SYSTEM:  # friend requests
        return Payload(ctype, join(label, xml_attr(content, "content")))
    if ctype is MessageType.STICKER or content.lstrip().startswith("<"):
        return Payload(ctype, label)
    return Payload(ctype, join(label, content))
