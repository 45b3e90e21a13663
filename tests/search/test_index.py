"""The index itself: reindex (also under a new key), verify's checks, no plaintext stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from tests.conftest import PASSPHRASE, conversation
from tests.search.conftest import SAMPLE, ids
from typer.testing import CliRunner

from chatcustody.cli import app
from chatcustody.errors import UsageError
from chatcustody.ingest import import_file
from chatcustody.search import doc_tokens, normalise, reindex, search
from chatcustody.search._index import (
    doc_from_fields,
    hasher_for,
    open_fields,
    tokens_of,
    tsvector_literal,
)
from chatcustody.settings import Settings
from chatcustody.store import schema as t
from chatcustody.vault import Vault
from chatcustody.verify import verify_vault

QUERIES = [
    "投诉",
    "門禁",
    "8842",
    "卡",
    "complaint",
    "🚴",
    "超时 OR 堵车",
    "from:kefu_a 客户",
    "-的 了",
]


def _answers(vault: Vault) -> list[list[int]]:
    return [ids(search(vault, q, limit=100, audit=False)) for q in QUERIES]


def _tokens_of(vault: Vault, record_id: int) -> Any:
    with vault.engine.connect() as conn:
        row = conn.execute(select(t.records).where(t.records.c.id == record_id)).mappings().one()
        return tokens_of(vault, doc_from_fields(row, open_fields(vault, conn, row)))


def _stored_tokens(vault: Vault) -> str:
    with vault.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe "
                "USING fts5vocab(main, search_fts, 'row')"
            )
            return " ".join(r[0] for r in conn.exec_driver_sql("SELECT term FROM temp.probe"))
        return " ".join(str(r[0]) for r in conn.execute(text("SELECT tsv::text FROM search_fts")))


def test_reindex_gives_identical_results(sample: Vault) -> None:
    """Rebuilding the index, with the same or a fresh key, changes no search result."""
    before = _answers(sample)
    old_tokens = _stored_tokens(sample)
    assert reindex(sample).records == 27
    assert _answers(sample) == before and _stored_tokens(sample) == old_tokens
    old_key = sample.service["search"]
    result = reindex(sample, fresh_key=True)
    assert result.new_key and sample.service["search"] != old_key
    assert _answers(sample) == before
    # every keyed token changed; only the constant run separator "0" is shared
    shared = set(_stored_tokens(sample).split()) & set(old_tokens.split())
    assert {tok.split(":")[0].strip("'") for tok in shared} <= {"0"}
    assert verify_vault(sample).ok
    sample.close()
    again = Vault.open(sample.path, sample.settings, PASSPHRASE)
    try:
        assert again.service["search"] == sample.service["search"]
        assert _answers(again) == before
    finally:
        again.close()


def test_verify_catches_a_deleted_index_entry(sample: Vault) -> None:
    """Removing one record's index entry makes verify fail naming that record."""
    toks = _tokens_of(sample, 1)
    with sample.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(
                text("INSERT INTO search_fts (search_fts, rowid, tokens) VALUES ('delete', 1, :t)"),
                {"t": " ".join(toks.positional)},
            )
        else:
            conn.execute(text("DELETE FROM search_fts WHERE id = 1"))
    assert search(sample, "请问现在", audit=False).hits == []  # the hit is really lost
    report = verify_vault(sample)
    assert not report.ok
    assert any("record 1 is missing from search_fts" in f for f in report.failures)


def test_verify_catches_an_altered_index_entry(sample: Vault) -> None:
    """Replacing one record's tokens with another text's makes verify fail naming it."""
    toks = _tokens_of(sample, 1)
    other = doc_tokens(hasher_for(sample), ("完全不同的内容",), False, 1)
    with sample.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(
                text("INSERT INTO search_fts (search_fts, rowid, tokens) VALUES ('delete', 1, :t)"),
                {"t": " ".join(toks.positional)},
            )
            conn.execute(
                text("INSERT INTO search_fts (rowid, tokens) VALUES (1, :t)"),
                {"t": " ".join(other.positional)},
            )
        else:
            conn.execute(
                text("UPDATE search_fts SET tsv = CAST(:t AS tsvector) WHERE id = 1"),
                {"t": tsvector_literal(other)},
            )
    report = verify_vault(sample)
    assert any("record 1 does not match search_fts" in f for f in report.failures), report.failures


def test_verify_catches_wrong_block_times(sample: Vault) -> None:
    """A falsified time range of an id block (which would misorder results) fails verify."""
    with sample.begin() as conn:
        conn.execute(update(t.search_blocks).values(max_ts=t.search_blocks.c.max_ts - 1))
    report = verify_vault(sample)
    assert any("time range of id block 0" in f for f in report.failures)


