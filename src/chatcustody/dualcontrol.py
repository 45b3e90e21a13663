"""Dual control (操作人 + 监控人): sensitive actions wait for a second person.

Key rotation, role elevation, user deletion, legal-hold release, crypto-shredding and
evidence release are first *requested*; they run only when a second, different user who is
authorised for the same action confirms with a fresh TOTP code before the request expires
(``dual_control_minutes``). Both see the pending action. Every request, confirmation,
refusal and expiry is an audit event; the parameters are sealed with the access key.

States: pending → executed | failed | rejected | withdrawn | expired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, insert, select, update

from chatcustody._env import now_ms
from chatcustody.access import (
    DUAL_CONTROL,
    Action,
    Actor,
    Resource,
    Role,
    Tier,
    decide,
    decision_details,
    enforce,
    open_value,
    seal_value,
)
from chatcustody.audit import append_audit, record_audit
from chatcustody.errors import (
    AccessDeniedError,
    AuthenticationError,
    ChatCustodyError,
    ConflictError,
    NotAvailableError,
    NotFoundError,
    UsageError,
)
from chatcustody.identity import (
    delete_user,
    set_roles,
    set_supervisor,
    user_exists,
    verify_otp,
)
from chatcustody.store import schema as t
from chatcustody.vault import Vault, next_id

PENDING: Final[str] = "pending"
_MS_PER_MINUTE: Final[int] = 60_000

Executor = Callable[[Vault, Actor, Mapping[str, Any]], dict[str, Any]]


def _rotate(vault: Vault, actor: Actor, params: Mapping[str, Any]) -> dict[str, Any]:
    from chatcustody.keys import rotate

    return rotate(vault, bool(params.get("reencrypt", False)), actor.name).to_json()


def _elevate(vault: Vault, actor: Actor, params: Mapping[str, Any]) -> dict[str, Any]:
    role = Role(params["role"]) if params.get("role") else None
    tiers = [Tier(x) for x in params.get("tiers", [])]
    set_roles(vault, actor, params["user"], role, tiers)
    return {"user": params["user"], "role": params.get("role"), "tiers": params.get("tiers", [])}


def _delete(vault: Vault, actor: Actor, params: Mapping[str, Any]) -> dict[str, Any]:
    delete_user(vault, actor, params["user"])
    return {"user": params["user"], "status": "deleted"}


def _release_hold(vault: Vault, actor: Actor, params: Mapping[str, Any]) -> dict[str, Any]:
    from chatcustody.holds import release_hold

    return release_hold(vault, actor, params)


def _shred(vault: Vault, actor: Actor, params: Mapping[str, Any]) -> dict[str, Any]:
    from chatcustody.shred import shred_conversation

    return shred_conversation(vault, params, actor.name).to_json()


def _supervise(vault: Vault, actor: Actor, params: Mapping[str, Any]) -> dict[str, Any]:
    return dict(set_supervisor(vault, actor, params["user"], params.get("supervisor")))


#: What each action does once confirmed. Evidence release is not here: it is the release
#: step of a retrieval request, itself the two-person control (the requester asked for the
#: export; a legal-role user other than them releases it with TOTP, ``requests.release``).
#: Executors also receive ``_approval`` (the pending action's id) and ``_requested_by``.
EXECUTORS: Final[dict[Action, Executor]] = {
    Action.KEYS_ROTATE: _rotate,
    Action.ROLE_ELEVATE: _elevate,
    Action.USER_DELETE: _delete,
    Action.HOLD_RELEASE: _release_hold,
    Action.CRYPTO_SHRED: _shred,
    Action.SUPERVISOR_SET: _supervise,
}


def _check_params(vault: Vault, action: Action, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise an action's parameters before anyone is asked to confirm."""
    try:
        if action is Action.KEYS_ROTATE:
            return {"reencrypt": bool(params.get("reencrypt", False))}
        if action is Action.HOLD_RELEASE:
            from chatcustody.holds import check_release

            return check_release(vault, params)
        if action is Action.CRYPTO_SHRED:
            from chatcustody.shred import check_shred

            return check_shred(vault, params)
        user = str(params["user"])
        if not user_exists(vault, user):
            raise NotFoundError(f"user {user!r} not found")
        if action is Action.USER_DELETE:
            return {"user": user}
        if action is Action.SUPERVISOR_SET:
            boss = params.get("supervisor")
            if boss is not None and not user_exists(vault, str(boss)):
                raise NotFoundError(f"user {boss!r} not found")
            return {"user": user, "supervisor": None if boss is None else str(boss)}
        role = Role(params["role"]).value if params.get("role") else None
        tiers = sorted(Tier(x).value for x in params.get("tiers", []))
        if role is None and not tiers:
            raise UsageError("role elevation needs a role or a tier")
        return {"user": user, "role": role, "tiers": tiers}
    except (KeyError, ValueError, TypeError) as exc:
        raise UsageError(f"bad parameters for {action.value}: {exc}") from None


