"""Tables of the vault, for SQLite and PostgreSQL alike (SQLAlchemy Core).

Invariants:
- No message text, sender or participant name, conversation title, file name or path is in
  any clear column: those live only inside ``*_enc`` / ``payload`` AES-256-GCM fields.
  Clear columns are ids, times, types, digests of originals and keyed hashes (blind keys).
- Each sealed field's AAD binds it to its row and to the row's clear columns (see
  ``store/_aad.py``), so editing a clear column breaks authentication.
- Every record, source, event, amendment and audit row names its ledger leaf
  (``leaf_idx``); ``leaves`` is append-only and its roots are signed in ``tree_heads``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

vault_meta = Table(
    "vault_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

master_keys = Table(
    "master_keys",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("retired_ms", BigInteger, nullable=True),
)

service_keys = Table(
    "service_keys",
    metadata,
    Column("purpose", String(32), primary_key=True),
    Column("mk_version", Integer, ForeignKey("master_keys.version"), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

blobs = Table(
    "blobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False, unique=True),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("mk_version", Integer, ForeignKey("master_keys.version"), nullable=False),
    Column("dek_sealed", LargeBinary, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("platform", String(32), nullable=False),
    Column("source_key", LargeBinary(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("mk_version", Integer, ForeignKey("master_keys.version"), nullable=False),
    Column("dek_sealed", LargeBinary, nullable=False),
    Column("name_enc", LargeBinary, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("platform", "source_key", name="uq_conversations_source"),
)

participants = Table(
    "participants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("platform", String(32), nullable=False),
    Column("source_key", LargeBinary(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("platform", "source_key", name="uq_participants_source"),
)

participant_names = Table(
    "participant_names",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("seen_ms", BigInteger, nullable=False),
    Column("name_enc", LargeBinary, nullable=False),
    Index("ix_participant_names_participant", "participant_id"),
)

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("sm3", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("blob_id", Integer, ForeignKey("blobs.id"), nullable=False),
    Column("format", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("acquired_ms", BigInteger, nullable=False),
    Column("leaf_idx", BigInteger, nullable=False, unique=True),
    Column("meta_enc", LargeBinary, nullable=False),
)

records = Table(
    "records",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("sender_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("utc_offset_min", Integer, nullable=False),
    Column("type", String(16), nullable=False),
    Column("dedupe", LargeBinary(16), nullable=False, unique=True),
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=False),
    Column("leaf_idx", BigInteger, nullable=False, unique=True),
    Column("payload", LargeBinary, nullable=False),
    Index("ix_records_conversation_time", "conversation_id", "ts_ms"),
    Index("ix_records_time", "ts_ms"),
)

amendments = Table(
    "amendments",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("target_key", LargeBinary(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("utc_offset_min", Integer, nullable=False),
    Column("dedupe", LargeBinary(16), nullable=False, unique=True),
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=False),
    Column("leaf_idx", BigInteger, nullable=False, unique=True),
    Column("payload", LargeBinary, nullable=False),
    Index("ix_amendments_target", "target_key"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("utc_offset_min", Integer, nullable=False),
    Column("category", String(32), nullable=False),
    Column("dedupe", LargeBinary(16), nullable=False, unique=True),
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=False),
    Column("leaf_idx", BigInteger, nullable=False, unique=True),
    Column("payload", LargeBinary, nullable=False),
    Index("ix_events_time", "ts_ms"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("leaf_idx", BigInteger, nullable=False, unique=True),
    Column("payload", LargeBinary, nullable=False),
    Index("ix_audit_time", "ts_ms"),
)

leaves = Table(
    "leaves",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("ref", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
)

tree_heads = Table(
    "tree_heads",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
)

ledger_state = Table(
    "ledger_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("frontier", LargeBinary, nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=False),
    Column("line", BigInteger, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Index("ix_quarantine_source", "source_id"),
)

# -- identity and access (migration 0004) ----------------------------------------------------
# Usernames are clear (they name actors in the audit trail); display names, e-mails, TOTP
# secrets, group names, tag names and dual-control parameters are sealed with the ``access``
# service key. Rows that grant rights carry an HMAC (``mac``) under that key, so editing the
# database directly (a role, a password hash, a membership) is detected, not obeyed.

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("username", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=True),
    Column("tiers", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("password_hash", String(256), nullable=True),
    Column("totp_enc", LargeBinary, nullable=True),
    Column("totp_step", BigInteger, nullable=True),
    Column("profile_enc", LargeBinary, nullable=True),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until_ms", BigInteger, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("mac", LargeBinary(32), nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name_key", LargeBinary(16), nullable=False, unique=True),
    Column("name_enc", LargeBinary, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Integer, ForeignKey("groups.id"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("mac", LargeBinary(32), nullable=False),
    Index("ix_group_members_user", "user_id"),
)

group_conversations = Table(
    "group_conversations",
    metadata,
    Column("group_id", Integer, ForeignKey("groups.id"), primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), primary_key=True),
    Column("mac", LargeBinary(32), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", LargeBinary(32), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("scopes", String(128), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger, nullable=True),
    Index("ix_sessions_user", "user_id"),
)

pending_actions = Table(
    "pending_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("action", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("requested_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("decided_by", String(128), nullable=True),
    Column("decided_ms", BigInteger, nullable=True),
    Column("params_enc", LargeBinary, nullable=False),
    Column("result_enc", LargeBinary, nullable=True),
)

tags = Table(
    "tags",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("record_id", BigInteger, ForeignKey("records.id"), nullable=False),
    Column("name_key", LargeBinary(16), nullable=False),
    Column("name_enc", LargeBinary, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("record_id", "name_key", name="uq_tags_record_name"),
    Index("ix_tags_name", "name_key"),
)

# -- legal holds and crypto-shredding (migration 0006) ----------------------------------------
# A hold's reason and case reference are sealed with the ``access`` key; ``released_ms`` NULL
# means the hold is in force. A shredded conversation keeps its rows (the ledger needs them)
# but its ``dek_sealed`` and ``name_enc`` are emptied: ``shredded_conversations`` says when,
# by whom and under which approval.

legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("placed_by", String(128), nullable=False),
    Column("placed_ms", BigInteger, nullable=False),
    Column("details_enc", LargeBinary, nullable=False),
    Column("released_by", String(128), nullable=True),
    Column("released_ms", BigInteger, nullable=True),
    Column("release_approval", Integer, nullable=True),
    Index("ix_legal_holds_conversation", "conversation_id"),
)

shredded_conversations = Table(
    "shredded_conversations",
    metadata,
    Column("conversation_id", Integer, ForeignKey("conversations.id"), primary_key=True),
    Column("shredded_ms", BigInteger, nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("confirmed_by", String(128), nullable=False),
    Column("approval", Integer, nullable=True),
    Column("records", BigInteger, nullable=False),
)

# Search index (search/_index.py). The full-text tables themselves — ``search_fts`` and
# ``search_fts_bag`` (FTS5) on SQLite, ``search_fts`` (tsvector, GIN) on PostgreSQL — are
# dialect-specific and made by migration 0003 only; they hold keyed tokens, never text.
search_blocks = Table(
    "search_blocks",
    metadata,
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    Column("min_ts", BigInteger, nullable=False),
    Column("max_ts", BigInteger, nullable=False),
)

search_oversize = Table(
    "search_oversize",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # a records.id
)

# -- retrieval requests (migration 0005) -----------------------------------------------------
# Who supervises whom, and the 电子证据调取申请单 with its history and attachments. The form
# (case reference, legal basis, reason, scope, keywords, outputs) and every reason in the
# history are sealed with the ``access`` key; the granting columns (status, approver, expiry,
# the sealed body's digest) carry a row MAC, so a request widened or extended by hand in the
# database is refused, not obeyed. Attachments are acquired originals (``sources``).

supervisors = Table(
    "supervisors",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True, autoincrement=False),
    Column("supervisor_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("set_by", String(128), nullable=False),
    Column("set_ms", BigInteger, nullable=False),
    Column("mac", LargeBinary(32), nullable=False),
)

requests = Table(
    "requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("requester_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("approver_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("expires_ms", BigInteger, nullable=True),
    Column("body_enc", LargeBinary, nullable=False),
    Column("mac", LargeBinary(32), nullable=False),
    Index("ix_requests_requester", "requester_id"),
    Index("ix_requests_status", "status"),
)

request_events = Table(
    "request_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("request_id", Integer, ForeignKey("requests.id"), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("transition", String(24), nullable=False),
    Column("from_status", String(24), nullable=True),
    Column("to_status", String(24), nullable=False),
    Column("note_enc", LargeBinary, nullable=True),
    Index("ix_request_events_request", "request_id"),
)

request_attachments = Table(
    "request_attachments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("request_id", Integer, ForeignKey("requests.id"), nullable=False),
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("added_by", String(128), nullable=False),
    Column("added_ms", BigInteger, nullable=False),
    Column("name_enc", LargeBinary, nullable=False),
    Index("ix_request_attachments_request", "request_id"),
)
