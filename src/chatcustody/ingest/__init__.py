"""The ingest service: acquire originals and commit their records atomically per batch."""

from __future__ import annotations

from chatcustody.ingest._acquire import (
    AcquiredSource,
    FileDigest,
    Original,
    blob_name,
    digest_file,
    digest_original,
    digest_stream,
)
from chatcustody.ingest._quarantine import QuarantineEntry, list_quarantine
from chatcustody.ingest._run import FileResult, ImportSummary, Progress, import_file, import_paths
from chatcustody.ingest._writer import BatchCounts, latest_name

__all__ = [
    "AcquiredSource",
    "BatchCounts",
    "FileDigest",
    "FileResult",
    "Original",
    "ImportSummary",
    "Progress",
    "QuarantineEntry",
    "blob_name",
    "digest_file",
    "digest_original",
    "digest_stream",
    "import_file",
    "import_paths",
    "latest_name",
    "list_quarantine",
]