@dataclass(frozen=True)
class PendingAction:
    """A dual-control action and where it stands."""

    id: int
    action: Action
    status: str
    requested_by: str
    requested_ms: int
    expires_ms: int
    decided_by: str | None
    decided_ms: int | None
    params: dict[str, Any]
    result: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "id": self.id,
            "action": self.action.value,
            "status": self.status,
            "requested_by": self.requested_by,
            "requested_ms": self.requested_ms,
            "expires_ms": self.expires_ms,
            "decided_by": self.decided_by,
            "decided_ms": self.decided_ms,
            "params": self.params,
            "result": self.result,
        }


def _aad(row: Mapping[Any, Any], column: str) -> bytes:
    return (
        f"pending_actions|{row['id']}|{row['action']}|{row['requested_by']}|"
        f"{row['requested_ms']}|{column}"
    ).encode()


def _load(vault: Vault, row: Mapping[Any, Any]) -> PendingAction:
    what = f"pending action {row['id']}"
    params = open_value(vault, _aad(row, "params"), row["params_enc"], what)
    result = (
        None
        if row["result_enc"] is None
        else open_value(vault, _aad(row, "result"), row["result_enc"], what)
    )
    return PendingAction(
        int(row["id"]),
        Action(row["action"]),
        str(row["status"]),
        str(row["requested_by"]),
        int(row["requested_ms"]),
        int(row["expires_ms"]),
        row["decided_by"],
        row["decided_ms"],
        dict(params),
        result,
    )


