"""Shared fixtures: vaults on SQLite and PostgreSQL, and canonical-record factories.

PostgreSQL tests use the real local server. When ``CI=true`` a missing server fails the
run instead of skipping it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chatcustody.settings import Settings
from chatcustody.vault import Vault

PASSPHRASE = "correct horse battery staple 护卫队"
PG_URL = os.environ.get("CHATCUSTODY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

for _name in list(os.environ):
    if _name.startswith("CHATCUSTODY_"):
        del os.environ[_name]
# Cheap key derivation in tests; real vaults use the defaults (64 MiB, 3 passes).
os.environ["CHATCUSTODY_KDF_MEMORY_KIB"] = "8192"
os.environ["CHATCUSTODY_KDF_ITERATIONS"] = "1"


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc)


@pytest.fixture(scope="session")
def pg_server() -> str:
    """Return the admin URL of the test PostgreSQL server (fail in CI when it is missing)."""
    problem = _pg_available()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    return PG_URL


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """Create a fresh PostgreSQL database for one test and drop it afterwards."""
    name = f"cc_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = pg_server.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test on both database backends."""
    return str(request.param)


@pytest.fixture
def settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Return settings for a vault in tmp_path on the requested backend."""
    url = request.getfixturevalue("pg_database") if backend == "postgres" else None
    return Settings(vault=tmp_path / "vault", database_url=url, batch_size=50)


@pytest.fixture
def make_vault(settings: Settings) -> Iterator[Callable[..., Vault]]:
    """Return a factory creating (once) and opening the test vault."""
    opened: list[Vault] = []

    def factory(
        create: bool = True, passphrase: str = PASSPHRASE, tz: str = "Asia/Shanghai"
    ) -> Vault:
        if create and not (settings.vault / "vault.json").exists():
            v = Vault.create(settings.vault, settings, passphrase, tz)
        else:
            v = Vault.open(settings.vault, settings, passphrase)
        opened.append(v)
        return v

    yield factory
    for v in opened:
        v.close()


@pytest.fixture
def vault(make_vault: Callable[..., Vault]) -> Vault:
    """Return a new, open vault."""
    return make_vault()


def message(**overrides: Any) -> dict[str, Any]:
    """Return one canonical chatcustody-jsonl message, with overrides."""
    base: dict[str, Any] = {
        "platform": "wecom",
        "conversation_id": "wrOgQhDgAAguardduty",
        "conversation_name": "护卫队值班群",
        "conversation_kind": "group",
        "message_id": "m-1",
        "sender_id": "zhao_guard",
        "sender_name": "赵队长",
        "timestamp": "2026-03-20T08:30:00+08:00",
        "type": "text",
        "text": "早班交接：B区监控正常。",
    }
    base.update(overrides)
    return base


def write_jsonl(path: Path, messages: list[dict[str, Any]]) -> Path:
    """Write messages as chatcustody-jsonl and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for m in messages:
            f.write(json.dumps(m, ensure_ascii=False) + "\n")
    return path


def conversation(n: int, prefix: str = "m", **overrides: Any) -> list[dict[str, Any]]:
    """Return ``n`` distinct messages one second apart."""
    return [
        message(
            message_id=f"{prefix}-{i}",
            text=f"第{i}条消息：巡逻正常 #{i} ✅",
            timestamp=1_773_970_200_000 + i * 1000,
            **overrides,
        )
        for i in range(n)
    ]


@pytest.fixture
def jsonl(tmp_path: Path) -> Callable[..., Path]:
    """Return a writer of chatcustody-jsonl files under tmp_path/exports."""

    def write(messages: list[dict[str, Any]], name: str = "export.jsonl") -> Path:
        return write_jsonl(tmp_path / "exports" / name, messages)

    return write


def import_and_verify(
    vault: Vault,
    path: Path,
    format_name: str | None = None,
    tz: str | None = None,
    options: dict[str, str] | None = None,
) -> Any:
    """Import one export, assert it succeeded and the vault verifies; return its FileResult.

    Also asserts that importing the same export again adds nothing.
    """
    from chatcustody.ingest import import_file
    from chatcustody.verify import verify_vault

    result = import_file(vault, path, format_name, tz, options=options)
    assert result.error is None, f"import failed: {result.error}"
    report = verify_vault(vault)
    assert report.ok, report.failures
    again = import_file(vault, path, format_name, tz, options=options)
    assert again.error is None and again.already_imported
    return result


def stored_records(vault: Vault) -> list[dict[str, Any]]:
    """Return the decrypted fields of every stored record, in id order."""
    from sqlalchemy import select

    from chatcustody.rows import open_row
    from chatcustody.store import schema as t

    out = []
    with vault.engine.connect() as conn:
        for row in conn.execute(select(t.records).order_by(t.records.c.id)).mappings():
            cipher = vault.conversation_cipher(conn, int(row["conversation_id"]))
            out.append(open_row("records", row, cipher).fields)
    return out


def stored_counts(vault: Vault) -> dict[str, int]:
    """Return row counts of the main tables."""
    from sqlalchemy import func, select

    from chatcustody.store import schema as t

    tables = (
        "records",
        "conversations",
        "participants",
        "sources",
        "amendments",
        "events",
        "blobs",
    )
    with vault.engine.connect() as conn:
        return {
            name: int(
                conn.execute(select(func.count()).select_from(t.metadata.tables[name])).scalar_one()
            )
            for name in tables
        }
