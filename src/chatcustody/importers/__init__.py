"""Importers: one module per source format, each ``detect()`` + streaming ``parse()``.

Every module in this package that defines ``IMPORTER`` is registered; detection tries
importers in ascending ``detect_order`` (specific formats first, generic ones last), then
by name. The registry is a plain dict, name → importer.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from chatcustody.errors import UsageError
from chatcustody.importers._base import (
    ExportUnreadable,
    Importer,
    ParseResult,
    Rejected,
    SourceInput,
    local_to_utc,
    offset_minutes,
)


def _discover() -> dict[str, Importer]:
    found: list[Importer] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        importer = getattr(module, "IMPORTER", None)
        if importer is not None:
            found.append(importer)
    found.sort(key=lambda i: (getattr(i, "detect_order", 50), i.name))
    return {i.name: i for i in found}


REGISTRY: dict[str, Importer] = _discover()


def choose(path: Path, format_name: str | None) -> Importer:
    """Return the importer forced by ``format_name`` or detected for ``path``."""
    if format_name:
        try:
            return REGISTRY[format_name]
        except KeyError:
            raise UsageError(
                f"unknown format {format_name!r}; 'chatcustody formats' lists them"
            ) from None
    for importer in REGISTRY.values():
        if importer.detect(path):
            return importer
    raise UsageError(
        f"{path}: format not recognised; pass --format NAME ('chatcustody formats' lists them)"
    )


__all__ = [
    "REGISTRY",
    "ExportUnreadable",
    "Importer",
    "ParseResult",
    "Rejected",
    "SourceInput",
    "choose",
    "local_to_utc",
    "offset_minutes",
]
