"""Retrieval requests: supervisors, requests, their history and attachments.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BIN = sa.LargeBinary
_BIG = sa.BigInteger


def upgrade() -> None:
    op.create_table(
        "supervisors",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("supervisor_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("set_by", sa.String(128), nullable=False),
        sa.Column("set_ms", _BIG, nullable=False),
        sa.Column("mac", _BIN(32), nullable=False),
    )
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("requester_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("created_ms", _BIG, nullable=False),
        sa.Column("updated_ms", _BIG, nullable=False),
        sa.Column("approver_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("expires_ms", _BIG, nullable=True),
        sa.Column("body_enc", _BIN, nullable=False),
        sa.Column("mac", _BIN(32), nullable=False),
    )
    op.create_index("ix_requests_requester", "requests", ["requester_id"])
    op.create_index("ix_requests_status", "requests", ["status"])
    op.create_table(
        "request_events",
        sa.Column("id", _BIG, primary_key=True, autoincrement=False),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("ts_ms", _BIG, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("transition", sa.String(24), nullable=False),
        sa.Column("from_status", sa.String(24), nullable=True),
        sa.Column("to_status", sa.String(24), nullable=False),
        sa.Column("note_enc", _BIN, nullable=True),
    )
    op.create_index("ix_request_events_request", "request_events", ["request_id"])
    op.create_table(
        "request_attachments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.Column("added_ms", _BIG, nullable=False),
        sa.Column("name_enc", _BIN, nullable=False),
    )
    op.create_index("ix_request_attachments_request", "request_attachments", ["request_id"])


def downgrade() -> None:
    op.drop_table("request_attachments")
    op.drop_table("request_events")
    op.drop_table("requests")
    op.drop_table("supervisors")
