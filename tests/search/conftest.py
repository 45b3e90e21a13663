"""Search fixtures: the bundled sample vault, and a plaintext oracle independent of the index."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import psycopg
import pytest
import rjieba
from sqlalchemy import select
from tests.conftest import PASSPHRASE, import_and_verify

from chatcustody.search import normalise, open_fields
from chatcustody.settings import Settings
from chatcustody.store import schema as t
from chatcustody.vault import Vault

SAMPLE = Path(str(files("chatcustody.samples") / "guard-team.jsonl"))


@pytest.fixture
def sample(vault: Vault) -> Vault:
    """A vault holding the bundled guard-team sample (27 messages, 4 conversations)."""
    import_and_verify(vault, SAMPLE)
    return vault


def _shared_vault(request: pytest.FixtureRequest, tmp: Path) -> Iterator[Vault]:
    """Create a vault on the backend named by request.param, for a whole module."""
    url = None
    name = ""
    if request.param == "postgres":
        admin = request.getfixturevalue("pg_server")
        name = f"cc_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"{admin.rsplit('/', 1)[0]}/{name}"
    settings = Settings(vault=tmp / "vault", database_url=url, batch_size=50)
    v = Vault.create(settings.vault, settings, PASSPHRASE, "Asia/Shanghai")
    try:
        yield v
    finally:
        v.close()
        if name:
            with psycopg.connect(request.getfixturevalue("pg_server"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared_sample(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Vault]:
    """The sample vault, built once per module and backend (tests must not write to it)."""
    for v in _shared_vault(request, tmp_path_factory.mktemp("sample")):
        import_and_verify(v, SAMPLE)
        yield v


def _cjk(ch: str) -> bool:
    name = unicodedata.name(ch, "")
    return name.startswith(("CJK UNIFIED", "CJK COMPATIBILITY", "HIRAGANA", "KATAKANA", "HANGUL"))


def _wordish(ch: str) -> bool:
    return ch.isalnum() and not _cjk(ch)


def oracle_matches(term: str, text: str, mode: str = "exact") -> bool:
    """Brute force: does normalised ``term`` occur in normalised ``text`` (whole Latin words)?"""
    q, s = normalise(term), normalise(text)
    if mode == "word":
        bounds = {0, len(s)} | {b for _, a, e in rjieba.tokenize(s) for b in (a, e)}
    for m in re.finditer(f"(?={re.escape(q)})", s):
        a, b = m.start(), m.start() + len(q)
        if _wordish(q[0]) and a > 0 and _wordish(s[a - 1]):
            continue
        if _wordish(q[-1]) and b < len(s) and _wordish(s[b]):
            continue
        if mode == "word" and (a not in bounds or b not in bounds):
            continue
        return True
    return False


def plaintext(vault: Vault) -> dict[int, dict[str, Any]]:
    """Return every record's decrypted fields plus its clear columns, by record id."""
    out = {}
    with vault.engine.connect() as conn:
        for row in conn.execute(select(t.records).order_by(t.records.c.id)).mappings():
            fields = open_fields(vault, conn, row)
            fields["_row"] = dict(row)
            out[int(row["id"])] = fields
    return out


def oracle(vault: Vault, term: str, mode: str = "exact") -> set[int]:
    """Return the ids of records whose text or an attachment name matches ``term``."""
    out = set()
    for rid, fields in plaintext(vault).items():
        parts = [fields["text"], *(a["name"] for a in fields["attachments"])]
        if any(oracle_matches(term, p, mode) for p in parts):
            out.add(rid)
    return out


def ids(result: Any) -> list[int]:
    """Return the record ids of a result's hits, in order."""
    return [h.id for h in result.hits]
