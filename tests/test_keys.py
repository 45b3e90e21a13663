"""Master key rotation, re-encryption and key status."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from chatcustody import keys
from chatcustody.settings import Settings
from chatcustody.store import schema as t
from chatcustody.vault import Vault
from chatcustody.verify import verify_vault
from tests.conftest import PASSPHRASE, conversation, import_and_verify, stored_records


def test_rotate_rewraps_everything_and_retires_old_version(
    vault: Vault, jsonl: Any, settings: Settings
) -> None:
    """After rotation every data key uses the new version; the old one is retired and erased."""
    import_and_verify(vault, jsonl(conversation(20)))
    before = stored_records(vault)
    result = keys.rotate(vault)
    assert result.new_version == 2 and result.retired == [1]
    with vault.engine.connect() as conn:
        versions = {
            int(v)
            for table in (t.service_keys, t.conversations, t.blobs)
            for (v,) in conn.execute(select(table.c.mk_version))
        }
        old = (
            conn.execute(select(t.master_keys).where(t.master_keys.c.version == 1)).mappings().one()
        )
    assert versions == {2}
    assert old["retired_ms"] is not None and bytes(old["sealed"]) == b""
    vault.close()
    with Vault.open(settings.vault, settings, PASSPHRASE) as reopened:
        assert stored_records(reopened) == before
        assert verify_vault(reopened).ok


def test_reencrypt_changes_ciphertexts_not_content(vault: Vault, jsonl: Any) -> None:
    """--reencrypt gives fresh data keys: every ciphertext changes, every plaintext stays."""
    import_and_verify(vault, jsonl(conversation(10)))
    before = stored_records(vault)
    with vault.engine.connect() as conn:
        old = dict(conn.execute(select(t.records.c.id, t.records.c.payload)).all())
        old_deks = dict(
            conn.execute(select(t.conversations.c.id, t.conversations.c.dek_sealed)).all()
        )
    result = keys.rotate(vault, reencrypt=True)
    assert result.reencrypted_records == 10
    with vault.engine.connect() as conn:
        new = dict(conn.execute(select(t.records.c.id, t.records.c.payload)).all())
        new_deks = dict(
            conn.execute(select(t.conversations.c.id, t.conversations.c.dek_sealed)).all()
        )
    assert all(old[i] != new[i] for i in old)
    assert all(old_deks[i] != new_deks[i] for i in old_deks)
    assert stored_records(vault) == before
    assert verify_vault(vault).ok


def test_status_warns_past_ninety_days(vault: Vault) -> None:
    """keys status reports age and warns when the current key is older than 90 days."""
    rows, warnings = keys.status(vault)
    assert [k.version for k in rows] == [1] and rows[0].current and not warnings
    with vault.begin() as conn:
        conn.execute(
            update(t.master_keys).values(created_ms=t.master_keys.c.created_ms - 91 * 86_400_000)
        )
    rows, warnings = keys.status(vault)
    assert rows[0].age_days > 90
    assert len(warnings) == 1 and "keys rotate" in warnings[0]
