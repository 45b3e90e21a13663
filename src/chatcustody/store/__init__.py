"""Storage of the vault: SQL tables (SQLite or PostgreSQL) and the encrypted blob directory."""

from __future__ import annotations

from chatcustody.store import _schema as schema
from chatcustody.store._blobs import BLOB_DIR, BlobDir
from chatcustody.store._db import (
    SQLITE_FILE,
    engine_url,
    insert_rows,
    make_engine,
    migrate,
    schema_is_current,
)

__all__ = [
    "BLOB_DIR",
    "SQLITE_FILE",
    "BlobDir",
    "engine_url",
    "insert_rows",
    "make_engine",
    "migrate",
    "schema",
    "schema_is_current",
]
