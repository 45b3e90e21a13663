"""Who sees a request, the expiry sweep, the inbox, decide()'s grant and the export hooks.

A request is visible to its requester, their current direct supervisor, legal-role users
and the local admin (the passphrase holder); to anyone else it does not exist (404, the
refusal audited). Expiry is applied lazily: every read or move first marks the requests
whose approval ran out by the actor's instant as expired (``request.expire``). Views,
lists and the inbox ask decide() first (``request.view``: token scopes, active account)
and are audited with the request ids; the export is decide()'s ``record.export`` under
the request.
"""

from __future__ import annotations

from typing import Any, Final, NoReturn

from sqlalchemy import Connection, select

from chatcustody.access import (
    Action,
    Actor,
    Decision,
    RequestGrant,
    Resource,
    Role,
    Scope,
    decision_details,
    enforce,
)
from chatcustody.audit import append_audit, record_audit
from chatcustody.errors import AccessDeniedError, ConflictError, NotFoundError
from chatcustody.identity import supervised_ids, supervisor_id
from chatcustody.model import iso
from chatcustody.requests import _store as store
from chatcustody.requests._model import LIVE, Output, RetrievalRequest, Status
from chatcustody.store import schema as t
from chatcustody.vault import Vault

EXPIRY_ACTOR: Final[str] = "system:expiry"


def _audit_refusal(vault: Vault, actor: Actor, what: str, request_id: int, reason: str) -> None:
    record_audit(
        vault,
        "access.denied",
        {
            "action": f"request.{what}",
            "request": request_id,
            "decision": {"allowed": False, "reason": reason, "rule": "request"},
            **({"session": actor.session} if actor.session else {}),
        },
        actor.name,
    )


def _deny(vault: Vault, actor: Actor, what: str, request_id: int, reason: str) -> NoReturn:
    """Audit the refusal (``access.denied`` with the request id) and raise AccessDeniedError."""
    _audit_refusal(vault, actor, what, request_id, reason)
    raise AccessDeniedError(reason)


def _conflict(vault: Vault, actor: Actor, what: str, request_id: int, reason: str) -> NoReturn:
    """Audit a move the request's state does not allow, and raise ConflictError."""
    _audit_refusal(vault, actor, what, request_id, reason)
    raise ConflictError(reason)


def expire_due(vault: Vault, at_ms: int) -> list[int]:
    """Mark every request whose approval ran out by ``at_ms`` expired; return their ids."""
    r = t.requests
    with vault.engine.connect() as conn:
        due = [
            int(i)
            for (i,) in conn.execute(
                select(r.c.id).where(
                    r.c.status.in_([s.value for s in LIVE]),
                    r.c.expires_ms.is_not(None),
                    r.c.expires_ms <= at_ms,
                )
            )
        ]
    done = []
    for rid in due:
        with vault.begin() as conn:
            row = store.request_row(vault, conn, rid)
            if Status(row["status"]) not in LIVE:
                continue
            before = row["status"]
            store.move(vault, conn, row, Status.EXPIRED, updated_ms=at_ms)
            store.add_event(
                vault, conn, rid, "expire", EXPIRY_ACTOR, at_ms, before, "expired", None
            )
            writer = vault.ledger_writer(conn)
            append_audit(
                vault,
                conn,
                writer,
                "request.expire",
                {"request": rid, "from": before, "to": "expired", "expired_ms": row["expires_ms"]},
                EXPIRY_ACTOR,
            )
            writer.commit_head(at_ms)
        done.append(rid)
    return done


def _may_see(vault: Vault, conn: Connection, actor: Actor, row: dict[str, Any]) -> bool:
    if actor.local or actor.role is Role.LEGAL:
        return True
    if actor.user_id is None:
        return False
    requester = int(row["requester_id"])
    return actor.user_id == requester or supervisor_id(vault, conn, requester) == actor.user_id


def _visible(
    vault: Vault,
    conn: Connection,
    actor: Actor,
    what: str,
    request_id: int,
    row: dict[str, Any] | None,
) -> None:
    """Raise NotFoundError (auditing the denial) unless the actor may see the request."""
    if row is not None and _may_see(vault, conn, actor, row):
        return
    if row is not None:
        record_audit(
            vault,
            "access.denied",
            {
                "action": f"request.{what}",
                "request": request_id,
                "decision": {
                    "allowed": False,
                    "reason": f"{actor.name} is neither the requester, their supervisor nor legal",
                    "rule": "request",
                },
            },
            actor.name,
        )
    raise NotFoundError(f"retrieval request {request_id} not found")


def visible_request(vault: Vault, actor: Actor, what: str, request_id: int) -> RetrievalRequest:
    """Return a request the actor may see (expiries applied), unaudited; refusals audited.

    For the services' own use after their decision; readers call ``get_request``.
    """
    expire_due(vault, actor.at_ms)
    with vault.engine.connect() as conn:
        try:
            row = store.request_row(vault, conn, request_id)
        except NotFoundError:
            row = None
        _visible(vault, conn, actor, what, request_id, row)
        assert row is not None
        return store.load(vault, conn, row)


def _view_decision(vault: Vault, actor: Actor, **details: Any) -> Decision:
    """Return decide()'s leave to view requests (token scope, active account), or raise."""
    return enforce(vault, actor, Action.REQUEST_VIEW, Resource("request"), **details)