def _row(conn: Connection, action_id: int) -> Mapping[Any, Any]:
    row = (
        conn.execute(select(t.pending_actions).where(t.pending_actions.c.id == action_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"pending action {action_id} not found")
    return row


def request_action(
    vault: Vault, actor: Actor, action: Action, params: Mapping[str, Any]
) -> PendingAction:
    """Ask for a dual-control action; it waits for a second person's confirmation."""
    if action not in DUAL_CONTROL:
        raise UsageError(f"{action.value} is not a dual-control action")
    if action is Action.EVIDENCE_RELEASE:
        raise UsageError(
            "evidence is released by the 'release' step of its retrieval request "
            "(chatcustody request release ID, POST /api/v1/requests/{id}/release)"
        )
    if action not in EXECUTORS:
        raise NotAvailableError(f"{action.value} is not available in this build yet")
    decision = enforce(vault, actor, action, Resource("approval"))
    clean = _check_params(vault, action, params)
    at = now_ms()
    with vault.begin() as conn:
        row: dict[str, Any] = {
            "id": next_id(conn, t.pending_actions),
            "action": action.value,
            "status": PENDING,
            "requested_by": actor.name,
            "requested_ms": at,
            "expires_ms": at + vault.settings.dual_control_minutes * _MS_PER_MINUTE,
            "decided_by": None,
            "decided_ms": None,
            "result_enc": None,
        }
        row["params_enc"] = seal_value(vault, _aad(row, "params"), clean)
        conn.execute(insert(t.pending_actions).values(row))
        writer = vault.ledger_writer(conn)
        append_audit(
            vault,
            conn,
            writer,
            "approval.request",
            decision_details(actor, decision, approval=row["id"], requested=action.value, **clean),
            actor.name,
        )
        writer.commit_head(now_ms())
    return _load(vault, row)


def _settle(
    vault: Vault, action_id: int, status: str, actor: Actor, result: dict[str, Any] | None
) -> None:
    with vault.begin() as conn:
        row = _row(conn, action_id)
        values: dict[str, Any] = {"status": status}
        if status != "expired":
            values.update(decided_by=actor.name, decided_ms=now_ms())
        if result is not None:
            values["result_enc"] = seal_value(vault, _aad(row, "result"), result)
        conn.execute(
            update(t.pending_actions).where(t.pending_actions.c.id == action_id).values(values)
        )


def _claim(vault: Vault, action_id: int, actor: Actor) -> bool:
    """Move the action from pending to running for ``actor``; False when someone else did."""
    with vault.begin() as conn:
        done = conn.execute(
            update(t.pending_actions)
            .where(t.pending_actions.c.id == action_id, t.pending_actions.c.status == PENDING)
            .values(status="running", decided_by=actor.name, decided_ms=now_ms())
        )
        return done.rowcount == 1


def _refuse(vault: Vault, actor: Actor, pending: PendingAction, reason: str) -> None:
    record_audit(
        vault,
        "access.denied",
        {
            "action": "approval.confirm",
            "approval": pending.id,
            "requested": pending.action.value,
            "decision": {"allowed": False, "reason": reason, "rule": "dual_control"},
        },
        actor.name,
    )


def confirm_action(
    vault: Vault, actor: Actor, action_id: int, otp: str, at_ms: int | None = None
) -> PendingAction:
    """Confirm and run a pending action: a different, authorised user with a fresh TOTP."""
    at = now_ms() if at_ms is None else at_ms
    with vault.engine.connect() as conn:
        pending = _load(vault, _row(conn, action_id))
    if pending.status != PENDING:
        raise ConflictError(f"pending action {action_id} is already {pending.status}")
    if at >= pending.expires_ms:
        _settle(vault, action_id, "expired", actor, None)
        record_audit(vault, "approval.expired", {"approval": action_id}, actor.name)
        raise ConflictError(f"pending action {action_id} expired unconfirmed")
    if actor.name == pending.requested_by:
        reason = "the requester cannot confirm their own action: a second person must"
        _refuse(vault, actor, pending, reason)
        raise AccessDeniedError(reason)
    decision = enforce(
        vault, actor, pending.action, Resource("approval", action_id), approval=action_id
    )
    if not verify_otp(vault, actor, otp, at):
        _refuse(vault, actor, pending, "wrong or reused TOTP code")
        raise AuthenticationError("wrong or reused TOTP code")
    if not _claim(vault, action_id, actor):
        raise ConflictError(f"pending action {action_id} was decided by someone else")
    record_audit(
        vault,
        "approval.confirm",
        decision_details(
            actor,
            decision,
            approval=action_id,
            requested=pending.action.value,
            requested_by=pending.requested_by,
        ),
        actor.name,
    )
    try:
        context = {"_approval": action_id, "_requested_by": pending.requested_by}
        result = EXECUTORS[pending.action](vault, actor, {**pending.params, **context})
    except ChatCustodyError as exc:
        _settle(vault, action_id, "failed", actor, {"error": str(exc)})
        record_audit(
            vault, "approval.failed", {"approval": action_id, "error": str(exc)}, actor.name
        )
        raise
    _settle(vault, action_id, "executed", actor, result)
    with vault.engine.connect() as conn:
        return _load(vault, _row(conn, action_id))


def reject_action(vault: Vault, actor: Actor, action_id: int) -> PendingAction:
    """Withdraw one's own request, or reject another's (authorised users)."""
    with vault.engine.connect() as conn:
        pending = _load(vault, _row(conn, action_id))
    if pending.status != PENDING:
        raise ConflictError(f"pending action {action_id} is already {pending.status}")
    own = actor.name == pending.requested_by
    if not own:
        enforce(vault, actor, pending.action, Resource("approval", action_id))
    status = "withdrawn" if own else "rejected"
    with vault.begin() as conn:
        done = conn.execute(
            update(t.pending_actions)
            .where(t.pending_actions.c.id == action_id, t.pending_actions.c.status == PENDING)
            .values(status=status, decided_by=actor.name, decided_ms=now_ms())
        )
        if done.rowcount != 1:
            raise ConflictError(f"pending action {action_id} was decided by someone else")
        writer = vault.ledger_writer(conn)
        append_audit(vault, conn, writer, f"approval.{status}", {"approval": action_id}, actor.name)
        writer.commit_head(now_ms())
    with vault.engine.connect() as conn:
        return _load(vault, _row(conn, action_id))


def list_actions(vault: Vault, actor: Actor, pending_only: bool = False) -> list[PendingAction]:
    """Return the actions the actor requested or may confirm (both sides see them)."""
    query = select(t.pending_actions).order_by(t.pending_actions.c.id.desc())
    if pending_only:
        query = query.where(t.pending_actions.c.status == PENDING)
    with vault.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        out = []
        for row in rows:
            action = Action(row["action"])
            if (
                row["requested_by"] == actor.name
                or decide(actor, action, Resource("approval", int(row["id"]))).allowed
            ):
                out.append(_load(vault, row))
    return out
