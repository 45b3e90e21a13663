"""Legal holds and crypto-shredded conversations.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BIN = sa.LargeBinary
_BIG = sa.BigInteger


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("placed_by", sa.String(128), nullable=False),
        sa.Column("placed_ms", _BIG, nullable=False),
        sa.Column("details_enc", _BIN, nullable=False),
        sa.Column("released_by", sa.String(128), nullable=True),
        sa.Column("released_ms", _BIG, nullable=True),
        sa.Column("release_approval", sa.Integer, nullable=True),
    )
    op.create_index("ix_legal_holds_conversation", "legal_holds", ["conversation_id"])
    op.create_table(
        "shredded_conversations",
        sa.Column(
            "conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), primary_key=True
        ),
        sa.Column("shredded_ms", _BIG, nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("confirmed_by", sa.String(128), nullable=False),
        sa.Column("approval", sa.Integer, nullable=True),
        sa.Column("records", _BIG, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("shredded_conversations")
    op.drop_index("ix_legal_holds_conversation", table_name="legal_holds")
    op.drop_table("legal_holds")
