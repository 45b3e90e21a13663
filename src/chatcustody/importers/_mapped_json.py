"""Read JSON-lines objects and look values up by key or dotted path (mapped importers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any, Final

from chatcustody.importers._base import Rejected
from chatcustody.importers._decode import iter_decoded_lines

_RAW_EXCERPT: Final[int] = 500  # characters of a rejected line kept for the report


def iter_json_objects(
    stream: IO[bytes], encoding: str
) -> Iterator[tuple[int, str, dict[str, Any]] | Rejected]:
    """Yield (line number, line text, object) per non-blank line, or Rejected for bad lines."""
    seen = False
    for number, text, problem in iter_decoded_lines(stream, encoding):
        text = text.rstrip("\r\n")
        if not text.strip():
            continue
        seen = True
        if problem:
            yield Rejected(number, problem, text[:_RAW_EXCERPT])
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:
            yield Rejected(number, f"malformed JSON: {exc}", text[:_RAW_EXCERPT])
            continue
        except RecursionError:
            yield Rejected(number, "malformed JSON: nested too deeply", text[:_RAW_EXCERPT])
            continue
        if not isinstance(obj, dict):
            yield Rejected(number, "line is not a JSON object", text[:_RAW_EXCERPT])
            continue
        yield number, text, obj
    if not seen:
        yield Rejected(None, "file is empty")


def compile_path(path: str) -> tuple[str, tuple[str, ...]]:
    """Return the key as written and its dotted parts, for ``lookup``."""
    return path, tuple(path.split("."))


def lookup(obj: dict[str, Any], path: tuple[str, tuple[str, ...]]) -> Any:
    """Return the value at a key or dotted path (list items by index), None when absent."""
    whole, parts = path
    if whole in obj:
        return obj[whole]
    cur: Any = obj
    for part in parts:
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
        if cur is None:
            return None
    return cur
