"""``mattermost``: a Mattermost compliance export in CSV (System Console → Compliance Export).

Input: the export zip (``posts.csv`` plus ``files/<postId>/<fileId>-<name>`` attachments,
``metadata.json``, maybe ``warning.txt``), a folder holding the same, or a bare
``posts.csv``. The CSV is streamed with the ``csv`` module over a line-by-line UTF-8 decoder
that also keeps each row's exact physical line(s) as ``raw`` (a quoted message may span
lines) and its starting line for error reports. Memory stays flat in the number of rows,
except for edits waiting for their new version (below).

Mapping (docs/formats/mattermost.md has the full table):

- ``Post Creation Time`` is epoch milliseconds (what Mattermost writes); an ISO 8601
  date-time is accepted too (with its offset, or in ``source.tz`` when it has none).
- ``Channel Type`` ``O``/``public`` → channel, ``P``/``private`` and ``G``/``group`` → group,
  ``D``/``direct`` → direct. Conversation id = ``Channel Id``.
- ``Post Type`` ``message`` → text; ``enter``/``leave``/``previously-joined`` and Mattermost's
  own ``system_*`` types → system; any other type → other.
- ``attachment`` / ``deleted attachment`` rows name one file of the post on the row before
  (``name (files/<postId>/<fileId>-<name>)``): they join that post's record as attachments,
  their lines appended to its ``raw``; ``included`` when the file is in the export. A file
  row with no post row beside it becomes its own record (message id none).
- Rows of one post are adjacent in the export. A later row with the same ``Post Id`` is an
  update of that post: ``delete <message>`` (the exporter's deletion row) or an update type
  naming a deletion → Amendment delete; anything else → Amendment edit with its message.
- ``Edited By Post Id`` = Y on post X: X is an earlier version of Y (Mattermost keeps the old
  text under a new id). X stays a record and gets an Amendment edit whose text is Y's message.
  Y usually follows X; the edits still waiting for their Y at the end are resolved by one
  more pass that reads only those posts' texts (memory grows with pending edits, not with
  posts). A Y absent from the export (another batch) leaves the edit's text empty.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, cast

from chatcustody.importers._base import (
    ZIP_ERRORS,
    ExportUnreadable,
    ParseResult,
    Rejected,
    SourceInput,
    head_bytes,
)
from chatcustody.importers._mattermost_format import (
    _EXCERPT_CHARS,
    _FILE_TYPES,
    _KINDS,
    _SYSTEM_TYPES,
    CSV_NAME,
    PLATFORM,
    TIME,
    _at,
    _Columns,
    _Csv,
    _Edit,
    _Invalid,
    _Row,
    iter_rows,
    parse_time,
    split_attachment,
    type_of_file,
)
from chatcustody.importers._time import ZoneOffsets
from chatcustody.model import (
    Amendment,
    Attachment,
    MessageType,
    Record,
)


class MattermostImporter:
    """A Mattermost compliance export: posts.csv in a zip, a folder, or on its own."""

    name = "mattermost"
    description = "Mattermost compliance export in CSV (posts.csv, in its zip or on its own)"
    detect_order = 30

    def detect(self, path: Path) -> bool:
        """Return True when posts.csv (bare, in a folder or zip) has the compliance header."""
        try:
            if path.is_dir():
                return _is_header(head_bytes(path / CSV_NAME, 4096))
            if path.is_file() and zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as z:
                    names = [n for n in z.namelist() if n.rsplit("/", 1)[-1] == CSV_NAME]
                    names = [n for n in names if n.count("/") <= 1]
                    if not names:
                        return False
                    with z.open(names[0]) as f:
                        return _is_header(f.read(4096))
            return _is_header(head_bytes(path, 4096))
        except (OSError, KeyError, ValueError, *ZIP_ERRORS):
            return False

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield the posts of every posts.csv in the export, in file order."""
        try:
            csvs, names = _csv_files(source)
        except (ExportUnreadable, OSError, KeyError) as exc:
            yield Rejected(None, f"cannot read the export: {exc}")
            return
        if not csvs:
            yield Rejected(None, f"no {CSV_NAME} in the export")
            return
        for one in csvs:
            yield from _CsvParser(source, one, names).parse()


def _is_header(head: bytes) -> bool:
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
    return all(col.encode() in first for col in (TIME, "Channel Id", "Post Id", "Post Type"))


def _csv_files(source: SourceInput) -> tuple[list[_Csv], frozenset[str] | None]:
    """Return the CSVs of the export and, for a zip or folder, its member names."""
    if not source.path.is_dir() and not source.is_zip:
        return [_Csv(source.open, "", "")], None
    members = source.members()
    found = [m for m in members if m.rsplit("/", 1)[-1] == CSV_NAME]
    several = len(found) > 1
    out = []
    for m in found:
        prefix = m[: len(m) - len(CSV_NAME)]
        out.append(_Csv(partial(source.open_member, m), m if several else "", prefix))
    return out, frozenset(members)


