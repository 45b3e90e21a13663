"""Crypto-shredding (加密粉碎): destroy a conversation's data key so its content is gone.

Requested and confirmed under dual control (``Action.CRYPTO_SHRED``, admin tier): one
admin requests ``{"conversation": ID, "reason": TEXT}``, a second, different admin confirms
with TOTP. Refused while any legal hold covers the conversation (checked when requested and
again, under the conversation's lock, when it runs).

What one shred does, in one transaction:

- removes the conversation's records from the search index (their keyed tokens, recomputed
  from the decrypted text while the key still exists) and, on SQLite, merges the FTS5
  segments (``optimize``) so the tokens are gone, not only marked deleted;
- empties ``conversations.dek_sealed`` (the only copy of the data key, wrapped by the master
  key; every master key version wraps the same single copy, rewrapped on rotation) and the
  sealed title; records and amendments keep their rows and ciphertext, so the ledger keeps
  every leaf and ``verify`` still proves its structure, counting them as shredded;
- records the shred in ``shredded_conversations`` and appends a ``crypto.shred`` audit event
  with the reason, the requester and the confirmer.

Then it scrubs the old wrapped key from the database files: SQLite runs the update with
``secure_delete`` on (freed bytes are zeroed) and truncates the WAL after a checkpoint;
PostgreSQL rewrites the ``conversations`` and ``search_fts`` tables (``VACUUM FULL``) so no
dead tuple keeps the key or the tokens. Both rewrite the whole index: a shred costs time
proportional to the index size (it is rare, and confirmed by two admins).
What this cannot reach (copies of the vault made before the shred, archived PostgreSQL WAL,
file-system or disk remnants, attachment and original-export blobs, which have their own
keys) is listed in docs/threat-model.md.

``verify`` accepts a conversation as shredded only with the ledger's word for it
(``check_shreds``): the ledgered ``crypto.shred`` event, the approval it names (request and
a second person's confirmation, both ledgered before it), no legal hold in force by the
ledger's hold events at that moment, and no index entry left for its records. A
``shredded_conversations`` row and an emptied key alone (anyone with write access to the
database can make those) are a forgery that hides records from the check.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from sqlalchemy import Connection, func, insert, select, text, update

from chatcustody._env import now_ms
from chatcustody.audit import append_audit
from chatcustody.errors import ChatCustodyError, ConflictError, UsageError
from chatcustody.holds import active_holds, is_shredded, lock_conversation
from chatcustody.rows import open_row
from chatcustody.search import remove_docs
from chatcustody.search._index import doc_from_fields, hasher_for, open_fields
from chatcustody.search._tokens import conversation_marker
from chatcustody.store import schema as t
from chatcustody.vault import Vault

MAX_REASON: Final[int] = 2000
SCRUB_WAIT_S: Final[float] = 10.0
_BATCH: Final[int] = 1000


@dataclass(frozen=True)
class ShredResult:
    """What a shred did."""

    conversation_id: int
    records: int
    amendments: int
    unindexed: int
    attachments_kept: int
    scrubbed: bool

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (the approval's result)."""
        return {
            "conversation": self.conversation_id,
            "status": "shredded",
            "records": self.records,
            "amendments": self.amendments,
            "unindexed": self.unindexed,
            "attachments_kept": self.attachments_kept,
            "scrubbed": self.scrubbed,
        }


def _refuse_if_held(conn: Connection, conversation_id: int) -> None:
    holds = active_holds(conn, conversation_id)
    if holds:
        ids = ", ".join(str(h) for h in holds)
        raise ConflictError(
            f"conversation {conversation_id} is under legal hold ({ids}): it cannot be "
            "shredded until every hold is released"
        )


