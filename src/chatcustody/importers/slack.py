"""``slack``: a Slack workspace export (Settings → Import/Export Data), as a zip or a folder.

An export holds ``users.json``, ``channels.json``, ``groups.json``, ``mpims.json``,
``dms.json`` and one folder per conversation with one JSON array per day
(``<folder>/YYYY-MM-DD.json``). Members are read with ``source.members()`` /
``source.open_member()``, so a zip and an unzipped folder import alike; a zip whose content
sits under one top folder is accepted (paths then keep that prefix).

Memory: the metadata files are loaded whole (they grow with users and channels, not with
messages). Day files are small (one conversation, one day), so each is read and decoded one
at a time; its elements are decoded one by one with ``JSONDecoder.raw_decode`` so that every
message keeps its exact source text as ``raw`` and its line number for error reports.

Mapping (docs/formats/slack.md has the full table):

- conversation id = the channel id from the metadata files (``C…``, ``G…``, ``D…``), name =
  the channel name (a DM: its members' names); channels → ``channel``, groups and mpims →
  ``group``, dms → ``direct``. A folder missing from the metadata keeps its folder name as id.
- ``ts`` is the message id; its instant is ``seconds * 1000 + milliseconds`` of the fraction,
  in exact integer arithmetic. ``thread_ts != ts`` → ``reply_to = thread_ts``.
- ``message_changed`` → Amendment edit of ``message.ts``; ``message_deleted`` → Amendment
  delete of ``deleted_ts``. Join/leave/topic/purpose/name/archive/pin subtypes → ``system``.
- ``<@U…>`` mentions are shown as ``@display name``; ``&amp; &lt; &gt;`` are unescaped;
  ``raw`` keeps the text as exported.
- ``files[]`` become attachments, ``included`` only when the file itself is in the export
  (``__uploads/<id>/<name>`` or ``<folder>/attachments/<id>-<name>``, as download tools
  write them); Slack's own export only links them (``url_private``, kept in ``raw``).
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatcustody.importers._base import (
    ZIP_ERRORS,
    ExportUnreadable,
    ParseResult,
    Rejected,
    SourceInput,
)
from chatcustody.importers._slack_export import (
    _CALL_SUBTYPES,
    _DAY_FILE,
    _EXCERPT_CHARS,
    _MESSAGE_SUBTYPES,
    _META_KINDS,
    _SYSTEM_SUBTYPES,
    _TOKEN,
    PLATFORM,
    _Conversation,
    _decode,
    _dict,
    _Export,
    _find_root,
    _Invalid,
    _list,
    _read_member,
    _text_of,
    _user_name,
    iter_array,
    parse_ts,
)
from chatcustody.importers._time import ZoneOffsets
from chatcustody.model import Amendment, Attachment, ConversationKind, MessageType, Record


class SlackImporter:
    """A Slack workspace export: zip or folder of per-channel, per-day JSON arrays."""

    name = "slack"
    description = "Slack workspace export (zip or folder: users.json, channels.json, day files)"
    detect_order = 30

    def detect(self, path: Path) -> bool:
        """Return True for a folder or zip with Slack's channels.json / users.json layout."""
        try:
            if path.is_dir():
                names = [p.name for p in path.iterdir() if p.is_file()]
            elif path.is_file() and zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as z:
                    names = [n for n in z.namelist() if n.count("/") <= 1]
            else:
                return False
        except (OSError, KeyError, ValueError, *ZIP_ERRORS):
            return False
        bases: dict[str, set[str]] = {}
        for n in names:
            prefix, _, base = n.rpartition("/")
            bases.setdefault(prefix, set()).add(base)
        return any("users.json" in b and not b.isdisjoint(_META_KINDS) for b in bases.values())

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield each day file's messages, conversation by conversation, in file order."""
        if not source.path.is_dir() and not source.is_zip:
            yield Rejected(None, "not a Slack export: expected a zip file or a folder")
            return
        try:
            members = source.members()
        except (ExportUnreadable, OSError, KeyError) as exc:
            yield Rejected(None, f"cannot list the export's files: {exc}")
            return
        export = _Export(
            _find_root(members), members=frozenset(members), zone=ZoneOffsets(source.tz)
        )
        yield from self._load_metadata(source, export)
        days: list[tuple[str, str]] = []
        for name in members:
            if name.startswith(export.root):
                m = _DAY_FILE.fullmatch(name[len(export.root) :])
                if m is not None:
                    days.append((m.group(1), name))
        if not days:
            yield Rejected(None, "no day files (<channel>/YYYY-MM-DD.json) in the export")
            return
        folder: str | None = None
        started = False
        held: list[Amendment] = []
        for day_folder, member in days:
            if day_folder != folder:
                yield from held
                folder, started, held = day_folder, False, []
            conversation = export.by_folder.get(day_folder) or _fallback(day_folder)
            for item in self._day(source, export, member, day_folder, conversation):
                # An amendment must not be the first item of its conversation: ingest would
                # create the conversation from it with no name and the wrong kind.
                if isinstance(item, Amendment) and not started:
                    held.append(item)
                    continue
                yield item
                if isinstance(item, Record) and not started:
                    started = True
                    yield from held
                    held = []
        yield from held

    def _load_metadata(self, source: SourceInput, export: _Export) -> Iterator[Rejected]:
        loaded: dict[str, list[dict[str, Any]]] = {}
        for base in ("users.json", *_META_KINDS):
            member = export.root + base
            if member not in export.members:
                continue
            try:
                value = json.loads(_decode(_read_member(source, member), member))
            except _Invalid as exc:
                yield Rejected(None, str(exc), record=member)
                continue
            except json.JSONDecodeError as exc:
                yield Rejected(
                    None, f"{member} line {exc.lineno}: malformed JSON: {exc.msg}", record=member
                )
                continue
            except RecursionError:
                yield Rejected(None, f"{member}: JSON nested too deeply", record=member)
                continue
            except (ExportUnreadable, OSError, KeyError) as exc:
                yield Rejected(None, f"cannot read {member}: {exc}", record=member)
                continue
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                yield Rejected(None, f"{member} must be a JSON array of objects", record=member)
                continue
            loaded[base] = value
        for user in loaded.get("users.json", []):
            if isinstance(user.get("id"), str):
                export.users[user["id"]] = _user_name(user)
        for base, kind in _META_KINDS.items():
            for conv in loaded.get(base, []):
                cid = conv.get("id")
                if not isinstance(cid, str) or not cid:
                    yield Rejected(
                        None, f"{base}: an entry has no id", json.dumps(conv)[:200], base
                    )
                    continue
                folder_name = _text_of(conv.get("name"))
                name = folder_name
                if kind is ConversationKind.DIRECT and not name:
                    people = _list(conv.get("members"))
                    name = ", ".join(export.users.get(str(u), str(u)) for u in people)
                export.channel_names[cid] = name or cid
                entry = _Conversation(cid, name or cid, kind)
                # Slack names DM folders by id, the others by name; accept either.
                export.by_folder.setdefault(cid, entry)
                if folder_name:
                    export.by_folder[folder_name] = entry

    def _day(
        self,
        source: SourceInput,
        export: _Export,
        member: str,
        folder: str,
        conversation: _Conversation,
    ) -> Iterator[ParseResult]:
        try:
            text = _decode(_read_member(source, member), member)
        except _Invalid as exc:
            yield Rejected(None, str(exc), record=member)
            return
        except (ExportUnreadable, OSError, KeyError) as exc:
            yield Rejected(None, f"cannot read {member}: {exc}", record=member)
            return
        if not text.strip():
            yield Rejected(None, f"{member} is empty", record=member)
            return
        reader = _MessageReader(export, folder, conversation)
        elements = iter_array(text)
        while True:
            try:
                line, raw, value = next(elements)
            except StopIteration:
                return
            except _Invalid as exc:
                yield Rejected(None, f"{member} {exc}", record=member)
                return
            try:
                item = reader.item(value, raw, line)
            except (_Invalid, RecursionError) as exc:
                reason = str(exc) if isinstance(exc, _Invalid) else "message nested too deeply"
                ts = value.get("ts") if isinstance(value, dict) else None
                where = f"{member}:{line}" + (f" ts {ts}" if isinstance(ts, str) else "")
                yield Rejected(None, f"{member} line {line}: {reason}", raw[:_EXCERPT_CHARS], where)
                continue
            yield item


