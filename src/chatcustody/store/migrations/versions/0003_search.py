"""Search index: keyed-token full-text tables, time bounds per id block, oversize records.

SQLite gets two contentless FTS5 tables over keyed token strings (unicode61 tokenizer):
``search_fts`` (positional tokens, phrase queries) and ``search_fts_bag`` (distinct
characters, words and symbols, no positions). PostgreSQL gets ``search_fts`` with a
``tsvector`` (``simple`` configuration) and a GIN index. Records stored before this
revision are not indexed yet: a flag in ``vault_meta`` asks for ``chatcustody reindex``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

REINDEX_FLAG = "search_reindex_required"


def upgrade() -> None:
    op.create_table(
        "search_blocks",
        sa.Column("block", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("min_ts", sa.BigInteger, nullable=False),
        sa.Column("max_ts", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "search_oversize",
        # No foreign keys into records: the index must not stop a tampered (deleted) record
        # from being deleted; verify reports index entries without their record.
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5(tokens, content='', columnsize=0, "
            "detail=full, tokenize='unicode61')"
        )
        op.execute(
            "CREATE VIRTUAL TABLE search_fts_bag USING fts5(tokens, content='', columnsize=0, "
            "detail=none, tokenize='unicode61')"
        )

    else:
        op.execute("CREATE TABLE search_fts (id BIGINT PRIMARY KEY, tsv tsvector NOT NULL)")
        op.execute("CREATE INDEX search_fts_tsv ON search_fts USING gin (tsv)")
    if bind.execute(sa.text("SELECT count(*) FROM records")).scalar_one():
        bind.execute(
            sa.text("INSERT INTO vault_meta (key, value) VALUES (:k, '1')"), {"k": REINDEX_FLAG}
        )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM vault_meta WHERE key = :k").bindparams(k=REINDEX_FLAG))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE search_fts_bag")
    op.execute("DROP TABLE search_fts")
    op.drop_table("search_oversize")
    op.drop_table("search_blocks")