class _CsvParser:
    """Parses one posts.csv: groups a post's adjacent rows, resolves edits."""

    def __init__(self, source: SourceInput, one: _Csv, members: frozenset[str] | None) -> None:
        self._source = source
        self._csv = one
        self._members = members
        self._zone = ZoneOffsets(source.tz)
        self._waiting: dict[str, list[_Edit]] = {}  # new post id → its older versions
        self._c: _Columns

    def _open(self) -> IO[bytes]:
        stream = self._csv.open()
        if isinstance(stream, io.BufferedReader):
            return stream
        # zipfile's own readline is slow Python; a BufferedReader splits lines in C (it
        # only needs readinto(), which every binary stream has).
        return io.BufferedReader(cast(io.RawIOBase, stream))

    def _rows(self) -> Iterator[_Row | Rejected]:
        try:
            with self._open() as stream:
                yield from iter_rows(stream)
        except (ExportUnreadable, OSError, KeyError) as exc:
            yield Rejected(None, self._where(f"cannot read the CSV: {exc}"))

    def _where(self, reason: str) -> str:
        return f"{self._csv.label}: {reason}" if self._csv.label else reason

    def _reject(self, row: _Row, reason: str, record: str | None = None) -> Rejected:
        return Rejected(row.line, self._where(reason), row.raw[:_EXCERPT_CHARS], record or None)

    def parse(self) -> Iterator[ParseResult]:
        """Yield the items of this CSV, then the edits whose new version is absent."""
        c: _Columns | None = None
        group: list[_Row] = []
        key: tuple[str, str] | None = None
        file_level_problem = False
        for row in self._rows():
            if isinstance(row, Rejected):
                yield Rejected(row.line, self._where(row.reason), row.raw, row.record)
                file_level_problem = file_level_problem or row.line is None
                continue
            cells = row.cells
            if c is None:
                try:
                    c = self._c = _Columns(cells)
                except _Invalid as exc:
                    yield self._reject(row, str(exc))
                    return
                continue
            if len(cells) != c.width:
                yield self._reject(row, f"row has {len(cells)} fields; the header has {c.width}")
                continue
            post_id = cells[c.post]
            row_key = (cells[c.channel], post_id) if post_id else None
            if row_key is None or row_key != key:
                if group:
                    yield from self._flush(group)
                group, key = [], row_key
            group.append(row)
        if c is None:
            if not file_level_problem:
                yield Rejected(None, self._where("no header line (only blank lines)"))
            return
        if group:
            yield from self._flush(group)
        if self._waiting:
            texts = self._texts_of(set(self._waiting))
            for editor, edits in self._waiting.items():
                # Absent: the replacing post is in another export batch, its text unknown.
                for edit in edits:
                    yield edit.amendment(texts.get(editor, ""))

    def _texts_of(self, wanted: set[str]) -> dict[str, str]:
        """Second pass, only for edits whose new version came first: those posts' texts."""
        c = self._c
        found: dict[str, str] = {}
        try:
            stream = self._open()
            with io.TextIOWrapper(stream, "utf-8-sig", errors="replace", newline="") as text:
                reader = csv.reader(text)
                next(reader, None)
                while len(found) < len(wanted):
                    try:
                        cells = next(reader)
                    except StopIteration:
                        break
                    except csv.Error:  # already reported by the main pass
                        continue
                    if len(cells) != c.width or cells[c.post_type] in _FILE_TYPES:
                        continue
                    post_id = cells[c.post]
                    if post_id in wanted and post_id not in found:
                        found[post_id] = cells[c.message]
        except (ExportUnreadable, OSError, KeyError, csv.Error):
            pass
        return found

    def _flush(self, group: list[_Row]) -> Iterator[ParseResult]:
        c = self._c
        if len(group) == 1:
            posts, files = (
                (group, []) if group[0].cells[c.post_type] not in _FILE_TYPES else ([], group)
            )
        else:
            posts = [r for r in group if r.cells[c.post_type] not in _FILE_TYPES]
            files = [r for r in group if r.cells[c.post_type] in _FILE_TYPES]
        if not posts:  # file rows with no post row beside them: one record each
            for r in files:
                try:
                    yield self._record(r, [r], None)
                except _Invalid as exc:
                    yield self._reject(r, str(exc), r.cells[c.post])
            return
        first = posts[0]
        post_id = first.cells[c.post]
        try:
            record = self._record(first, files, post_id or None)
        except _Invalid as exc:
            yield self._reject(first, str(exc), post_id)
            return
        yield record
        for later in posts[1:]:
            try:
                yield self._update(record, first, later)
            except _Invalid as exc:
                yield self._reject(later, str(exc), post_id)
        if post_id:
            yield from self._edits(record, first)

    def _record(self, row: _Row, files: list[_Row], message_id: str | None) -> Record:
        c = self._c
        cells = row.cells
        ms, offset = parse_time(cells[c.time], self._zone)
        channel_id = cells[c.channel]
        if not channel_id:
            raise _Invalid("Channel Id is empty")
        kind = _KINDS.get(cells[c.channel_type].strip())
        if kind is None:
            raise _Invalid(
                f"unknown Channel Type {cells[c.channel_type]!r} (expected O, P, D, G or "
                "public, private, direct, group)"
            )
        post_type = cells[c.post_type]
        attachments = tuple(self._attachment(r) for r in files) if files else ()
        if post_type in _FILE_TYPES:  # a file row on its own
            mtype = type_of_file(attachments[0].name)
            text = ""
        else:
            text = cells[c.message]
            if post_type == "message" or not post_type:
                mtype = type_of_file(attachments[0].name) if attachments else MessageType.TEXT
            elif post_type in _SYSTEM_TYPES or post_type.startswith("system_"):
                mtype = MessageType.SYSTEM
            else:
                mtype = MessageType.OTHER
        if not text and attachments:
            text = ", ".join(a.name for a in attachments)
        user_id, username = cells[c.user], _at(cells, c.username)
        reply_to = _at(cells, c.reply_to) or None
        raw = row.raw
        if files and files[0] is not row:
            raw = "\n".join([row.raw, *(r.raw for r in files)])
        return Record(
            platform=PLATFORM,
            conversation_id=channel_id,
            conversation_name=_at(cells, c.channel_display)
            or _at(cells, c.channel_name)
            or channel_id,
            conversation_kind=kind,
            message_id=message_id,
            sender_id=user_id or username,
            sender_name=username or user_id,
            timestamp_ms=ms,
            utc_offset_min=offset,
            type=mtype,
            text=text,
            raw=raw,
            reply_to=None if reply_to == message_id else reply_to,
            attachments=attachments,
            line=row.line,
        )

    def _attachment(self, row: _Row) -> Attachment:
        name, path = split_attachment(row.cells[self._c.message])
        present = path is not None and self._present(path)
        full = None if path is None else self._csv.prefix + path
        return Attachment(name=name, mime=None, path=full, included=present)

    def _present(self, rel: str) -> bool:
        posix = PurePosixPath(rel)
        if posix.is_absolute() or ".." in posix.parts:
            return False
        if self._members is not None:
            return self._csv.prefix + rel in self._members
        return (self._source.path.parent / rel).is_file()

    def _when(self, row: _Row) -> tuple[int, int]:
        """Return the update time of a row when stated, else its creation time."""
        update = _at(row.cells, self._c.update_time).strip()
        if update not in ("", "0"):
            return parse_time(update, self._zone)
        return parse_time(row.cells[self._c.time], self._zone)

    def _update(self, record: Record, first: _Row, later: _Row) -> Amendment:
        """Return the Amendment of a later row of the same post."""
        c = self._c
        ms, offset = self._when(later)
        message = later.cells[c.message]
        update_type = _at(later.cells, c.update_type).lower()
        deleted = "delet" in update_type or message == "delete " + first.cells[c.message]
        return Amendment(
            platform=PLATFORM,
            conversation_id=record.conversation_id,
            message_id=record.message_id or "",
            action="delete" if deleted else "edit",
            timestamp_ms=ms,
            utc_offset_min=offset,
            actor_id=record.sender_id,
            text="" if deleted else message,
            raw=later.raw,
            line=later.line,
        )

    def _edits(self, record: Record, first: _Row) -> Iterator[ParseResult]:
        """Yield the edit Amendments that this post completes or starts."""
        c = self._c
        post_id = record.message_id or ""
        if post_id in self._waiting:  # older versions seen before this one
            for edit in self._waiting.pop(post_id):
                yield edit.amendment(first.cells[c.message])
        editor = _at(first.cells, c.edited_by)
        if not editor or editor == post_id:
            return
        try:
            ms, offset = self._when(first)
        except _Invalid as exc:
            yield self._reject(first, str(exc), post_id)
            return
        edit = _Edit(
            record.conversation_id, post_id, ms, offset, record.sender_id, first.raw, first.line
        )
        # Resolved when the new version comes later, else by one more pass at the end.
        self._waiting.setdefault(editor, []).append(edit)


IMPORTER = MattermostImporter()