def _fallback(folder: str) -> _Conversation:
    """Return the conversation of a folder that no metadata file lists."""
    if folder.startswith("mpdm-"):
        kind = ConversationKind.GROUP
    elif re.fullmatch(r"D[A-Z0-9]{6,}", folder):
        kind = ConversationKind.DIRECT
    else:
        kind = ConversationKind.CHANNEL
    return _Conversation(folder, folder, kind)


class _MessageReader:
    """Turns the message objects of one conversation folder into items."""

    def __init__(self, export: _Export, folder: str, conversation: _Conversation) -> None:
        self._export = export
        self._folder = folder
        self._conv = conversation
        self._zone = export.zone

    def item(self, obj: Any, raw: str, line: int) -> Record | Amendment:
        """Return the Record or Amendment of one message object; raise _Invalid."""
        if type(obj) is not dict:
            raise _Invalid("a message must be a JSON object")
        ts = obj.get("ts")
        if ts is None:
            raise _Invalid("message has no ts")
        ms = parse_ts(ts)
        subtype = obj.get("subtype") or ""
        if type(subtype) is not str:
            subtype = ""
        if subtype == "message_changed":
            return self._changed(obj, ms, raw)
        if subtype == "message_deleted":
            return self._deleted(obj, ms, raw)
        sender_id, sender_name = self._sender(obj, subtype)
        files = obj.get("files")
        attachments = self._files(files) if files else ()
        text = obj.get("text")
        if type(text) is not str:
            text = ""
        mtype = self._type(obj, subtype, text, attachments)
        text = self._render(text) if text else self._fallback_text(obj, mtype, attachments)
        thread = obj.get("thread_ts")
        return Record(
            platform=PLATFORM,
            conversation_id=self._conv.id,
            conversation_name=self._conv.name,
            conversation_kind=self._conv.kind,
            message_id=ts,
            sender_id=sender_id,
            sender_name=sender_name,
            timestamp_ms=ms,
            utc_offset_min=self._zone.minutes(ms),
            type=mtype,
            text=text,
            raw=raw,
            reply_to=thread if thread and type(thread) is str and thread != ts else None,
            attachments=attachments,
            line=None,
        )

    def _changed(self, obj: dict[str, Any], event_ms: int, raw: str) -> Amendment:
        message = obj.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("ts"), str):
            raise _Invalid("message_changed has no message.ts (the edited message)")
        parse_ts(message["ts"])
        edited = _dict(message.get("edited"))
        ms = event_ms
        if isinstance(edited.get("ts"), str):
            try:
                ms = parse_ts(edited["ts"])
            except _Invalid:
                ms = event_ms
        actor = edited.get("user") or message.get("user") or obj.get("user") or ""
        return Amendment(
            platform=PLATFORM,
            conversation_id=self._conv.id,
            message_id=message["ts"],
            action="edit",
            timestamp_ms=ms,
            utc_offset_min=self._zone.minutes(ms),
            actor_id=str(actor),
            text=self._render(_text_of(message.get("text"))),
            raw=raw,
            line=None,
        )

    def _deleted(self, obj: dict[str, Any], ms: int, raw: str) -> Amendment:
        target = obj.get("deleted_ts")
        if not isinstance(target, str):
            raise _Invalid("message_deleted has no deleted_ts (the deleted message)")
        parse_ts(target)
        # Slack does not say who deleted a message; only an explicit "user" is trusted.
        return Amendment(
            platform=PLATFORM,
            conversation_id=self._conv.id,
            message_id=target,
            action="delete",
            timestamp_ms=ms,
            utc_offset_min=self._zone.minutes(ms),
            actor_id=_text_of(obj.get("user")),
            text="",
            raw=raw,
            line=None,
        )

    def _sender(self, obj: dict[str, Any], subtype: str) -> tuple[str, str]:
        user = obj.get("user")
        if user and type(user) is str and subtype != "bot_message":
            name = self._export.users.get(user)
            if name:
                return user, name
        user, bot = _text_of(user), _text_of(obj.get("bot_id"))
        username = _text_of(obj.get("username"))
        bot_profile = _dict(obj.get("bot_profile"))
        if subtype == "bot_message" and bot:
            return bot, username or _text_of(bot_profile.get("name")) or bot
        sender = user or bot or username
        name = self._export.users.get(sender, "")
        if not name:
            profile = obj.get("user_profile")
            if isinstance(profile, dict):
                name = _user_name(profile)
        return sender, name or username or _text_of(bot_profile.get("name")) or sender

    def _files(self, files: Any) -> tuple[Attachment, ...]:
        if not isinstance(files, list):
            return ()
        out = []
        for i, f in enumerate(files):
            if not isinstance(f, dict):
                raise _Invalid(f"files[{i}] is not an object")
            fid = _text_of(f.get("id"))
            name = _text_of(f.get("name")) or _text_of(f.get("title")) or fid or f"file {i + 1}"
            mime = f.get("mimetype") if isinstance(f.get("mimetype"), str) else None
            path = self._present(fid, name)
            out.append(Attachment(name=name, mime=mime or None, path=path, included=bool(path)))
        return tuple(out)

    def _present(self, fid: str, name: str) -> str | None:
        """Return the export path of a downloaded file, or None when only linked."""
        if not fid or "/" in fid or "/" in name or name in ("", ".", ".."):
            return None
        root = self._export.root
        for candidate in (
            f"{root}__uploads/{fid}/{name}",
            f"{root}{self._folder}/attachments/{fid}-{name}",
        ):
            if candidate in self._export.members:
                return candidate
        return None

    def _type(
        self, obj: dict[str, Any], subtype: str, text: str, attachments: tuple[Attachment, ...]
    ) -> MessageType:
        if subtype:
            if subtype in _SYSTEM_SUBTYPES or subtype.startswith(("channel_", "group_")):
                return MessageType.SYSTEM
            if subtype in _CALL_SUBTYPES:
                return MessageType.CALL
        if attachments:
            mime = attachments[0].mime or ""
            for prefix, kind in (
                ("image/", MessageType.IMAGE),
                ("video/", MessageType.VIDEO),
                ("audio/", MessageType.VOICE),
            ):
                if mime.startswith(prefix):
                    return kind
            return MessageType.FILE
        if subtype not in _MESSAGE_SUBTYPES:
            return MessageType.OTHER
        if not text.strip() and _unfurl_title(obj) is not None:
            return MessageType.LINK
        return MessageType.TEXT

    def _fallback_text(
        self, obj: dict[str, Any], mtype: MessageType, attachments: tuple[Attachment, ...]
    ) -> str:
        if attachments:
            return ", ".join(a.name for a in attachments)
        for part in _list(obj.get("attachments")):
            if isinstance(part, dict):
                for key in ("fallback", "text", "title", "pretext"):
                    if isinstance(part.get(key), str) and part[key].strip():
                        return self._render(part[key])
        blocks = " ".join(_block_texts(obj.get("blocks"))).strip()
        if blocks:
            return self._render(blocks)
        if mtype is MessageType.CALL:
            return "Huddle" if obj.get("subtype") == "huddle_thread" else "Call"
        return ""

    def _render(self, text: str) -> str:
        """Show mentions, channel links and URLs as Slack displays them."""
        if "<" in text:
            text = _TOKEN.sub(self._token, text)
        if "&" in text:
            text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        return text

    def _token(self, m: re.Match[str]) -> str:
        target, _, label = m.group(1).partition("|")
        if target.startswith("@"):
            uid = target[1:]
            return "@" + (self._export.users.get(uid) or label or uid)
        if target.startswith("#"):
            cid = target[1:]
            return "#" + (label or self._export.channel_names.get(cid) or cid)
        if target.startswith("!"):
            return label or "@" + target[1:].split("^", 1)[0]
        if label and label not in target:
            return f"{label} ({target})"
        return label if target.startswith("mailto:") and label else target


def _unfurl_title(obj: dict[str, Any]) -> str | None:
    for part in _list(obj.get("attachments")):
        if isinstance(part, dict) and (part.get("from_url") or part.get("title_link")):
            return _text_of(part.get("title")) or _text_of(part.get("fallback"))
    return None


def _block_texts(value: Any) -> Iterator[str]:
    """Yield the text strings of a blocks tree (rich_text, section, context…)."""
    if isinstance(value, list):
        for v in value:
            yield from _block_texts(v)
    elif isinstance(value, dict):
        text = value.get("text")
        if isinstance(text, str):
            yield text
        elif isinstance(text, dict):
            yield from _block_texts(text)
        for key in ("elements", "fields"):
            if key in value:
                yield from _block_texts(value[key])


IMPORTER = SlackImporter()
