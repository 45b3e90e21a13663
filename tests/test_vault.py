"""Vault lifecycle and confidentiality at rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatcustody.errors import VaultExistsError, VaultNotFoundError, WrongPassphraseError
from chatcustody.settings import Settings
from chatcustody.vault import Vault
from tests.conftest import PASSPHRASE, import_and_verify, message


def test_create_open_and_refuse_twice(make_vault: Any, settings: Settings) -> None:
    """A vault opens with its passphrase, refuses a second init and a wrong passphrase."""
    make_vault().close()
    with pytest.raises(VaultExistsError):
        Vault.create(settings.vault, settings, PASSPHRASE, "Asia/Shanghai")
    with pytest.raises(WrongPassphraseError):
        Vault.open(settings.vault, settings, "not the passphrase")
    with Vault.open(settings.vault, settings, PASSPHRASE) as v:
        assert v.default_tz == "Asia/Shanghai"


def test_missing_vault_is_a_clear_error(tmp_path: Path) -> None:
    """Opening a directory without a vault says so and how to create one."""
    with pytest.raises(VaultNotFoundError, match="chatcustody init"):
        Vault.open(tmp_path, Settings(vault=tmp_path), PASSPHRASE)


SECRETS = {
    "text": "机密：三楼财务室终端异常登录 secret-phrase-7781",
    "sender": "周晓梅Zhou",
    "title": "内部调查专案组Alpha",
    "file name": "调查报告-最终版.docx",
}


def _all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_no_plaintext_anywhere_in_the_vault(
    make_vault: Any, tmp_path: Path, jsonl: Any, backend: str
) -> None:
    """Message text, sender name, conversation title and file names appear in no vault file."""
    vault = make_vault()
    media = tmp_path / "exports" / "files"
    media.mkdir(parents=True)
    (media / SECRETS["file name"]).write_bytes(SECRETS["text"].encode() * 3)
    msgs = [
        message(
            message_id=f"x{i}",
            text=SECRETS["text"],
            sender_name=SECRETS["sender"],
            conversation_name=SECRETS["title"],
            attachments=[{"path": f"files/{SECRETS['file name']}"}] if i == 0 else [],
        )
        for i in range(30)
    ]
    import_and_verify(vault, jsonl(msgs, "周晓梅-export.jsonl"))
    files = _all_files(vault.path)
    if backend == "sqlite":
        assert any(p.name.endswith("-wal") for p in files) or any(
            p.name == "vault.db" for p in files
        )
    needles = []
    for value in SECRETS.values():
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            needles.append(value.encode(encoding))
        needles.append(json.dumps(value).encode())  # \\u escapes
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} found in {path}"
    if backend == "postgres":
        _assert_not_in_postgres(vault, needles)


def _assert_not_in_postgres(vault: Vault, needles: list[bytes]) -> None:
    """Dump every table of the PostgreSQL database as text and search it too."""
    from sqlalchemy import text

    with vault.engine.connect() as conn:
        tables = (
            conn.execute(text("select tablename from pg_tables where schemaname='public'"))
            .scalars()
            .all()
        )
        for table in tables:
            for row in conn.execute(text(f'select * from "{table}"')):
                blob = repr(tuple(row)).encode("utf-8")
                for needle in needles:
                    assert needle not in blob, f"found in table {table}"
