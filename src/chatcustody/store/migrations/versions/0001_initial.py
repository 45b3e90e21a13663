"""The vault's first schema: keys, conversations, records, sources, blobs, ledger, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.Integer
_BIG = sa.BigInteger
_BIN = sa.LargeBinary


def _blind(name: str) -> sa.Column[bytes]:
    return sa.Column(name, _BIN(16), nullable=False)


def upgrade() -> None:
    op.create_table(
        "vault_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "master_keys",
        sa.Column("version", _ID, primary_key=True, autoincrement=False),
        sa.Column("sealed", _BIN, nullable=False),
        sa.Column("created_ms", _BIG, nullable=False),
        sa.Column("retired_ms", _BIG, nullable=True),
    )
    op.create_table(
        "service_keys",
        sa.Column("purpose", sa.String(32), primary_key=True),
        sa.Column("mk_version", _ID, sa.ForeignKey("master_keys.version"), nullable=False),
        sa.Column("sealed", _BIN, nullable=False),
        sa.Column("created_ms", _BIG, nullable=False),
    )
    op.create_table(
        "blobs",
        sa.Column("id", _ID, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("size", _BIG, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("mk_version", _ID, sa.ForeignKey("master_keys.version"), nullable=False),
        sa.Column("dek_sealed", _BIN, nullable=False),
        sa.Column("created_ms", _BIG, nullable=False),
    )
    op.create_table(
        "conversations",
        sa.Column("id", _ID, primary_key=True, autoincrement=False),
        sa.Column("platform", sa.String(32), nullable=False),
        _blind("source_key"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("mk_version", _ID, sa.ForeignKey("master_keys.version"), nullable=False),
        sa.Column("dek_sealed", _BIN, nullable=False),
        sa.Column("name_enc", _BIN, nullable=False),
        sa.Column("created_ms", _BIG, nullable=False),
        sa.UniqueConstraint("platform", "source_key", name="uq_conversations_source"),
    )
    op.create_table(
        "participants",
        sa.Column("id", _ID, primary_key=True, autoincrement=False),
        sa.Column("platform", sa.String(32), nullable=False),
        _blind("source_key"),
        sa.Column("created_ms", _BIG, nullable=False),
        sa.UniqueConstraint("platform", "source_key", name="uq_participants_source"),
    )
    op.create_table(
        "participant_names",
        sa.Column("id", _ID, primary_key=True, autoincrement=False),
        sa.Column("participant_id", _ID, sa.ForeignKey("participants.id"), nullable=False),
        sa.Column("seen_ms", _BIG, nullable=False),
        sa.Column("name_enc", _BIN, nullable=False),
    )
    op.create_index("ix_participant_names_participant", "participant_names", ["participant_id"])
    op.create_table(
        "sources",
        sa.Column("id", _ID, primary_key=True, autoincrement=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("sm3", sa.String(64), nullable=False),
        sa.Column("size", _BIG, nullable=False),
        sa.Column("blob_id", _ID, sa.ForeignKey("blobs.id"), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("acquired_ms", _BIG, nullable=False),
        sa.Column("leaf_idx", _BIG, nullable=False, unique=True),
        sa.Column("meta_enc", _BIN, nullable=False),
    )
    op.create_table(
        "records",
        sa.Column("id", _BIG, primary_key=True, autoincrement=False),
        sa.Column("conversation_id", _ID, sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("sender_id", _ID, sa.ForeignKey("participants.id"), nullable=False),
        sa.Column("ts_ms", _BIG, nullable=False),
        sa.Column("utc_offset_min", _ID, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("dedupe", _BIN(16), nullable=False, unique=True),
        sa.Column("source_id", _ID, sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("leaf_idx", _BIG, nullable=False, unique=True),
        sa.Column("payload", _BIN, nullable=False),
    )
    op.create_index("ix_records_conversation_time", "records", ["conversation_id", "ts_ms"])
    op.create_index("ix_records_time", "records", ["ts_ms"])
    op.create_table(
        "amendments",
        sa.Column("id", _BIG, primary_key=True, autoincrement=False),
        sa.Column("conversation_id", _ID, sa.ForeignKey("conversations.id"), nullable=False),
        _blind("target_key"),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("ts_ms", _BIG, nullable=False),
        sa.Column("utc_offset_min", _ID, nullable=False),
        sa.Column("dedupe", _BIN(16), nullable=False, unique=True),
        sa.Column("source_id", _ID, sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("leaf_idx", _BIG, nullable=False, unique=True),
        sa.Column("payload", _BIN, nullable=False),
    )
    op.create_index("ix_amendments_target", "amendments", ["target_key"])
    op.create_table(
        "events",
        sa.Column("id", _BIG, primary_key=True, autoincrement=False),
        sa.Column("ts_ms", _BIG, nullable=False),
        sa.Column("utc_offset_min", _ID, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("dedupe", _BIN(16), nullable=False, unique=True),
        sa.Column("source_id", _ID, sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("leaf_idx", _BIG, nullable=False, unique=True),
        sa.Column("payload", _BIN, nullable=False),
    )
    op.create_index("ix_events_time", "events", ["ts_ms"])
    op.create_table(
        "audit",
        sa.Column("id", _BIG, primary_key=True, autoincrement=False),
        sa.Column("ts_ms", _BIG, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("leaf_idx", _BIG, nullable=False, unique=True),
        sa.Column("payload", _BIN, nullable=False),
    )
    op.create_index("ix_audit_time", "audit", ["ts_ms"])
    op.create_table(
        "leaves",
        sa.Column("idx", _BIG, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", _BIG, nullable=False),
        sa.Column("hash", _BIN(32), nullable=False),
    )
    op.create_table(
        "tree_heads",
        sa.Column("size", _BIG, primary_key=True, autoincrement=False),
        sa.Column("root", _BIN(32), nullable=False),
        sa.Column("ts_ms", _BIG, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", _BIN(64), nullable=False),
    )
    op.create_table(
        "ledger_state",
        sa.Column("id", _ID, primary_key=True, autoincrement=False),
        sa.Column("size", _BIG, nullable=False),
        sa.Column("frontier", _BIN, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "ledger_state", "tree_heads", "leaves", "audit", "events", "amendments", "records",
        "sources", "participant_names", "participants", "conversations", "blobs",
        "service_keys", "master_keys", "vault_meta",
    ):  # fmt: skip
        op.drop_table(name)