def check_shred(vault: Vault, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a shred request: the conversation exists, is not shredded, is not held."""
    try:
        conversation_id = int(params["conversation"])
    except (KeyError, ValueError, TypeError):
        raise UsageError("crypto.shred needs the conversation's id: {'conversation': ID}") from None
    reason = str(params.get("reason") or "").strip()
    if not reason:
        raise UsageError("crypto-shredding needs a reason (it is kept in the audit trail)")
    if len(reason) > MAX_REASON:
        raise UsageError(f"the reason is longer than {MAX_REASON} characters")
    with vault.engine.connect() as conn:
        lock_conversation(conn, conversation_id)
        if is_shredded(conn, conversation_id):
            raise ConflictError(f"conversation {conversation_id} was already crypto-shredded")
        _refuse_if_held(conn, conversation_id)
    return {"conversation": conversation_id, "reason": reason}


def _unindex(vault: Vault, conn: Connection, conversation_id: int) -> tuple[int, int, int]:
    """Remove the conversation's records from the index; return (records, unindexed, files)."""
    records = unindexed = files = 0
    last = 0
    while True:
        rows = (
            conn.execute(
                select(t.records)
                .where(t.records.c.conversation_id == conversation_id, t.records.c.id > last)
                .order_by(t.records.c.id)
                .limit(_BATCH)
            )
            .mappings()
            .all()
        )
        if not rows:
            return records, unindexed, files
        docs = []
        for row in rows:
            fields = open_fields(vault, conn, row)
            files += sum(1 for a in fields.get("attachments") or () if a.get("blob"))
            docs.append(doc_from_fields(row, fields))
        unindexed += remove_docs(vault, conn, docs)
        records += len(rows)
        last = int(rows[-1]["id"])


def _older_transactions(conn: Connection, xid: int) -> int:
    """Count PostgreSQL transactions (any database) that began before ``xid`` and still run.

    While one runs, the shredded row's old version may still be visible to it, so
    ``VACUUM FULL`` must keep it ("recently dead").
    """
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND ("
                "(backend_xid IS NOT NULL AND age(backend_xid) >= age(CAST(:x AS xid))) OR "
                "(backend_xmin IS NOT NULL AND age(backend_xmin) >= age(CAST(:x AS xid))))"
            ),
            {"x": str(xid % 2**32)},
        ).scalar_one()
    )


def _scrub(vault: Vault, xid: int | None) -> bool:
    """Remove old copies of the emptied key row and the tokens; True when surely done.

    SQLite: a checkpoint that truncates the WAL (False when a reader blocked it). PostgreSQL:
    ``VACUUM FULL`` once no transaction older than the shred runs (waiting up to
    ``SCRUB_WAIT_S``; False when one still did — run ``VACUUM FULL conversations,
    search_fts`` again later).
    """
    if vault.engine.dialect.name == "sqlite":
        raw = vault.engine.raw_connection()
        try:
            cur = raw.cursor()
            busy, _, _ = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            cur.close()
        finally:
            raw.close()
        return int(busy) == 0
    with vault.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        deadline = time.monotonic() + SCRUB_WAIT_S
        blocked = xid is not None and _older_transactions(conn, xid) > 0
        while blocked and time.monotonic() < deadline:
            time.sleep(0.2)
            blocked = xid is not None and _older_transactions(conn, xid) > 0
        for table in ("conversations", "search_fts"):  # no dead tuple keeps key or tokens
            conn.execute(text(f"VACUUM FULL {table}"))
    return not blocked


