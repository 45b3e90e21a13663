"""The Alembic migrations produce exactly the schema the code declares, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from chatcustody.store import schema as t
from chatcustody.store import schema_is_current
from chatcustody.vault import Vault


def test_migrated_schema_matches_metadata(vault: Vault) -> None:
    """No difference between the migrated database and store/_schema.py."""
    assert schema_is_current(vault.engine)
    with vault.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
    assert diff == []
