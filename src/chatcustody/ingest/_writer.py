"""Write one batch of parsed items in one transaction: rows, leaves and a signed head.

A batch either commits whole (records, their conversations and participants, attachment
blobs, ledger leaves and the signed tree head) or not at all. Items whose dedupe key is
already stored are counted as duplicates and skipped: re-running an interrupted import
finishes it exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Connection, select, update

from chatcustody import search
from chatcustody._env import now_ms
from chatcustody.crypto import FieldCipher, new_key
from chatcustody.errors import BadInputError, InputProblem
from chatcustody.importers import Rejected, SourceInput
from chatcustody.ingest._acquire import digest_stream, put_blob
from chatcustody.ingest._counts import BatchCounts
from chatcustody.ingest._keys import Keyer, message_key
from chatcustody.ingest._produce import Prep, record_fields
from chatcustody.ingest._quarantine import quarantine_rows
from chatcustody.ledger import LedgerWriter
from chatcustody.model import Amendment, Attachment, Event, Item, Record
from chatcustody.rows import (
    conversation_aad,
    open_row,
    participant_name_aad,
    seal_prepared,
    seal_row,
)
from chatcustody.store import insert_rows
from chatcustody.store import schema as t
from chatcustody.vault import Vault, key_purpose, next_id

_IN_CHUNK: Final[int] = 500  # bound parameters per IN (...) lookup

Keyed = tuple[Item | Rejected, bytes]
"""A parsed item with its dedupe key (empty for a Rejected, which is quarantined)."""


class BatchWriter:
    """Writes batches for one source, caching conversations and participants across them."""

    def __init__(self, vault: Vault, source_id: int, source: SourceInput) -> None:
        self._vault = vault
        self._source_id = source_id
        self._source = source
        self._conversations: dict[tuple[str, str], int] = {}
        self._participants: dict[tuple[str, str], tuple[int, str | None]] = {}
        self._new_participants: list[dict[str, Any]] = []
        self._new_names: list[dict[str, Any]] = []
        self._next_participant = 0
        self._next_name = 0
        self._quarantined_lines: set[int] | None = None
        self._titled: set[int] = set()  # conversations known to have their title stored
        self._new_conversations: list[dict[str, Any]] = []
        self._next_conversation = 0
        self._absent: set[tuple[str, str]] = set()  # the batch's conversations not stored yet
        self._keyer = Keyer(vault.blinder)

    def write(self, items: Sequence[Keyed], preps: dict[int, Prep] | None = None) -> BatchCounts:
        """Commit one batch of (item, dedupe key); return what it did.

        ``preps`` holds, by ``id(record)``, what the producer process already computed.
        """
        try:
            with self._vault.begin() as conn:
                writer = self._vault.ledger_writer(conn)
                counts = self._write(conn, writer, items, preps or {})
                writer.commit_head(now_ms())
            return counts
        except BaseException:
            # Rows created in the rolled-back transaction must not stay cached.
            self._conversations.clear()
            self._participants.clear()
            self._titled.clear()
            self._vault.forget_ciphers()
            raise

    def _write(
        self,
        conn: Connection,
        writer: LedgerWriter,
        items: Sequence[Keyed],
        preps: dict[int, Prep],
    ) -> BatchCounts:
        counts = BatchCounts()
        rejected = [item for item, _ in items if isinstance(item, Rejected)]
        if rejected:
            if self._quarantined_lines is None:
                self._quarantined_lines = {
                    line
                    for (line,) in conn.execute(
                        select(t.quarantine.c.line).where(
                            t.quarantine.c.source_id == self._source_id
                        )
                    )
                }
            fresh = [r for r in rejected if r.line is None or r.line not in self._quarantined_lines]
            counts.quarantined = quarantine_rows(self._vault, conn, self._source_id, fresh)
            self._quarantined_lines.update(r.line for r in fresh if r.line is not None)
            items = [(item, key) for item, key in items if not isinstance(item, Rejected)]
        existing, stored_records = self._existing_keys(conn, [k for _, k in items])
        self._prefetch_participants(conn, items)
        self._new_conversations = []
        self._next_conversation = next_id(conn, t.conversations)
        self._prefetch_conversations(conn, items)
        seen: set[bytes] = set()
        # A record already stored under the same key, or met earlier in this batch, but with
        # different content (a re-export that changed it) is kept as a "variant" amendment,
        # appended to this queue: batch boundaries never decide what is kept.
        first_in_batch: dict[bytes, Record] = {}
        queue: list[Keyed] = list(items)
        record_rows: list[dict[str, Any]] = []
        amend_rows: list[dict[str, Any]] = []
        event_rows: list[dict[str, Any]] = []
        part_tokens: dict[bytes, Any] = {}
        # Parent rows created in this batch, inserted before the rows that refer to them.
        self._new_participants = []
        self._new_names = []
        self._next_participant = next_id(conn, t.participants)
        self._next_name = next_id(conn, t.participant_names)
        next_record = next_id(conn, t.records)
        next_amend = next_id(conn, t.amendments)
        next_event = next_id(conn, t.events)
        for n, (item, key) in enumerate(queue):
            is_variant = n >= len(items)  # appended below; its key was checked there
            if not is_variant and (key in existing or key in seen):
                counts.duplicates += 1
                if isinstance(item, Record):
                    variant = self._variant(conn, item, stored_records, first_in_batch, key)
                    if variant is not None and variant[1] not in seen:
                        seen.add(variant[1])
                        queue.append(variant)
                        counts.variants += 1
                continue
            seen.add(key)
            if isinstance(item, Record):
                first_in_batch[key] = item
                conv_id, cipher = self._conversation(conn, item, counts)
                sender_id = self._participant(
                    conn, item.platform, item.sender_id, item.sender_name, item.timestamp_ms, counts
                )
                prep = preps.get(id(item))
                row: dict[str, Any] = {
                    "id": next_record,
                    "conversation_id": conv_id,
                    "sender_id": sender_id,
                    "ts_ms": item.timestamp_ms,
                    "utc_offset_min": item.utc_offset_min,
                    "type": item.type.value,
                    "dedupe": key,
                    "source_id": self._source_id,
                }
                if prep is None:
                    attachments = [
                        self._attachment(conn, a, item, counts) for a in item.attachments
                    ]
                    fields = record_fields(item, attachments)
                    record_rows.append(seal_row("records", row, fields, cipher, writer))
                else:
                    record_rows.append(seal_prepared("records", row, prep[0], cipher, writer))
                    if prep[1] is not None:  # else the index tokenises the record
                        part_tokens[key] = prep[1]
                next_record += 1
                counts.imported += 1
                counts.conversations.add(conv_id)
            elif isinstance(item, Amendment):
                conv_id, cipher = self._conversation_for_amendment(conn, item, counts)
                row = {
                    "id": next_amend,
                    "conversation_id": conv_id,
                    "target_key": message_key(
                        self._vault.blinder, item.platform, item.conversation_id, item.message_id
                    ),
                    "action": item.action,
                    "ts_ms": item.timestamp_ms,
                    "utc_offset_min": item.utc_offset_min,
                    "dedupe": key,
                    "source_id": self._source_id,
                }
                fields = {
                    "platform": item.platform,
                    "conversation_id": item.conversation_id,
                    "message_id": item.message_id,
                    "action": item.action,
                    "timestamp_ms": item.timestamp_ms,
                    "utc_offset_min": item.utc_offset_min,
                    "actor_id": item.actor_id,
                    "text": item.text,
                    "raw": item.raw,
                }
                amend_rows.append(seal_row("amendments", row, fields, cipher, writer))
                next_amend += 1
                counts.amendments += 1
            else:
                assert isinstance(item, Event)
                row = {
                    "id": next_event,
                    "ts_ms": item.timestamp_ms,
                    "utc_offset_min": item.utc_offset_min,
                    "category": item.category,
                    "dedupe": key,
                    "source_id": self._source_id,
                }
                fields = {
                    "source": item.source,
                    "actor": item.actor,
                    "category": item.category,
                    "text": item.text,
                    "timestamp_ms": item.timestamp_ms,
                    "utc_offset_min": item.utc_offset_min,
                    "raw": item.raw,
                }
                event_rows.append(
                    seal_row("events", row, fields, self._vault.service_cipher("events"), writer)
                )
                next_event += 1
                counts.events += 1
        for table, rows in (
            (t.conversations, self._new_conversations),
            (t.participants, self._new_participants),
            (t.participant_names, self._new_names),
            (t.records, record_rows),
            (t.amendments, amend_rows),
            (t.events, event_rows),
        ):
            insert_rows(conn, table, rows)
        search.index_records(self._vault, conn, record_rows, items, part_tokens)
        return counts

    def _variant(
        self,
        conn: Connection,
        item: Record,
        stored_records: dict[bytes, Any],
        first_in_batch: dict[bytes, Record],
        key: bytes,
    ) -> tuple[Amendment, bytes] | None:
        """Return an amendment keeping ``item`` if it differs from the record kept under
        ``key`` (stored before, or first met in this batch)."""
        new = (item.text, item.type.value, item.sender_id, item.timestamp_ms)
        if key in stored_records:
            stored = stored_records[key]
            cipher = self._vault.conversation_cipher(conn, int(stored["conversation_id"]))
            f = open_row("records", stored, cipher).fields
            old = (f["text"], f["type"], f["sender_id"], f["timestamp_ms"])
        elif key in first_in_batch:
            r = first_in_batch[key]
            old = (r.text, r.type.value, r.sender_id, r.timestamp_ms)
        else:  # an amendment or event under the same key: nothing to compare
            return None
        if new == old:
            return None
        assert item.message_id is not None  # content-keyed records differ in key instead
        variant = Amendment(
            platform=item.platform,
            conversation_id=item.conversation_id,
            message_id=item.message_id,
            action="variant",
            timestamp_ms=item.timestamp_ms,
            utc_offset_min=item.utc_offset_min,
            actor_id=item.sender_id,
            text=item.text,
            raw=item.raw,
            line=item.line,
        )
        key = self._keyer.amendment(variant)
        known = conn.execute(select(t.amendments.c.id).where(t.amendments.c.dedupe == key)).first()
        return None if known is not None else (variant, key)

    def _prefetch_conversations(self, conn: Connection, items: Sequence[Keyed]) -> None:
        """Load, in a few queries, the stored conversations this batch mentions.

        Afterwards a conversation of the batch that is not cached is new: an export with
        thousands of one-to-one chats costs one query per 500 of them, not two each.
        """
        wanted = {
            (item.platform, item.conversation_id)
            for item, _ in items
            if isinstance(item, Record | Amendment)
            and (item.platform, item.conversation_id) not in self._conversations
        }
        found = self._stored_ids(conn, t.conversations, "conversation", wanted)
        self._conversations.update(found)
        self._absent = wanted - found.keys()

    def _stored_ids(
        self, conn: Connection, table: Any, kind: str, wanted: set[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """Return the ids of the stored rows of ``table`` among ``wanted`` (platform, source
        id) pairs, looked up by their keyed hash in IN queries of 500."""
        by_key = {self._vault.blinder.blind(p, kind, source): (p, source) for p, source in wanted}
        keys = list(by_key)
        found: dict[tuple[str, str], int] = {}
        for i in range(0, len(keys), _IN_CHUNK):
            rows = conn.execute(
                select(table.c.id, table.c.platform, table.c.source_key).where(
                    table.c.source_key.in_(keys[i : i + _IN_CHUNK])
                )
            )
            for row_id, platform, source_key in rows:
                ident = by_key[bytes(source_key)]
                if ident[0] == platform:
                    found[ident] = int(row_id)
        return found

    def _prefetch_participants(self, conn: Connection, items: Sequence[Keyed]) -> None:
        """Load, in a few queries, the stored participants this batch mentions."""
        wanted = {
            (item.platform, item.sender_id)
            for item, _ in items
            if isinstance(item, Record)
            and (item.platform, item.sender_id) not in self._participants
        }
        if not wanted:
            return
        found = {
            pid: ident
            for ident, pid in self._stored_ids(conn, t.participants, "participant", wanted).items()
        }
        directory = self._vault.service_cipher("directory")
        latest: dict[int, Any] = {}
        ids = list(found)
        for i in range(0, len(ids), _IN_CHUNK):
            names = conn.execute(
                select(t.participant_names)
                .where(t.participant_names.c.participant_id.in_(ids[i : i + _IN_CHUNK]))
                .order_by(t.participant_names.c.id)
            ).mappings()
            for name_row in names:
                latest[int(name_row["participant_id"])] = name_row
        for pid, ident in found.items():
            last = latest.get(pid)
            name = None if last is None else open_name(directory, last)
            self._participants[ident] = (pid, name)

    def _existing_keys(
        self, conn: Connection, keys: list[bytes]
    ) -> tuple[set[bytes], dict[bytes, Any]]:
        """Return the keys already stored, and the stored record rows among them."""
        found: set[bytes] = set()
        records: dict[bytes, Any] = {}
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        for i in range(0, len(keys), _IN_CHUNK):
            chunk = keys[i : i + _IN_CHUNK]
            marks = ", ".join([mark] * len(chunk))
            # One driver-level query for the three tables: on a fresh import it finds nothing.
            hits = conn.exec_driver_sql(
                " UNION ALL ".join(
                    f"SELECT dedupe, {n} FROM {table} WHERE dedupe IN ({marks})"
                    for n, table in enumerate(("records", "amendments", "events"))
                ),
                tuple(chunk) * 3,
            ).all()
            found.update(bytes(k) for k, _ in hits)
            stored = [bytes(k) for k, n in hits if n == 0]
            if stored:
                for row in conn.execute(
                    select(t.records).where(t.records.c.dedupe.in_(stored))
                ).mappings():
                    records[bytes(row["dedupe"])] = row
        return found, records

    def _conversation(
        self, conn: Connection, r: Record, counts: BatchCounts
    ) -> tuple[int, FieldCipher]:
        return self._conversation_by(
            conn,
            r.platform,
            r.conversation_id,
            r.conversation_name,
            r.conversation_kind.value,
            counts,
        )

    def _conversation_for_amendment(
        self, conn: Connection, a: Amendment, counts: BatchCounts
    ) -> tuple[int, FieldCipher]:
        return self._conversation_by(conn, a.platform, a.conversation_id, "", "direct", counts)

    def _conversation_by(
        self,
        conn: Connection,
        platform: str,
        source_id: str,
        name: str,
        kind: str,
        counts: BatchCounts,
    ) -> tuple[int, FieldCipher]:
        cache_key = (platform, source_id)
        conv_id = self._conversations.get(cache_key)
        if conv_id is None:
            source_key = self._vault.blinder.blind(platform, "conversation", source_id)
            found = (
                None
                if cache_key in self._absent  # the batch's prefetch found it not stored
                else conn.execute(
                    select(t.conversations.c.id).where(
                        t.conversations.c.platform == platform,
                        t.conversations.c.source_key == source_key,
                    )
                ).scalar_one_or_none()
            )
            if found is None:
                conv_id = self._next_conversation
                self._next_conversation += 1
                dek = new_key()
                version, sealed = self._vault.keyring.wrap(
                    dek, key_purpose("conversation", conv_id)
                )
                row: dict[str, Any] = {
                    "id": conv_id,
                    "platform": platform,
                    "source_key": source_key,
                    "kind": kind,
                }
                cipher = self._vault.remember_cipher(conv_id, dek)
                row.update(
                    mk_version=version,
                    dek_sealed=sealed,
                    name_enc=cipher.seal(name.encode("utf-8"), conversation_aad(row)),
                    created_ms=now_ms(),
                )
                self._new_conversations.append(row)  # inserted before the batch's records
                counts.new_conversations += 1
                if name:
                    self._titled.add(conv_id)
            else:
                conv_id = int(found)
            self._conversations[cache_key] = conv_id
        if name and conv_id not in self._titled:
            self._fill_title(conn, conv_id, name, kind)
        return conv_id, self._vault.conversation_cipher(conn, conv_id)

    def _fill_title(self, conn: Connection, conv_id: int, name: str, kind: str) -> None:
        """Give a conversation first seen through an edit or deletion its title and kind."""
        cipher = self._vault.conversation_cipher(conn, conv_id)
        pending = next((r for r in self._new_conversations if r["id"] == conv_id), None)
        if pending is not None:  # created in this batch, not inserted yet: fill in the row
            pending["kind"] = kind
            pending["name_enc"] = cipher.seal(name.encode("utf-8"), conversation_aad(pending))
            self._titled.add(conv_id)
            return
        row = (
            conn.execute(select(t.conversations).where(t.conversations.c.id == conv_id))
            .mappings()
            .one()
        )
        stored = cipher.open(
            bytes(row["name_enc"]), conversation_aad(row), f"conversation {conv_id} title"
        )
        if not stored:
            new_row = {**row, "kind": kind}
            conn.execute(
                update(t.conversations)
                .where(t.conversations.c.id == conv_id)
                .values(
                    kind=kind, name_enc=cipher.seal(name.encode("utf-8"), conversation_aad(new_row))
                )
            )
        self._titled.add(conv_id)

    def _participant(
        self,
        conn: Connection,
        platform: str,
        source_id: str,
        name: str,
        seen_ms: int,
        counts: BatchCounts,
    ) -> int:
        cache_key = (platform, source_id)
        cached = self._participants.get(cache_key)
        directory = self._vault.service_cipher("directory")
        if cached is None:
            source_key = self._vault.blinder.blind(platform, "participant", source_id)
            pid = self._next_participant
            self._next_participant += 1
            self._new_participants.append(
                {"id": pid, "platform": platform, "source_key": source_key, "created_ms": now_ms()}
            )
            counts.new_participants += 1
            cached = (pid, None)
        pid, last = cached
        if name and name != last:
            row: dict[str, Any] = {
                "id": self._next_name,
                "participant_id": pid,
                "seen_ms": seen_ms,
            }
            self._next_name += 1
            row["name_enc"] = directory.seal(name.encode("utf-8"), participant_name_aad(row))
            self._new_names.append(row)
            last = name
        self._participants[cache_key] = (pid, last)
        return pid

    def _attachment(
        self, conn: Connection, a: Attachment, r: Record, counts: BatchCounts
    ) -> Attachment:
        if not a.included or a.path is None:
            return Attachment(a.name, a.mime, a.path, included=False)
        stream = self._source.attachment(a.path)
        if stream is None:
            raise BadInputError(
                [InputProblem(str(self._source.path), r.line, f"attachment {a.path!r} is missing")]
            )
        with stream:
            digest = digest_stream(stream)

        def reopen() -> Any:
            again = self._source.attachment(a.path or "")
            assert again is not None
            return again

        blob_id = put_blob(self._vault, conn, digest, reopen)
        name = conn.execute(select(t.blobs.c.name).where(t.blobs.c.id == blob_id)).scalar_one()
        counts.attachments += 1
        return Attachment(a.name, a.mime, a.path, True, digest.size, digest.sha256, str(name))


def open_name(directory: FieldCipher, row: Any) -> str:
    """Decrypt one participant_names row."""
    what = f"participant name {row['id']}"
    return directory.open(bytes(row["name_enc"]), participant_name_aad(row), what).decode("utf-8")


def latest_name(conn: Connection, directory: FieldCipher, participant_id: int) -> str | None:
    """Return a participant's most recent display name."""
    row = (
        conn.execute(
            select(t.participant_names)
            .where(t.participant_names.c.participant_id == participant_id)
            .order_by(t.participant_names.c.id.desc())
            .limit(1)
        )
        .mappings()
        .one_or_none()
    )
    return None if row is None else open_name(directory, row)


__all__ = ["BatchCounts", "BatchWriter", "latest_name", "open_name", "record_fields"]