def shred_conversation(vault: Vault, params: Mapping[str, Any], confirmed_by: str) -> ShredResult:
    """Destroy a conversation's data key (run by dual control once confirmed)."""
    conversation_id = int(params["conversation"])
    reason = str(params["reason"])
    at = now_ms()
    sqlite = vault.engine.dialect.name == "sqlite"
    with vault.begin() as conn:
        if sqlite:  # zero the bytes the update frees, in the page and the WAL frame
            conn.exec_driver_sql("PRAGMA secure_delete = ON")
        xid = None if sqlite else int(conn.execute(text("SELECT txid_current()")).scalar_one())
        try:
            lock_conversation(conn, conversation_id)
            if is_shredded(conn, conversation_id):
                raise ConflictError(f"conversation {conversation_id} was already crypto-shredded")
            _refuse_if_held(conn, conversation_id)
            records, unindexed, files = _unindex(vault, conn, conversation_id)
            if sqlite and unindexed:
                # FTS5 'delete' only adds tombstones: merge every segment into one, so the
                # removed keyed tokens (a guessing oracle for whoever holds the search key)
                # are gone from the index, not just hidden. Costs a rewrite of the index.
                for table in ("search_fts", "search_fts_bag"):
                    conn.exec_driver_sql(f"INSERT INTO {table} ({table}) VALUES ('optimize')")
            amendments = int(
                conn.execute(
                    select(func.count())
                    .select_from(t.amendments)
                    .where(t.amendments.c.conversation_id == conversation_id)
                ).scalar_one()
            )
            conn.execute(
                update(t.conversations)
                .where(t.conversations.c.id == conversation_id)
                .values(dek_sealed=b"", name_enc=b"")
            )
            conn.execute(
                insert(t.shredded_conversations).values(
                    conversation_id=conversation_id,
                    shredded_ms=at,
                    requested_by=str(params.get("_requested_by") or confirmed_by),
                    confirmed_by=confirmed_by,
                    approval=params.get("_approval"),
                    records=records,
                )
            )
            writer = vault.ledger_writer(conn)
            append_audit(
                vault,
                conn,
                writer,
                "crypto.shred",
                {
                    "conversation": conversation_id,
                    "reason": reason,
                    "records": records,
                    "amendments": amendments,
                    "approval": params.get("_approval"),
                    "requested_by": params.get("_requested_by"),
                    "confirmed_by": confirmed_by,
                },
                confirmed_by,
            )
            writer.commit_head(at)
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA secure_delete = OFF")
    vault.forget_ciphers()
    scrubbed = _scrub(vault, xid)
    return ShredResult(conversation_id, records, amendments, unindexed, files, scrubbed)


def shredded_conversations(vault: Vault) -> set[int]:
    """Return the ids of every crypto-shredded conversation."""
    with vault.engine.connect() as conn:
        return {int(c) for (c,) in conn.execute(select(t.shredded_conversations.c.conversation_id))}


# --- verify: a shred counts only with the ledger's word for it -------------------------

#: Audit actions the shred check reads: the shred and its approval, and legal holds.
_SHRED_ACTIONS: Final[tuple[str, ...]] = ("crypto.shred", "approval.request", "approval.confirm")
_HOLD_ACTIONS: Final[tuple[str, ...]] = ("hold.place", "hold.release")
_SHOW_IDS: Final[int] = 10


class ShredReport(Protocol):
    """The part of ``verify.VerifyReport`` the shred check writes to."""

    checked: dict[str, int]

    def fail(self, message: str) -> None: ...


@dataclass(frozen=True)
class _Event:
    leaf: int
    id: int
    actor: str
    action: str
    details: Mapping[str, Any]

    def int_of(self, key: str) -> int | None:
        value = self.details.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ledgered_events(vault: Vault, conn: Connection) -> list[_Event]:
    """Return the shred and hold audit events that are in the ledger, in its order.

    An event counts when its row authenticates with the audit key and its recomputed leaf
    hash is the ledger's leaf at its ``leaf_idx`` (the leaves are checked against the signed
    heads by ``verify``); any other row is skipped here and reported by the row check.
    """
    a, lv = t.audit.c, t.leaves.c
    query = (
        select(t.audit, lv.kind.label("leaf_kind"), lv.ref.label("leaf_ref"), lv.hash.label("lh"))
        .select_from(t.audit.join(t.leaves, lv.idx == a.leaf_idx))
        .where(a.action.in_(_SHRED_ACTIONS + _HOLD_ACTIONS))
        .order_by(a.leaf_idx)
    )
    cipher = vault.service_cipher("audit")
    events = []
    for row in conn.execute(query).mappings():
        if row["leaf_kind"] != "audit" or int(row["leaf_ref"]) != int(row["id"]):
            continue
        try:
            opened = open_row("audit", row, cipher)
        except ChatCustodyError:
            continue
        details = opened.fields.get("details")
        if bytes(row["lh"]) != opened.leaf_hash or not isinstance(details, Mapping):
            continue
        leaf, event_id = int(row["leaf_idx"]), int(row["id"])
        events.append(_Event(leaf, event_id, str(row["actor"]), str(row["action"]), details))
    return events