def get_request(vault: Vault, actor: Actor, request_id: int) -> RetrievalRequest:
    """Return a request its requester, their supervisor, legal or the local admin may see.

    The view is audited (``request.view`` with the request id): the form reveals the case,
    the reason and the keywords.
    """
    decision = _view_decision(vault, actor, request=request_id)
    request = visible_request(vault, actor, "view", request_id)
    record_audit(
        vault,
        Action.REQUEST_VIEW.value,
        decision_details(actor, decision, request=request_id, status=request.status.value),
        actor.name,
    )
    return request


def list_requests(
    vault: Vault, actor: Actor, status: Status | None = None
) -> list[RetrievalRequest]:
    """Return the requests the actor may see (newest first), optionally in one state.

    One audit event (``request.list``) names every request returned.
    """
    decision = _view_decision(vault, actor)
    found = _list_visible(vault, actor, status)
    record_audit(
        vault,
        "request.list",
        decision_details(
            actor,
            decision,
            status=None if status is None else status.value,
            requests=[r.id for r in found],
        ),
        actor.name,
    )
    return found


def _list_visible(vault: Vault, actor: Actor, status: Status | None) -> list[RetrievalRequest]:
    expire_due(vault, actor.at_ms)
    r = t.requests
    query = select(r).order_by(r.c.id.desc())
    if status is not None:
        query = query.where(r.c.status == status.value)
    with vault.engine.connect() as conn:
        if not (actor.local or actor.role is Role.LEGAL):
            if actor.user_id is None:
                return []
            mine = {actor.user_id} | supervised_ids(vault, conn, actor.user_id)
            query = query.where(r.c.requester_id.in_(sorted(mine)))
        out = []
        for row in conn.execute(query).mappings():
            checked = store.request_row(vault, conn, int(row["id"]))
            out.append(store.load(vault, conn, checked))
        return out


def _summary(request: RetrievalRequest) -> dict[str, Any]:
    last = request.history[-1].to_json() if request.history else None
    return {
        "id": request.id,
        "requester": request.requester,
        "status": request.status.value,
        "case_ref": request.form.case_ref,
        "expires": None if request.expires_ms is None else iso(request.expires_ms, 0),
        "updated": iso(request.updated_ms, 0),
        "last": last,
    }


def inbox(vault: Vault, actor: Actor) -> dict[str, Any]:
    """Return what waits for the actor (approvals, legal reviews) and their own requests.

    One audit event (``request.inbox``) names every request shown.
    """
    decision = _view_decision(vault, actor, inbox=True)
    visible = _list_visible(vault, actor, None)
    uid = actor.user_id
    with vault.engine.connect() as conn:
        supervised = supervised_ids(vault, conn, uid) if uid is not None else set()
    to_approve = [
        _summary(x)
        for x in visible
        if x.status is Status.SUBMITTED and x.requester_id in supervised
    ]
    legal = actor.role is Role.LEGAL
    to_review = [
        _summary(x)
        for x in visible
        if legal
        and x.requester_id != uid
        and x.status in (Status.EXPORT_REQUESTED, Status.LEGAL_REVIEW)
    ]
    mine = [_summary(x) for x in visible if x.requester_id == uid]
    shown = sorted({x["id"] for x in (*to_approve, *to_review, *mine)})
    record_audit(
        vault, "request.inbox", decision_details(actor, decision, requests=shown), actor.name
    )
    return {"to_approve": to_approve, "to_review": to_review, "mine": mine}


def load_grant(vault: Vault, request_id: int) -> RequestGrant | None:
    """Return the facts decide() needs about a request, or None when there is none."""
    with vault.engine.connect() as conn:
        try:
            row = store.request_row(vault, conn, request_id)
        except NotFoundError:
            return None
        request = store.load(vault, conn, row)
    scope = request.access_scope() or Scope(frozenset(), None, None, f"request:{request_id}")
    return RequestGrant(
        id=request.id,
        requester_id=request.requester_id,
        requester=request.requester,
        status=request.status.value,
        expires_ms=request.expires_ms,
        scope=scope,
        package=bool(request.outputs - {Output.VIEW_ONLY}),
    )


def _exportable(vault: Vault, actor: Actor, request_id: int) -> tuple[RetrievalRequest, Decision]:
    request = visible_request(vault, actor, "export", request_id)
    resource = Resource(
        "request", request_id, request_id=request_id, request=load_grant(vault, request_id)
    )
    decision = enforce(vault, actor, Action.EXPORT, resource, request=request_id)
    return request, decision


def require_exportable(vault: Vault, actor: Actor, request_id: int) -> RetrievalRequest:
    """Return a released, unexpired request the actor may export, or raise saying why.

    decide() rules (``Action.EXPORT`` under the request): the token's scopes, an active
    account, the requester or legal, a package output, released and unexpired; every
    refusal is audited (``access.denied`` with the request id) and raises
    AccessDeniedError; a request the actor may not see is not found.
    """
    return _exportable(vault, actor, request_id)[0]


def mark_exported(
    vault: Vault, actor: Actor, request_id: int, details: dict[str, Any]
) -> RetrievalRequest:
    """Record that a released request was exported (history and audit ``request.exported``)."""
    request, decision = _exportable(vault, actor, request_id)
    at = actor.at_ms
    status = request.status.value
    with vault.begin() as conn:
        store.add_event(vault, conn, request_id, "export", actor.name, at, status, status, None)
        writer = vault.ledger_writer(conn)
        append_audit(
            vault,
            conn,
            writer,
            "request.exported",
            decision_details(actor, decision, request=request_id, **details),
            actor.name,
        )
        writer.commit_head(at)
    return visible_request(vault, actor, "export", request_id)
