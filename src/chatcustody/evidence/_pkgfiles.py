"""Reading a package offline: its files (directory or zip) and the per-check report.

Nothing here needs a vault. A damaged zip member reads as empty and is remembered, so the
hash check fails for it by name and the report adds an ``archive`` check naming the cause.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Final

from chatcustody.errors import UsageError

MAX_SHOWN: Final[int] = 200  # failures kept verbatim per check


@dataclass
class Check:
    """One named check: what it covered and every failure."""

    name: str
    checked: int = 0
    failures: list[str] = field(default_factory=list)
    failure_count: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return True when nothing failed."""
        return self.failure_count == 0

    def fail(self, message: str) -> None:
        """Record a failure."""
        self.failure_count += 1
        if len(self.failures) < MAX_SHOWN:
            self.failures.append(message)

    def to_json(self) -> dict[str, Any]:
        """Return the check as JSON."""
        return {
            "name": self.name,
            "ok": self.ok,
            "checked": self.checked,
            "failures": self.failures,
            "failure_count": self.failure_count,
            "notes": self.notes,
        }


class PackageFiles:
    """The files of a package directory or zip, by package-relative POSIX path."""

    def __init__(self, path: Path) -> None:
        self.problems: list[str] = []
        self.unreadable: dict[str, str] = {}
        self._zip: zipfile.ZipFile | None = None
        self._root = path
        if path.is_dir():
            self.names = set()
            for p in path.rglob("*"):
                rel = p.relative_to(path).as_posix()
                if p.is_symlink():
                    self.problems.append(f"{rel}: a symbolic link (not allowed in a package)")
                elif p.is_file():
                    self.names.add(rel)
        elif zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            self.names = set()
            for info in self._zip.infolist():
                if info.is_dir():
                    continue
                pure = PurePosixPath(info.filename)
                if pure.is_absolute() or ".." in pure.parts:
                    self.problems.append(f"{info.filename}: unsafe path in the zip")
                    continue
                if info.filename in self.names:
                    self.problems.append(f"{info.filename}: stored twice in the zip")
                self.names.add(info.filename)
        else:
            raise UsageError(f"{path} is neither a package directory nor a zip file")

    def read(self, name: str) -> bytes | None:
        if name not in self.names:
            return None
        try:
            if self._zip is not None:
                return self._zip.read(name)
            return (self._root / name).read_bytes()
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            # A damaged member reads as empty: its hash check then fails by name too.
            self.unreadable.setdefault(name, str(exc))
            return b""

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def read_json(files: PackageFiles, name: str, check: Check) -> Any:
    data = files.read(name)
    if data is None:
        check.fail(f"{name} is missing")
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        check.fail(f"{name}: not valid JSON ({exc})")
        return None


def read_jsonl(files: PackageFiles, name: str, check: Check) -> Iterator[tuple[int, Any]]:
    data = files.read(name)
    if data is None:
        check.fail(f"{name} is missing")
        return
    for n, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            check.fail(f"{name}:{n}: not valid JSON ({exc})")