def _approval_problems(events: Sequence[_Event], shred: _Event, conversation: int) -> list[str]:
    """Return why the shred event is not backed by a ledgered two-person approval."""
    approval = shred.int_of("approval")
    if approval is None:
        return [f"its crypto.shred event {shred.id} names no approval"]
    mine = [  # this approval's ledgered steps for a crypto-shred, before the shred itself
        e
        for e in events
        if e.leaf < shred.leaf
        and e.int_of("approval") == approval
        and e.details.get("requested") == "crypto.shred"
    ]
    requests = [e for e in mine if e.action == "approval.request"]
    request = next((e for e in requests if e.int_of("conversation") == conversation), None)
    if request is None:
        return [f"approval {approval} has no ledgered request to crypto-shred this conversation"]
    confirms = [e for e in mine if e.action == "approval.confirm" and e.leaf > request.leaf]
    confirm = next((e for e in confirms if e.actor != request.actor), None)
    if confirm is None:
        return [f"approval {approval} has no ledgered confirmation by a second person"]
    problems = []
    if shred.details.get("requested_by") != request.actor:
        problems.append(f"the shred names requester {shred.details.get('requested_by')!r}")
    if shred.details.get("confirmed_by") != confirm.actor or shred.actor != confirm.actor:
        problems.append(f"the shred names confirmer {shred.details.get('confirmed_by')!r}")
    if problems:
        problems[-1] += f", approval {approval} says {request.actor!r} and {confirm.actor!r}"
    return problems


def _holds_in_force(events: Sequence[_Event], conversation: int, leaf: int) -> list[str]:
    """Return the holds the ledger shows in force on the conversation just before ``leaf``."""
    placed: dict[int, int] = {}
    for e in events:
        if e.leaf >= leaf:
            break
        hold = e.int_of("hold")
        if hold is None or e.int_of("conversation") != conversation:
            continue
        if e.action == "hold.place":
            placed[hold] = e.leaf
        elif e.action == "hold.release":
            placed.pop(hold, None)
    return [
        f"legal hold {hold} was in force (placed at ledger leaf {at}, not released before "
        f"the shred at leaf {leaf})"
        for hold, at in sorted(placed.items())
    ]


def _row_problems(row: Mapping[Any, Any], shred: _Event) -> list[str]:
    """Return where the shredded_conversations row disagrees with its ledgered event."""
    return [
        f"its row says {key} {row[key]!r}, the ledger's crypto.shred event {shred.id} says "
        f"{shred.details.get(key)!r}"
        for key in ("records", "approval", "requested_by", "confirmed_by")
        if row[key] != shred.details.get(key)
    ]


def _ids(values: Sequence[int]) -> str:
    shown = ", ".join(str(v) for v in values[:_SHOW_IDS])
    return shown + (f" and {len(values) - _SHOW_IDS} more" if len(values) > _SHOW_IDS else "")


