"""A Slack export's layout and values: day files, metadata, timestamps, JSON arrays.

A standard export is a folder or zip with ``users.json``, ``channels.json`` (and the group,
DM and multi-party DM lists) and one ``<folder>/YYYY-MM-DD.json`` array per conversation day.
Here: the subtypes that make a message a system event or call, the exact ``ts`` parser, and
:func:`iter_array`, which walks a day file's array keeping each element's text and line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from chatcustody.importers._base import (
    SourceInput,
)
from chatcustody.importers._time import ZoneOffsets
from chatcustody.model import ConversationKind

PLATFORM: Final[str] = "slack"
_META_KINDS: Final[dict[str, ConversationKind]] = {
    "channels.json": ConversationKind.CHANNEL,
    "groups.json": ConversationKind.GROUP,
    "mpims.json": ConversationKind.GROUP,
    "dms.json": ConversationKind.DIRECT,
}
_DAY_FILE: Final[re.Pattern[str]] = re.compile(r"([^/]+)/\d{4}-\d{2}-\d{2}\.json")
# Slack ts seconds beyond 9999-12-31 cannot be a real message time (and overflow datetime).
_MAX_TS_SECONDS: Final[int] = 253_402_300_799
_TOKEN: Final[re.Pattern[str]] = re.compile(r"<([^<>\n]+)>")
_WS: Final[re.Pattern[str]] = re.compile(r"[ \t\r\n]*")
_COMMA: Final[re.Pattern[str]] = re.compile(r"[ \t\r\n]*,[ \t\r\n]*")
_EXCERPT_CHARS: Final[int] = 500

_SYSTEM_SUBTYPES: Final[frozenset[str]] = frozenset(
    {
        "pinned_item",
        "unpinned_item",
        "bot_add",
        "bot_remove",
        "bot_enable",
        "bot_disable",
        "reminder_add",
        "tombstone",
        "joiner_notification",
        "slackbot_response",
    }
)
_MESSAGE_SUBTYPES: Final[frozenset[str]] = frozenset(
    {
        "",
        "bot_message",
        "me_message",
        "thread_broadcast",
        "reply_broadcast",
        "file_share",
        "file_comment",
        "file_mention",
    }
)
_CALL_SUBTYPES: Final[frozenset[str]] = frozenset({"huddle_thread", "sh_room_created"})


class _Invalid(ValueError):
    """One message's defect (turned into a Rejected)."""


@dataclass(frozen=True, slots=True)
class _Conversation:
    id: str
    name: str
    kind: ConversationKind


@dataclass(slots=True)
class _Export:
    """What the metadata files say, plus where the export's root is."""

    root: str
    zone: ZoneOffsets
    users: dict[str, str] = field(default_factory=dict)
    channel_names: dict[str, str] = field(default_factory=dict)
    by_folder: dict[str, _Conversation] = field(default_factory=dict)
    members: frozenset[str] = frozenset()


def parse_ts(value: Any) -> int:
    """Return the UTC ms of a Slack ``ts`` ("1543715389.000200"), exactly; raise _Invalid."""
    if not isinstance(value, str):
        raise _Invalid(f"ts must be a string like '1543715389.000200', not {value!r}")
    seconds, _, fraction = value.partition(".")
    if not (
        value.isascii()
        and seconds.isdigit()
        and len(seconds) <= 12
        and (fraction.isdigit() and len(fraction) <= 9 if fraction else "." not in value)
    ):
        raise _Invalid(f"ts {value!r} is not a Slack timestamp (seconds.microseconds)")
    whole = int(seconds)
    if whole > _MAX_TS_SECONDS:
        raise _Invalid(f"ts {value!r} is after the year 9999")
    return whole * 1000 + int((fraction + "00")[:3])


def _user_name(user: dict[str, Any]) -> str:
    """Return the name Slack shows: display name, else real name, else handle.

    Accepts a users.json entry (names under ``profile``) or a message's ``user_profile``
    (names at the top level).
    """
    profile = _dict(user.get("profile"))
    for value in (
        profile.get("display_name"),
        profile.get("real_name"),
        user.get("display_name"),
        user.get("real_name"),
        user.get("name"),
    ):
        if isinstance(value, str) and value.strip():
            return value
    return _text_of(user.get("id"))


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _find_root(members: list[str]) -> str:
    """Return the prefix ("" or "top/") of the shallowest metadata file."""
    best: str | None = None
    for name in members:
        base = name.rsplit("/", 1)[-1]
        if base in _META_KINDS or base == "users.json":
            prefix = name[: len(name) - len(base)]
            if best is None or prefix.count("/") < best.count("/"):
                best = prefix
    return best or ""


def _read_member(source: SourceInput, name: str) -> bytes:
    with source.open_member(name) as f:
        return f.read()


def _decode(data: bytes, member: str) -> str:
    """Decode UTF-8 (BOM allowed); raise _Invalid naming the line of a bad byte."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _Invalid(f"{member} line {line}: invalid UTF-8 at byte {exc.start}") from None


def _skip(text: str, pos: int) -> int:
    """Return the position after any JSON whitespace at ``pos``."""
    m = _WS.match(text, pos)
    return pos if m is None else m.end()


def iter_array(text: str) -> Iterator[tuple[int, str, Any]]:
    """Yield (line, exact text, value) of each element of a JSON array; raise _Invalid."""
    decoder = json.JSONDecoder()
    pos = _skip(text, 0)
    if not text.startswith("[", pos):
        raise _Invalid("line 1: a day file must be a JSON array of messages")
    pos = _skip(text, pos + 1)
    line, counted = 1, 0
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            line += text.count("\n", counted, pos)
            counted = pos
            try:
                value, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise _Invalid(f"line {exc.lineno}: malformed JSON: {exc.msg}") from None
            except RecursionError:
                raise _Invalid(f"line {line}: JSON nested too deeply") from None
            yield line, text[pos:end], value
            comma = _COMMA.match(text, end)
            if comma is not None:
                pos = comma.end()
                continue
            pos = _skip(text, end)
            if text.startswith("]", pos):
                pos += 1
                break
            else:
                at = text.count("\n", 0, pos) + 1
                raise _Invalid(f"line {at}: malformed JSON: expected ',' or ']' after a message")
    if _skip(text, pos) != len(text):
        at = text.count("\n", 0, pos) + 1
        raise _Invalid(f"line {at}: malformed JSON: extra data after the array")