def test_no_plaintext_in_the_index(sample: Vault) -> None:
    """Neither the database files nor the index hold any bigram or word of the messages."""
    needles: set[str] = set()
    for line in SAMPLE.read_text("utf-8").splitlines():
        norm = normalise(json.loads(line)["text"])
        needles |= {norm[i : i + 2] for i in range(len(norm) - 1) if not norm[i : i + 2].isascii()}
    needles |= {"complaint", "escalated", "exported", "8842"}
    stored = _stored_tokens(sample)
    assert stored and not any(n in stored for n in needles)
    assert stored.isascii()  # base32 tokens (and tsvector punctuation) only
    if sample.engine.dialect.name == "sqlite":
        blob = b"".join(p.read_bytes() for p in Path(sample.path).glob("vault.db*"))
        for n in needles:
            for enc in ("utf-8", "utf-16-le"):
                assert n.encode(enc) not in blob, n


def test_cli_search_reindex_and_exit_codes(tmp_path: Path) -> None:
    """The CLI prints the documented JSON contract, reindexes, and maps bad queries to exit 2."""
    runner = CliRunner()
    env = {"CHATCUSTODY_PASSPHRASE": PASSPHRASE, "CHATCUSTODY_VAULT": str(tmp_path / "v")}

    def run(*args: str) -> Any:
        return runner.invoke(app, list(args), env=env, catch_exceptions=True)

    assert run("init").exit_code == 0
    assert run("import", str(SAMPLE)).exit_code == 0
    out = json.loads(run("search", "投訴", "--json").stdout)
    assert set(out) >= {"total", "total_is_exact", "took_ms", "hits"}
    assert set(out["hits"][0]) >= {
        "id", "conversation_id", "conversation", "sender_id", "sender", "time", "type", "text",
        "snippet",
    }  # fmt: skip
    assert out["hits"][0]["snippet"] == "外卖已经超时四十分钟了！我要⟪投诉⟫，饭都凉了。"
    assert out["hits"][0]["time"] == "2026-03-14T14:35:12.000+08:00"
    page = json.loads(run("search", "8842", "--limit", "2", "--json").stdout)
    assert page["total"] == 3 and len(page["hits"]) == 2 and page["next_cursor"]
    rest = json.loads(run("search", "8842", "--cursor", page["next_cursor"], "--json").stdout)
    assert len(rest["hits"]) == 1 and rest["next_cursor"] is None
    human = run("search", "门禁", "--from", "孙磊")
    assert human.exit_code == 0 and "門禁" in human.stdout and "1 match" in human.stdout
    assert json.loads(run("reindex", "--new-key", "--json").stdout)["records"] == 27
    bad = run("search", "type:hologram")
    assert isinstance(bad.exception, UsageError) and bad.exception.exit_code == 2
    assert "hologram" in str(bad.exception)


def test_tokens_that_look_like_numbers_are_found(
    vault: Vault, jsonl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keyed tokens such as 4e7xxxxx are lexemes verbatim, never re-parsed as numbers (PG)."""
    from tests.conftest import import_and_verify, message

    from chatcustody.search import _index, _tokens

    real = _tokens.TokenHasher._compute

    def numeric(self: Any, kind: str, raw: str) -> str:
        token = "4e7" + real(self, kind, raw)[3:]
        self._caches[kind][raw] = token
        return token

    monkeypatch.setattr(_tokens.TokenHasher, "_compute", numeric)
    _index._hasher.cache_clear()
    try:
        import_and_verify(vault, jsonl([message(text="门禁卡读卡器有点问题 gate 3")]))
        for query in ("门禁卡", "卡", "gate", '"gate 3"'):
            assert len(search(vault, query, audit=False).hits) == 1, query
    finally:
        _index._hasher.cache_clear()


def _segments(vault: Vault) -> dict[str, int]:
    """Return the number of FTS5 segments of each SQLite index table."""
    with vault.engine.connect() as conn:
        return {
            table: int(
                conn.execute(text(f"SELECT count(DISTINCT segid) FROM {table}_idx")).scalar_one()
            )
            for table in ("search_fts", "search_fts_bag")
        }


def test_a_big_import_leaves_one_segment_and_a_small_one_does_not(
    tmp_path: Path, jsonl: Any
) -> None:
    """An import adding >= 1/8 of the records compacts the index; a small one leaves it to
    automerge; search answers the same either way (FTS5 segments: SQLite only)."""
    settings = Settings(vault=tmp_path / "vault", batch_size=50)
    vault = Vault.create(settings.vault, settings, PASSPHRASE, "Asia/Shanghai")
    first = import_file(vault, jsonl(conversation(400)))  # batch_size 50: many segments
    assert first.error is None and first.counts.imported == 400
    assert _segments(vault) == {"search_fts": 1, "search_fts_bag": 1}
    small = import_file(vault, jsonl(conversation(20, prefix="late"), "late.jsonl"))
    assert small.error is None and small.counts.imported == 20
    assert _segments(vault) == {"search_fts": 2, "search_fts_bag": 2}
    assert len(search(vault, "巡逻正常", limit=1000, audit=False).hits) == 420
    assert sorted(h.id for h in search(vault, "第7条消息", limit=10, audit=False).hits) == [8, 408]
    assert verify_vault(vault, full_index=True).ok
    vault.close()
