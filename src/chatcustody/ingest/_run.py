"""The import use case: acquire each file, validate it whole, then ingest it in batches.

Order of work for one file, and why:

1. Hash the original (SHA-256, SM3). A file already imported completely is a no-op.
2. Parse it once without writing: any bad record rejects the whole file with its first
   problems (file, line, reason) and nothing is committed — not even the acquisition.
3. Acquire it (encrypted original + custody event), unless a crashed run already did.
4. Parse again and commit in batches; each batch is atomic with its signed tree head.
   Keys already stored are skipped, so re-running after a crash finishes exactly once.
   A file of more than one batch is parsed (and its records prepared) by a producer
   process while this one writes (``_produce``); for a file of 1 MiB or more that process
   starts before step 1 and prepares the first batches while this one hashes, validates
   and acquires.
5. Mark the source complete and audit the import's counts.
"""

from __future__ import annotations

import logging
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from chatcustody import search
from chatcustody._env import now_ms
from chatcustody._gc import quiet_gc
from chatcustody.audit import append_audit
from chatcustody.errors import BadInputError, ChatCustodyError, InputProblem, UsageError
from chatcustody.importers import ParseResult, Rejected, SourceInput, choose
from chatcustody.ingest._acquire import AcquiredSource, acquire, digest_original, find_source
from chatcustody.ingest._keys import Keyer
from chatcustody.ingest._produce import Prep, Producer, can_fork, produce
from chatcustody.ingest._writer import BatchCounts, BatchWriter, Keyed
from chatcustody.model import Amendment, Event, Record
from chatcustody.store import schema as t
from chatcustody.vault import Vault, check_zone

log = logging.getLogger(__name__)

MAX_PROBLEMS_SHOWN: Final[int] = 20
_CLEAR_LIMIT: Final[int] = 32  # platform, category: String(32) clear columns
_ACTION_LIMIT: Final[int] = 16  # amendments.action: String(16)
# From this input size a producer process starts before validation (~3,000 messages): below
# it, forking could cost more than it saves.
_EARLY_PRODUCER_BYTES: Final[int] = 1 << 20

Progress = Callable[[str, int, int | None], None]
"""Callback (phase, done, total) for progress bars; total None when unknown."""


@dataclass
class FileResult:
    """What importing one file did."""

    path: Path
    format: str
    source: AcquiredSource | None = None
    already_imported: bool = False
    counts: BatchCounts = field(default_factory=BatchCounts)
    error: ChatCustodyError | None = None

    def to_json(self) -> dict[str, Any]:
        """Return this file's entry for ``import --json``."""
        out: dict[str, Any] = {
            "path": str(self.path),
            "format": self.format,
            "already_imported": self.already_imported,
            "imported": self.counts.imported,
            "duplicates": self.counts.duplicates,
            "amendments": self.counts.amendments,
            "events": self.counts.events,
            "attachments": self.counts.attachments,
            "quarantined": self.counts.quarantined,
            "variants": self.counts.variants,
        }
        if self.source:
            out.update(self.source.to_json())
        return out


