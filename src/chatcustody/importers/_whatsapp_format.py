"""WhatsApp's chat-export text format: line headers, markers, media notes and chat titles.

The exported ``_chat.txt`` (or ``WhatsApp Chat with X.txt``) differs by phone platform and
locale; the patterns here recognise a message header, the invisible marks around edited or
deleted content, attached and omitted media, and the chat's title from the file name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Final

from chatcustody.model import ConversationKind, MessageType

PLATFORM: Final[str] = "whatsapp"
SYSTEM_SENDER: Final[str] = "system"
_MAX_MESSAGE_CHARS: Final[int] = 1_000_000  # WhatsApp caps a message at 65,536 characters
_MAX_NAME_CHARS: Final[int] = 100
_HEAD_BYTES: Final[int] = 4096
_LRM: Final[str] = "\u200e"
_BIDI: Final[str] = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BOM: Final[bytes] = b"\xef\xbb\xbf"
_NO_BIDI: Final = str.maketrans("", "", _BIDI)
_QUOTES: Final = re.compile('["“”]')
# Any of the markers below; a text without one is plain text (the common, fast case).
_MARKED: Final = re.compile(r"<|\(|omitted|deleted|[Cc]all|ocation: |位置: |删除|刪除|通话|\u200e")

_MARK = r"(?:[AaPp]\.?\s?[Mm]\.?|上午|下午|中午|晚上|凌晨|早上|午前|午後|오전|오후)"
_HEADER: Final = re.compile(
    r"[\u200e\u200f]*(?P<br>\[)?"
    r"(?:(?P<y1>\d{4})(?P<s1>[/.\-])(?P<m1>\d{1,2})(?P=s1)(?P<d1>\d{1,2})"
    r"|(?P<a>\d{1,2})(?P<s2>[/.\-])(?P<b>\d{1,2})(?P=s2)(?P<y>\d{4}|\d{2}))\.?"
    r",?\s*"
    rf"(?:(?P<pre>{_MARK})\s*)?"
    r"(?P<h>\d{1,2})[:.](?P<mi>\d{2})(?:[:.](?P<s>\d{2}))?"
    rf"(?:\s*(?P<post>{_MARK}))?"
    r"(?(br)\]\s?|\s[-–]\s)"
    r"(?P<rest>.*)",
    re.DOTALL,
)
_MARKS: Final[dict[str, str]] = {
    "am": "am",
    "pm": "pm",
    "上午": "am",
    "凌晨": "am",
    "早上": "am",
    "午前": "am",
    "오전": "am",
    "下午": "pm",
    "晚上": "pm",
    "午後": "pm",
    "오후": "pm",
    "中午": "noon",
}
_ATTACHED: Final = re.compile(r"<attached: ([^<>\n]+)>")
_FILE_ATTACHED: Final = re.compile(
    r"(.+?) \((?:file attached|archivo adjunto|Datei angehängt|fichier joint|arquivo anexado)\)$"
)
_MEDIA_OMITTED: Final = re.compile(
    r"<(?:Media omitted|[^<>\n]{0,40}(?:omitted|省略)[^<>\n]{0,20})>$"
)
_IOS_OMITTED: Final = re.compile(
    r"(?:^|\u200e)(image|video|audio|sticker|GIF|document|Contact card) omitted$"
)
_DELETED: Final = re.compile(
    r"(?:This message was deleted|You deleted this message|此消息已删除|你删除了此消息"
    r"|此訊息已刪除|你已刪除此訊息)\.?$"
)
_CALL: Final = re.compile(
    r"(?:Missed (?:voice|video|group) call|(?:Voice|Video) call)(?:[,.].*)?$"
    r"|未接(?:语音|视频)通话$|(?:语音|视频)通话(?:[,，].*)?$"
)
_LOCATION: Final = re.compile(r"(?:[Ll]ocation|位置): https?://\S+")
_POLL: Final = re.compile(r"POLL:")
_GROUP_LINE: Final = re.compile(
    r"created group|created this group|\badded\b|\bremoved\b|\bleft$|joined using|"
    r"changed the subject|changed (?:this|the) group|group's|now an admin|You were added|"
    r"创建了群组|建立了群組|添加了|移除了|退出了群|已退出|更改了群|群组名称|群組名稱"
)
_TITLE_PREFIXES: Final[tuple[str, ...]] = (
    "WhatsApp Chat with ",
    "WhatsApp Chat - ",
    "WhatsApp Chat – ",
)
_OMITTED_TYPES: Final[dict[str, MessageType]] = {
    "image": MessageType.IMAGE,
    "video": MessageType.VIDEO,
    "audio": MessageType.VOICE,
    "sticker": MessageType.STICKER,
    "GIF": MessageType.VIDEO,
    "document": MessageType.FILE,
    "Contact card": MessageType.CARD,
}


class _Bad(ValueError):
    """A defect of one message (becomes a Rejected)."""


@dataclass(frozen=True, slots=True)
class _ChatFile:
    """One chat text file of the export: how to open it, where its media sit, its title."""

    open: Callable[[], IO[bytes]]
    name: str  # shown in rejection reasons ("" for a single .txt)
    prefix: str  # folder of the .txt inside a zip/folder export ("" or "dir/")
    title: str


@dataclass(slots=True)
class _Survey:
    """What the first pass learned about a chat file."""

    day_votes: int = 0
    month_votes: int = 0
    hint_dayfirst: bool | None = None
    senders: set[str] = field(default_factory=set)
    group_line: bool = False

    @property
    def kind(self) -> ConversationKind:
        if self.group_line or len(self.senders) > 2:
            return ConversationKind.GROUP
        return ConversationKind.DIRECT

    def dayfirst(self) -> bool:
        if self.day_votes != self.month_votes:
            return self.day_votes > self.month_votes
        return True if self.hint_dayfirst is None else self.hint_dayfirst


@dataclass(slots=True)
class _Pending:
    """The message being assembled: its header line and the lines that continue it."""

    line: int
    instant: tuple[int, int] | str  # (UTC ms, offset) or the reason it is unreadable
    sender: str | None
    lines: list[str]  # text lines: the header's text, then continuation lines
    raw: list[str]  # the source lines as read
    size: int = 0
    overflow: bool = False


def chat_title(name: str) -> str:
    """Return the chat title in an export file name ("WhatsApp Chat with 张三.txt" → "张三")."""
    stem = name[:-4] if name.lower().endswith((".txt", ".zip")) else name
    for prefix in _TITLE_PREFIXES:
        if stem.startswith(prefix) and len(stem) > len(prefix):
            return stem[len(prefix) :]
    return stem


def split_sender(rest: str) -> tuple[str | None, str]:
    """Split a header's remainder into (sender, text); sender None for a system line."""
    idx = rest.find(": ")
    if idx <= 0:
        return None, rest.lstrip(_BIDI)
    name = rest[:idx]
    if len(name) > _MAX_NAME_CHARS or _QUOTES.search(name):
        return None, rest.lstrip(_BIDI)
    text = rest[idx + 2 :]
    if text.startswith(_LRM):
        text = text.lstrip(_BIDI)
        if not _is_marked_content(text):
            return None, text  # iOS writes system notices as "Chat name: \u200etext"
    clean = name.translate(_NO_BIDI).strip()
    return (clean or None), text


def _is_marked_content(text: str) -> bool:
    first = text.split("\n", 1)[0]
    return bool(
        _ATTACHED.search(first)
        or _IOS_OMITTED.search(first)
        or _DELETED.match(text)
        or _CALL.match(text)
        or _LOCATION.match(text)
        or _POLL.match(text)
    )


def _file_type(name: str) -> MessageType:
    upper = name.upper()
    ext = upper.rsplit(".", 1)[-1] if "." in upper else ""
    if upper.startswith("IMG-") or "-PHOTO-" in upper or ext in {"JPG", "JPEG", "PNG", "HEIC"}:
        return MessageType.IMAGE
    if upper.startswith("PTT-") or "-AUDIO-" in upper or ext == "OPUS":
        return MessageType.VOICE
    if upper.startswith("STK-") or "-STICKER-" in upper or ext == "WEBP":
        return MessageType.STICKER
    if upper.startswith(("VID-", "GIF-")) or "-VIDEO-" in upper or "-GIF-" in upper:
        return MessageType.VIDEO
    if ext in {"MP4", "MOV", "3GP"}:
        return MessageType.VIDEO
    if ext == "VCF":
        return MessageType.CARD
    return MessageType.FILE
