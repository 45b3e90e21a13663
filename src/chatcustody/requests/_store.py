"""Requests in the database: sealed forms, MAC-covered granting columns, history rows.

``body_enc`` seals ``{"form": …, "frozen": …, "terms": …}`` with the access key, bound to
the request's id, requester and creation time (``terms``: the release terms legal fixed,
absent before release and in requests released before terms existed); the row MAC covers
id, requester, status, approver, expiry, creation time and the SHA-256 of ``body_enc``.
Reasons in the history and the names of attachments are sealed likewise. A status changes
only by a conditional UPDATE from the state it was read in, so two people racing on one
request cannot both win.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update

from chatcustody.access import check_mac, open_value, row_mac, seal_value
from chatcustody.errors import ConflictError, NotFoundError
from chatcustody.requests._model import (
    Attachment,
    AttachmentKind,
    Form,
    FrozenScope,
    HistoryEntry,
    ReleaseTerms,
    RetrievalRequest,
    Status,
)
from chatcustody.store import schema as t
from chatcustody.vault import Vault, next_id


def _body_aad(row: Mapping[Any, Any]) -> bytes:
    return f"requests|{row['id']}|{row['requester_id']}|{row['created_ms']}|body".encode()


def _mac_parts(row: Mapping[Any, Any]) -> tuple[object, ...]:
    return (
        row["id"],
        row["requester_id"],
        row["status"],
        row["approver_id"],
        row["expires_ms"],
        row["created_ms"],
        hashlib.sha256(bytes(row["body_enc"])).hexdigest(),
    )


def seal_body(
    vault: Vault,
    row: dict[str, Any],
    form: Form,
    frozen: FrozenScope | None,
    terms: ReleaseTerms | None = None,
) -> None:
    """Seal the form, frozen scope and release terms into ``row['body_enc']``; renew the MAC."""
    body: dict[str, Any] = {
        "form": form.to_json(),
        "frozen": None if frozen is None else frozen.to_json(True),
    }
    if terms is not None:
        body["terms"] = terms.to_json()
    row["body_enc"] = seal_value(vault, _body_aad(row), body)
    renew_mac(vault, row)


def renew_mac(vault: Vault, row: dict[str, Any]) -> None:
    """Set the row MAC from its granting columns."""
    row["mac"] = row_mac(vault, "requests", *_mac_parts(row))


def insert_request(vault: Vault, conn: Connection, row: dict[str, Any]) -> None:
    """Insert a new request row (MAC set by ``seal_body``)."""
    conn.execute(insert(t.requests).values(row))


def request_row(vault: Vault, conn: Connection, request_id: int) -> dict[str, Any]:
    """Return a request's row with its MAC checked, or raise NotFoundError."""
    row = conn.execute(select(t.requests).where(t.requests.c.id == request_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"retrieval request {request_id} not found")
    check_mac(vault, row["mac"], "requests", *_mac_parts(row))
    return dict(row)


def _open(vault: Vault, row: Mapping[str, Any]) -> dict[str, Any]:
    body = open_value(vault, _body_aad(row), row["body_enc"], f"retrieval request {row['id']}")
    return dict(body)


def open_body(vault: Vault, row: Mapping[str, Any]) -> tuple[Form, FrozenScope | None]:
    """Return the form and frozen scope sealed in a request row."""
    body = _open(vault, row)
    frozen = body.get("frozen")
    return Form.from_json(body["form"]), None if frozen is None else FrozenScope.from_json(frozen)


def open_terms(vault: Vault, row: Mapping[str, Any]) -> ReleaseTerms | None:
    """Return the release terms sealed in a request row (None before release or if older)."""
    terms = _open(vault, row).get("terms")
    return None if terms is None else ReleaseTerms.from_json(terms)


def move(
    vault: Vault, conn: Connection, row: dict[str, Any], to: Status, **changes: Any
) -> dict[str, Any]:
    """Move a request from the state it was read in to ``to`` (with column changes)."""
    before = row["status"]
    new = {**row, **changes, "status": to.value}
    renew_mac(vault, new)
    values = {k: new[k] for k in ("status", "updated_ms", "approver_id", "expires_ms", "mac")}
    if "body_enc" in changes:
        values["body_enc"] = new["body_enc"]
    done = conn.execute(
        update(t.requests)
        .where(t.requests.c.id == row["id"], t.requests.c.status == before)
        .values(values)
    )
    if done.rowcount != 1:
        raise ConflictError(f"retrieval request {row['id']} changed meanwhile: look again")
    return new


def _part_aad(table: str, row_id: int, request_id: int, column: str) -> bytes:
    """Bind a sealed column of a request's history or attachment row to that row."""
    return f"{table}|{row_id}|{request_id}|{column}".encode()


def _open_part(
    vault: Vault, table: Table, r: Mapping[Any, Any], request_id: int, column: str, what: str
) -> str:
    """Open ``<column>_enc`` of a request's history or attachment row ``r``."""
    aad = _part_aad(table.name, int(r["id"]), request_id, column)
    return str(open_value(vault, aad, r[f"{column}_enc"], f"retrieval request {request_id} {what}"))


def _insert_part(
    vault: Vault,
    conn: Connection,
    table: Table,
    request_id: int,
    column: str,
    secret: str | None,
    **values: Any,
) -> int:
    """Insert a history or attachment row of a request, ``secret`` sealed into ``<column>_enc``."""
    row_id = next_id(conn, table)
    sealed = (
        None
        if secret is None
        else seal_value(vault, _part_aad(table.name, row_id, request_id, column), secret)
    )
    conn.execute(
        insert(table).values(
            id=row_id, request_id=request_id, **{f"{column}_enc": sealed}, **values
        )
    )
    return row_id


def add_event(
    vault: Vault,
    conn: Connection,
    request_id: int,
    transition: str,
    actor: str,
    at_ms: int,
    before: str | None,
    after: str,
    reason: str | None,
) -> None:
    """Append one history row (the reason sealed)."""
    _insert_part(
        vault,
        conn,
        t.request_events,
        request_id,
        "note",
        reason,
        ts_ms=at_ms,
        actor=actor,
        transition=transition,
        from_status=before,
        to_status=after,
    )


def history(vault: Vault, conn: Connection, request_id: int) -> tuple[HistoryEntry, ...]:
    """Return a request's history in order."""
    e = t.request_events
    rows = conn.execute(select(e).where(e.c.request_id == request_id).order_by(e.c.id)).mappings()
    return tuple(
        HistoryEntry(
            str(r["transition"]),
            str(r["actor"]),
            int(r["ts_ms"]),
            None if r["from_status"] is None else Status(r["from_status"]),
            Status(r["to_status"]),
            None
            if r["note_enc"] is None
            else _open_part(vault, e, r, request_id, "note", "history"),
        )
        for r in rows
    )


def add_attachment_row(
    vault: Vault,
    conn: Connection,
    request_id: int,
    source_id: int,
    kind: AttachmentKind,
    name: str,
    actor: str,
    at_ms: int,
) -> int:
    """Link an acquired original to a request; return the attachment id."""
    return _insert_part(
        vault,
        conn,
        t.request_attachments,
        request_id,
        "name",
        name,
        source_id=source_id,
        kind=kind.value,
        added_by=actor,
        added_ms=at_ms,
    )


def attachments(vault: Vault, conn: Connection, request_id: int) -> tuple[Attachment, ...]:
    """Return a request's attachments with the digests of their acquired originals."""
    a, s = t.request_attachments, t.sources
    rows = conn.execute(
        select(a, s.c.sha256, s.c.sm3, s.c.size)
        .join(s, s.c.id == a.c.source_id)
        .where(a.c.request_id == request_id)
        .order_by(a.c.id)
    ).mappings()
    return tuple(
        Attachment(
            int(r["id"]),
            AttachmentKind(r["kind"]),
            _open_part(vault, a, r, request_id, "name", "attachment"),
            int(r["source_id"]),
            str(r["sha256"]),
            str(r["sm3"]),
            int(r["size"]),
            str(r["added_by"]),
            int(r["added_ms"]),
        )
        for r in rows
    )


def usernames(conn: Connection, ids: set[int]) -> dict[int, str]:
    """Return usernames by id."""
    if not ids:
        return {}
    rows = conn.execute(select(t.users.c.id, t.users.c.username).where(t.users.c.id.in_(ids)))
    return {int(i): str(n) for i, n in rows}


def load(vault: Vault, conn: Connection, row: Mapping[str, Any]) -> RetrievalRequest:
    """Return the full request (form, scope, history, attachments) of a checked row."""
    form, frozen = open_body(vault, row)
    rid = int(row["id"])
    names = usernames(
        conn,
        {int(row["requester_id"])} | ({int(row["approver_id"])} if row["approver_id"] else set()),
    )
    approver_id = None if row["approver_id"] is None else int(row["approver_id"])
    return RetrievalRequest(
        id=rid,
        requester=names[int(row["requester_id"])],
        requester_id=int(row["requester_id"]),
        status=Status(row["status"]),
        form=form,
        scope=frozen,
        approver=None if approver_id is None else names[approver_id],
        approver_id=approver_id,
        expires_ms=None if row["expires_ms"] is None else int(row["expires_ms"]),
        created_ms=int(row["created_ms"]),
        updated_ms=int(row["updated_ms"]),
        history=history(vault, conn, rid),
        attachments=attachments(vault, conn, rid),
        terms=open_terms(vault, row),
    )