def _index_leftovers(vault: Vault, conn: Connection, conversation: int) -> list[str]:
    """Return the index tables still holding entries for the conversation's records."""
    r = t.records.c
    where = f"crypto-shredded conversation {conversation}"
    out = []
    if conn.dialect.name == "sqlite":
        # Contentless FTS5 cannot be scanned by rowid: every entry carries its marker token.
        marker = f'"{conversation_marker(hasher_for(vault), conversation)}"'
        for table in ("search_fts", "search_fts_bag"):
            found = sorted(
                int(i)
                for (i,) in conn.exec_driver_sql(
                    f"SELECT rowid FROM {table} WHERE {table} MATCH ?", (marker,)
                )
            )
            if found:
                out.append(f"{where}: {table} still holds records {_ids(found)}")
    else:
        found = sorted(
            int(i)
            for (i,) in conn.execute(
                text(
                    "SELECT f.id FROM search_fts f JOIN records r ON r.id = f.id "
                    "WHERE r.conversation_id = :c"
                ),
                {"c": conversation},
            )
        )
        if found:
            out.append(f"{where}: search_fts still holds records {_ids(found)}")
    oversize = sorted(
        int(i)
        for (i,) in conn.execute(
            select(t.search_oversize.c.id)
            .join(t.records, r.id == t.search_oversize.c.id)
            .where(r.conversation_id == conversation)
        )
    )
    if oversize:
        out.append(f"{where}: search_oversize still lists records {_ids(oversize)}")
    return [f"search index: {m} (the shred should have removed them)" for m in out]


def check_shreds(vault: Vault, conn: Connection, report: ShredReport) -> None:
    """Check every crypto-shred against the ledger (``verify``); add failures to ``report``.

    A conversation counts as shredded (its records' content is skipped by the row check)
    when it has a ``shredded_conversations`` row and an empty key. Neither is ledgered, so
    each such conversation also needs: exactly one ledgered ``crypto.shred`` event naming
    it, agreeing with the row (records, approval, requester, confirmer); that approval's
    ledgered request and a second person's confirmation before it; no legal hold in force
    then by the ledger's ``hold.place``/``hold.release`` events; and no search index entry
    left for its records. Also reported: a ledgered shred the vault does not show, and an
    emptied key without a shred.
    """
    rows = {
        int(row["conversation_id"]): row
        for row in conn.execute(select(t.shredded_conversations)).mappings()
    }
    c = t.conversations.c
    emptied = {int(i) for (i,) in conn.execute(select(c.id).where(func.length(c.dek_sealed) == 0))}
    events = _ledgered_events(vault, conn)
    shreds: dict[int, list[_Event]] = {}
    for e in events:
        conversation = e.int_of("conversation")
        if e.action == "crypto.shred" and conversation is not None:
            shreds.setdefault(conversation, []).append(e)
    for conversation, row in sorted(rows.items()):
        found = shreds.get(conversation, [])
        if not found:
            problems = ["no crypto.shred event in the ledger names it"]
        elif len(found) > 1:
            problems = [f"the ledger names it in {len(found)} crypto.shred events"]
        else:
            problems = _row_problems(row, found[0])
            problems += _approval_problems(events, found[0], conversation)
            problems += _holds_in_force(events, conversation, found[0].leaf)
        if conversation not in emptied:
            report.fail(f"conversation {conversation}: recorded as shredded, but its key is back")
        if problems:
            report.fail(
                f"conversation {conversation}: shredded without a ledgered, approved "
                f"crypto.shred: {'; '.join(problems)}"
            )
        for message in _index_leftovers(vault, conn, conversation):
            report.fail(message)
    for conversation, found in sorted(shreds.items()):
        if conversation not in rows:
            report.fail(
                f"conversation {conversation}: the ledger records its crypto.shred (audit event "
                f"{found[0].id}) but its shredded_conversations row is missing"
            )
    for conversation in sorted(emptied - set(rows)):
        report.fail(
            f"conversation {conversation}: its data key is empty but it was never crypto-shredded"
        )
    report.checked["shreds"] = len(rows)


__all__ = [
    "ShredReport",
    "ShredResult",
    "check_shred",
    "check_shreds",
    "shred_conversation",
    "shredded_conversations",
]
