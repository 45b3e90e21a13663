"""The Alembic migrations produce exactly the schema the code declares, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from chatcustody.store import schema as t
from chatcustody.store import schema_is_current
from chatcustody.vault import Vault

# Dialect-specific full-text tables (FTS5 and its shadow tables on SQLite, tsvector + GIN on
# PostgreSQL) are made by migration 0003 with raw DDL and cannot be declared in metadata.
_UNDECLARED_PREFIX = "search_fts"


def _names(entry: Any) -> set[str]:
    """Return the table names a compare_metadata entry (or nested list of them) touches."""
    if isinstance(entry, list):
        return set().union(*(_names(e) for e in entry)) if entry else set()
    names = set()
    for part in entry:
        table = getattr(part, "table", None)
        name = getattr(part, "name", None)
        if table is not None and getattr(table, "name", None):
            names.add(table.name)
        elif isinstance(name, str) and hasattr(part, "columns"):
            names.add(name)
        elif isinstance(part, str):
            names.add(part)
    return names


def test_migrated_schema_matches_metadata(vault: Vault) -> None:
    """No difference between the migrated database and store/_schema.py."""
    assert schema_is_current(vault.engine)
    with vault.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
    relevant = [d for d in diff if not any(n.startswith(_UNDECLARED_PREFIX) for n in _names(d))]
    assert relevant == []
