"""verify's default search-index check: every record's presence, a seeded sample re-tokenised."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from tests.conftest import PASSPHRASE, conversation, write_jsonl

from chatcustody.search import doc_tokens
from chatcustody.search._index import (
    doc_from_fields,
    hasher_for,
    open_fields,
    tokens_of,
    tsvector_literal,
)
from chatcustody.store import schema as t
from chatcustody.vault import Vault
from chatcustody.verify import verify_vault


def _replace_entry(vault: Vault, record_id: int, new_text: str) -> None:
    """Swap one record's positional index entry for the tokens of another text."""
    with vault.begin() as conn:
        row = conn.execute(t.records.select().where(t.records.c.id == record_id)).mappings().one()
        old = tokens_of(vault, doc_from_fields(row, open_fields(vault, conn, row)))
        other = doc_tokens(
            hasher_for(vault),
            (new_text,),
            False,
            int(row["conversation_id"]),
            int(row["sender_id"]),
        )
        if conn.dialect.name == "sqlite":
            conn.execute(
                text(
                    "INSERT INTO search_fts (search_fts, rowid, tokens) VALUES ('delete', :i, :t)"
                ),
                {"i": record_id, "t": " ".join(old.positional)},
            )
            conn.execute(
                text("INSERT INTO search_fts (rowid, tokens) VALUES (:i, :t)"),
                {"i": record_id, "t": " ".join(other.positional)},
            )
        else:
            conn.execute(
                text("UPDATE search_fts SET tsv = CAST(:t AS tsvector) WHERE id = :i"),
                {"i": record_id, "t": tsvector_literal(other)},
            )


def test_default_check_reports_what_it_sampled(sample: Vault) -> None:
    """The report says how many records were re-tokenised, of how many, and the seed."""
    report = verify_vault(sample, index_sample=5, seed=3)
    assert report.ok, report.failures
    assert report.index_check == {"mode": "sample", "records": 5, "of": 27, "seed": 3}
    assert "5 of 27 records re-tokenised" in report.notes[0] and "seed 3" in report.notes[0]
    assert report.checked["search_index"] == 5
    full = verify_vault(sample, full_index=True)
    assert full.ok and full.index_check == {"mode": "full"} and full.checked["search_index"] == 27


def test_altered_entry_in_the_sample_is_named(sample: Vault) -> None:
    """An entry replaced by another text's tokens fails the sampled check when sampled."""
    _replace_entry(sample, 4, "完全不同的内容")
    report = verify_vault(sample, index_sample=27)
    assert any("record 4 does not match search_fts" in f for f in report.failures), report.failures


def test_missing_and_stray_entries_are_found_without_sampling(sample: Vault) -> None:
    """With a sample of zero, a deleted entry and an entry for no record are still named."""
    with sample.begin() as conn:
        row = conn.execute(t.records.select().where(t.records.c.id == 2)).mappings().one()
        toks = tokens_of(sample, doc_from_fields(row, open_fields(sample, conn, row)))
        if conn.dialect.name == "sqlite":
            conn.execute(
                text("INSERT INTO search_fts (search_fts, rowid, tokens) VALUES ('delete', 2, :t)"),
                {"t": " ".join(toks.positional)},
            )
            conn.execute(
                text("INSERT INTO search_fts (rowid, tokens) VALUES (999, :t)"),
                {"t": " ".join(toks.positional)},
            )
        else:
            conn.execute(text("DELETE FROM search_fts WHERE id = 2"))
            conn.execute(
                text("INSERT INTO search_fts (id, tsv) VALUES (999, CAST(:t AS tsvector))"),
                {"t": tsvector_literal(toks)},
            )
    report = verify_vault(sample, index_sample=0)
    assert report.index_check["records"] == 0
    assert any("record 2 is missing from search_fts" in f for f in report.failures), report.failures
    assert any("holds record 999, which does not exist" in f for f in report.failures)


def test_cli_full_sample_and_seed(tmp_path: Path) -> None:
    """`verify --sample N --seed S --json` reports that sample; `--full` re-tokenises all."""
    env = dict(os.environ, CHATCUSTODY_VAULT=str(tmp_path / "v"), CHATCUSTODY_PASSPHRASE=PASSPHRASE)
    env.pop("CHATCUSTODY_DATABASE_URL", None)

    def run(*args: str) -> dict[str, object]:
        cmd = [sys.executable, "-m", "chatcustody", *args]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        return dict(json.loads(out)) if out.startswith("{") else {"text": out}

    run("init")
    run("import", str(write_jsonl(tmp_path / "e.jsonl", conversation(30))), "--json")
    sampled = run("verify", "--sample", "4", "--seed", "11", "--json")
    assert sampled["index_check"] == {"mode": "sample", "records": 4, "of": 30, "seed": 11}
    assert run("verify", "--full", "--json")["index_check"] == {"mode": "full"}
    assert "4 of 30 records re-tokenised" in str(run("verify", "--sample", "4")["text"])
