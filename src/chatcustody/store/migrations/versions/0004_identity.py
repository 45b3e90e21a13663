"""Identity and access: users, groups, sessions and API tokens, dual control, tags.

Also guards the audit trail in the database itself: deleting an audit row younger than six
calendar months (plus a day of slack for zones) is refused by a trigger, on SQLite and
PostgreSQL alike (on PostgreSQL ``TRUNCATE audit`` is refused too).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BIN = sa.LargeBinary
_BIG = sa.BigInteger


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("tiers", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=True),
        sa.Column("totp_enc", _BIN, nullable=True),
        sa.Column("totp_step", _BIG, nullable=True),
        sa.Column("profile_enc", _BIN, nullable=True),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until_ms", _BIG, nullable=True),
        sa.Column("created_ms", _BIG, nullable=False),
        sa.Column("mac", _BIN(32), nullable=False),
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name_key", _BIN(16), nullable=False, unique=True),
        sa.Column("name_enc", _BIN, nullable=False),
        sa.Column("created_ms", _BIG, nullable=False),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer, sa.ForeignKey("groups.id"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("mac", _BIN(32), nullable=False),
    )
    op.create_index("ix_group_members_user", "group_members", ["user_id"])
    op.create_table(
        "group_conversations",
        sa.Column("group_id", sa.Integer, sa.ForeignKey("groups.id"), primary_key=True),
        sa.Column(
            "conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), primary_key=True
        ),
        sa.Column("mac", _BIN(32), nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id", _BIN(32), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("scopes", sa.String(128), nullable=True),
        sa.Column("created_ms", _BIG, nullable=False),
        sa.Column("expires_ms", _BIG, nullable=False),
        sa.Column("last_seen_ms", _BIG, nullable=False),
        sa.Column("revoked_ms", _BIG, nullable=True),
    )
    op.create_index("ix_sessions_user", "sessions", ["user_id"])
    op.create_table(
        "pending_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("requested_ms", _BIG, nullable=False),
        sa.Column("expires_ms", _BIG, nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_ms", _BIG, nullable=True),
        sa.Column("params_enc", _BIN, nullable=False),
        sa.Column("result_enc", _BIN, nullable=True),
    )
    op.create_table(
        "tags",
        sa.Column("id", _BIG, primary_key=True, autoincrement=False),
        sa.Column("record_id", _BIG, sa.ForeignKey("records.id"), nullable=False),
        sa.Column("name_key", _BIN(16), nullable=False),
        sa.Column("name_enc", _BIN, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_ms", _BIG, nullable=False),
        sa.UniqueConstraint("record_id", "name_key", name="uq_tags_record_name"),
    )
    op.create_index("ix_tags_name", "tags", ["name_key"])
    _guard_audit()


def _guard_audit() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_keep_six_months BEFORE DELETE ON audit "
            "WHEN old.ts_ms > (CAST(strftime('%s', 'now', '-6 months', '-1 day') AS INTEGER)"
            " * 1000) BEGIN SELECT RAISE(ABORT, "
            "'audit events are kept at least 6 calendar months'); END"
        )
        return
    op.execute(
        """
        CREATE FUNCTION audit_keep_six_months() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'TRUNCATE' THEN
            RAISE EXCEPTION 'audit events are kept at least 6 calendar months';
          END IF;
          IF old.ts_ms > (EXTRACT(EPOCH FROM
              now() - interval '6 months' - interval '1 day') * 1000)::bigint THEN
            RAISE EXCEPTION 'audit events are kept at least 6 calendar months';
          END IF;
          RETURN old;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_keep_six_months BEFORE DELETE ON audit "
        "FOR EACH ROW EXECUTE FUNCTION audit_keep_six_months()"
    )
    op.execute(
        "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_keep_six_months()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_keep_six_months")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_no_truncate ON audit")
        op.execute("DROP TRIGGER IF EXISTS audit_keep_six_months ON audit")
        op.execute("DROP FUNCTION IF EXISTS audit_keep_six_months()")
    for name in (
        "tags", "pending_actions", "sessions", "group_conversations", "group_members",
        "groups", "users",
    ):  # fmt: skip
        op.drop_table(name)