@dataclass
class ImportSummary:
    """What an import of one or more files did."""

    files: list[FileResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return True when no file failed."""
        return all(f.error is None for f in self.files)

    def to_json(self) -> dict[str, Any]:
        """Return the ``import --json`` contract."""
        total = BatchCounts()
        for f in self.files:
            total.add(f.counts)
        errors: list[dict[str, Any]] = []
        for f in self.files:
            if isinstance(f.error, BadInputError):
                errors.extend(
                    {"path": p.path, "line": p.line, "record": p.record, "reason": p.reason}
                    for p in f.error.problems
                )
            elif f.error is not None:
                errors.append(
                    {"path": str(f.path), "line": None, "record": None, "reason": str(f.error)}
                )
        return {
            "imported": total.imported,
            "duplicates": total.duplicates,
            "conversations": len(total.conversations),
            "amendments": total.amendments,
            "events": total.events,
            "attachments": total.attachments,
            "quarantined": total.quarantined,
            "variants": total.variants,
            "sources": [f.source.to_json() for f in self.files if f.source],
            "files": [f.to_json() for f in self.files],
            "errors": errors,
        }


_UNREADABLE = (OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error)


def _attachment_problem(source: SourceInput, record: Record) -> str | None:
    """Return what is wrong with the first attachment that is named but absent or unreadable.

    Each present attachment is read to its end here, during validation, so a corrupt or
    encrypted zip member rejects the file before anything is committed.
    """
    for a in record.attachments:
        if not a.included or a.path is None:
            continue
        try:
            stream = source.attachment(a.path)
            if stream is None:
                return f"attachment path {a.path!r} does not exist in the export"
            with stream:
                while stream.read(1 << 20):
                    pass
        except _UNREADABLE as exc:
            return f"attachment {a.path!r} cannot be read: {exc}"
    return None


def _clear_value_problem(item: ParseResult) -> str | None:
    """Return why an item's clear (unencrypted, length-limited) columns can't be stored."""
    checks: list[tuple[str, str, int]] = []
    if isinstance(item, Record | Amendment):
        checks.append(("platform", item.platform, _CLEAR_LIMIT))
    if isinstance(item, Amendment):
        checks.append(("action", item.action, _ACTION_LIMIT))
    if isinstance(item, Event):
        checks.append(("category", item.category, _CLEAR_LIMIT))
    for name, value, limit in checks:
        if not value or len(value) > limit or not value.isprintable():
            return f"{name} {value[:40]!r} must be 1–{limit} printable characters"
    return None


def _checked(
    source: SourceInput, items: Iterator[ParseResult], attachments: bool = True
) -> Iterator[ParseResult]:
    """Pass items through, turning records that can't be stored as given into Rejected.

    ``attachments=False`` skips reading attachments (the validation pass already did).
    """
    for item in items:
        if isinstance(item, Rejected):
            yield item
            continue
        problem = _clear_value_problem(item)
        if problem is None and attachments and isinstance(item, Record) and item.attachments:
            problem = _attachment_problem(source, item)
        if problem is not None:
            record = item.message_id if isinstance(item, Record | Amendment) else None
            yield Rejected(item.line, problem, item.raw[:500], record)
            continue
        yield item


def _validate(
    path: Path, items: Iterator[ParseResult], skip_bad: bool, progress: Progress | None
) -> tuple[int, int]:
    """Parse the whole file without writing; return (good, bad) counts.

    Unless ``skip_bad``, any bad record raises BadInputError listing the first problems.
    """
    problems: list[InputProblem] = []
    bad = good = 0
    for item in items:
        if isinstance(item, Rejected):
            if item.line is None and item.record is None:
                # The file as a whole is unreadable (empty, wrong format, bad mapping):
                # quarantining it would mark it imported with nothing in it.
                raise BadInputError([InputProblem(str(path), None, item.reason)])
            bad += 1
            if len(problems) < MAX_PROBLEMS_SHOWN:
                problems.append(InputProblem(str(path), item.line, item.reason, item.record))
            continue
        good += 1
        if progress and good % 10_000 == 0:
            progress("validate", good, None)
    if bad and not skip_bad:
        raise BadInputError(problems, bad)
    return good, bad


def _batches(
    items: Iterator[ParseResult], keyer: Keyer, size: int, ramp: bool = False
) -> Iterator[list[Keyed]]:
    """Group keyed items in batches of ``size``.

    ``ramp`` starts with batches of 1/8, 1/4 and 1/2 of ``size``: with a producer process,
    the writer waits only for a small first batch instead of a full one (on a 20,000-message
    import the full first batch was a tenth of the time).
    """
    ramped = [max(1, size >> shift) for shift in (3, 2, 1)] if ramp else []
    limit = ramped.pop(0) if ramped else size
    batch: list[Keyed] = []
    for item in items:
        if isinstance(item, Record):
            key = keyer.record(item)
        elif isinstance(item, Amendment):
            key = keyer.amendment(item)
        elif isinstance(item, Event):
            key = keyer.event(item)
        else:
            key = b""  # Rejected: quarantined by the writer
        batch.append((item, key))
        if len(batch) >= limit:
            yield batch
            batch = []
            limit = ramped.pop(0) if ramped else size
    if batch:
        yield batch


def _own_source(
    path: Path,
    zone: ZoneInfo,
    options: dict[str, str] | None,
    make_batches: Callable[[SourceInput], Iterator[list[Keyed]]],
) -> Iterator[list[Keyed]]:
    """Yield ``make_batches`` over a SourceInput of its own (the producer's file handles)."""
    source = SourceInput(path, zone, options)
    try:
        yield from make_batches(source)
    finally:
        source.close()


def import_file(
    vault: Vault,
    path: Path,
    format_name: str | None = None,
    tz: str | None = None,
    actor: str | None = None,
    progress: Progress | None = None,
    options: dict[str, str] | None = None,
    skip_bad: bool = False,
) -> FileResult:
    """Import one export file; errors are returned in the result, never half-committed."""
    with quiet_gc():
        return _import_file(vault, path, format_name, tz, actor, progress, options, skip_bad)


def _import_file(
    vault: Vault,
    path: Path,
    format_name: str | None,
    tz: str | None,
    actor: str | None,
    progress: Progress | None,
    options: dict[str, str] | None,
    skip_bad: bool,
) -> FileResult:
    zone = check_zone(tz or vault.default_tz)
    if not path.exists():
        return FileResult(path, format_name or "?", error=UsageError(f"{path}: no such file"))
    try:
        importer = choose(path, format_name)
    except UsageError as exc:
        return FileResult(path, format_name or "?", error=exc)
    result = FileResult(path, importer.name)
    source = SourceInput(path, zone, options)
    size = vault.settings.batch_size

    def make_batches(src: SourceInput, ramp: bool = False) -> Iterator[list[Keyed]]:
        items = _checked(src, importer.parse(src), attachments=skip_bad)
        return _batches(items, Keyer(vault.blinder), size, ramp)

    def start_producer() -> Producer:
        return produce(
            lambda: _own_source(path, zone, options, partial(make_batches, ramp=True)),
            search.hasher_for(vault),
        )

    # A big file's producer starts now and prepares batches while this process hashes,
    # validates and acquires the file; a smaller one's only once it is known to need it.
    batches: Producer | Generator[tuple[list[Keyed], dict[int, Prep] | None], None, None] | None
    batches = (
        start_producer() if can_fork() and _input_bytes(path) >= _EARLY_PRODUCER_BYTES else None
    )
    try:
        original = digest_original(path)
        with vault.engine.connect() as conn:
            known = find_source(conn, original.digest.sha256)
        if known is not None and known[1] == "complete":
            result.already_imported = True
            result.source = AcquiredSource(known[0], path, original.digest, known[1], new=False)
            return result
        total, _ = _validate(path, _checked(source, importer.parse(source)), skip_bad, progress)
        result.source = acquire(vault, original, importer.name, actor)
        writer = BatchWriter(vault, result.source.id, source)
        if batches is None and total > size and can_fork():  # more than one batch
            batches = start_producer()
        elif batches is None:
            batches = ((batch, None) for batch in make_batches(source))
        for batch, preps in batches:
            result.counts.add(writer.write(batch, preps))
            if progress:
                progress("import", result.counts.imported + result.counts.duplicates, total)
        _finish(vault, result, actor)
        _compact_index(vault, result.counts.imported)
    except ChatCustodyError as exc:
        result.error = exc
    finally:
        if batches is not None:
            batches.close()  # stops the producer process at once if anything failed
        source.close()
    return result


def _input_bytes(path: Path) -> int:
    """Return the size of a file, or of the files of a folder."""
    if not path.is_dir():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _compact_index(vault: Vault, added: int) -> None:
    """Compact the search index after a big import, in a transaction of its own.

    The import is complete before this starts: a failed rewrite (no disk space for the
    second copy, say) rolls back to the index as it was, which is correct, only larger.
    """
    if vault.engine.dialect.name != "sqlite" or added <= 0:
        return
    try:
        with vault.begin() as conn:
            search.compact_after_import(conn, added)
    except OperationalError as exc:
        log.warning("search index left uncompacted after the import: %s", exc)


def _finish(vault: Vault, result: FileResult, actor: str | None) -> None:
    assert result.source is not None
    with vault.begin() as conn:
        writer = vault.ledger_writer(conn)
        conn.execute(
            update(t.sources).where(t.sources.c.id == result.source.id).values(status="complete")
        )
        append_audit(
            vault,
            conn,
            writer,
            "import.finish",
            {"source_id": result.source.id, **result.to_json()},
            actor,
        )
        writer.commit_head(now_ms())


def import_paths(
    vault: Vault,
    paths: Sequence[Path],
    format_name: str | None = None,
    tz: str | None = None,
    actor: str | None = None,
    progress: Progress | None = None,
    options: dict[str, str] | None = None,
    skip_bad: bool = False,
) -> ImportSummary:
    """Import several files; each file commits fully or not at all (or quarantines, if asked)."""
    summary = ImportSummary()
    for path in paths:
        summary.files.append(
            import_file(vault, path, format_name, tz, actor, progress, options, skip_bad)
        )
    return summary
