"""Legal holds (诉讼保全): a conversation under hold cannot be crypto-shredded.

Who: placing and releasing a hold is the role table's "releases" duty, so it is ruled by
``Action.HOLD_RELEASE`` — the legal role holds it; admins (who may request a crypto-shred)
and auditors may list holds but not place them. Placing is immediate (it only protects);
releasing is dual control: one authorised user requests it (``dualcontrol.request_action``
with ``{"hold": ID}``) and a second, different one confirms with TOTP.

A hold covers one whole conversation (every record in it, past and future). Its reason and
case reference are sealed with the ``access`` key; placing, listing and releasing are audit
events. Holds are never deleted: a released hold keeps who released it and when.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, insert, select, update

from chatcustody._env import now_ms
from chatcustody.access import (
    Action,
    Actor,
    Resource,
    decide,
    decision_details,
    enforce,
    open_value,
    seal_value,
)
from chatcustody.audit import append_audit, record_audit
from chatcustody.errors import ConflictError, NotFoundError, UsageError
from chatcustody.store import schema as t
from chatcustody.vault import Vault, next_id

MAX_TEXT: Final[int] = 2000
#: Actions whose holders may see the list of holds (release, shred, audit).
_LISTERS: Final[tuple[Action, ...]] = (Action.HOLD_RELEASE, Action.CRYPTO_SHRED, Action.READ_AUDIT)


@dataclass(frozen=True)
class Hold:
    """One legal hold and where it stands."""

    id: int
    conversation_id: int
    reason: str
    case: str
    placed_by: str
    placed_ms: int
    released_by: str | None
    released_ms: int | None

    @property
    def active(self) -> bool:
        """Return True while the hold is in force."""
        return self.released_ms is None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (CLI ``--json`` and API)."""
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "reason": self.reason,
            "case": self.case,
            "placed_by": self.placed_by,
            "placed_ms": self.placed_ms,
            "active": self.active,
            "released_by": self.released_by,
            "released_ms": self.released_ms,
        }


def _aad(hold_id: int, conversation_id: int, placed_by: str, placed_ms: int) -> bytes:
    return f"legal_holds|{hold_id}|{conversation_id}|{placed_by}|{placed_ms}|details".encode()


def _load(vault: Vault, row: Mapping[Any, Any]) -> Hold:
    aad = _aad(int(row["id"]), int(row["conversation_id"]), row["placed_by"], row["placed_ms"])
    details = open_value(vault, aad, row["details_enc"], f"legal hold {row['id']}")
    return Hold(
        int(row["id"]),
        int(row["conversation_id"]),
        str(details["reason"]),
        str(details["case"]),
        str(row["placed_by"]),
        int(row["placed_ms"]),
        row["released_by"],
        None if row["released_ms"] is None else int(row["released_ms"]),
    )


def _text(value: str, what: str) -> str:
    clean = value.strip()
    if not clean:
        raise UsageError(f"a legal hold needs a {what}")
    if len(clean) > MAX_TEXT:
        raise UsageError(f"the hold's {what} is longer than {MAX_TEXT} characters")
    return clean


def lock_conversation(conn: Connection, conversation_id: int) -> None:
    """Check the conversation exists and lock its row until the transaction ends.

    Placing a hold and shredding both take this lock (on SQLite the write transaction is
    already exclusive), so a hold placed while a shred runs is either seen or waits.
    """
    query = select(t.conversations.c.id).where(t.conversations.c.id == conversation_id)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    if conn.execute(query).first() is None:
        raise NotFoundError(f"conversation {conversation_id} not found")


def active_holds(conn: Connection, conversation_id: int) -> list[int]:
    """Return the ids of the holds in force on a conversation."""
    h = t.legal_holds.c
    rows = conn.execute(
        select(h.id)
        .where(h.conversation_id == conversation_id, h.released_ms.is_(None))
        .order_by(h.id)
    )
    return [int(i) for (i,) in rows]


def is_shredded(conn: Connection, conversation_id: int) -> bool:
    """Return True when the conversation was crypto-shredded."""
    s = t.shredded_conversations.c
    return (
        conn.execute(select(s.conversation_id).where(s.conversation_id == conversation_id)).first()
        is not None
    )


def place_hold(vault: Vault, actor: Actor, conversation_id: int, reason: str, case: str) -> Hold:
    """Put a conversation under legal hold (legal role); audited as ``hold.place``."""
    resource = Resource("hold", None, conversation_id)
    decision = enforce(vault, actor, Action.HOLD_RELEASE, resource, operation="hold.place")
    reason, case = _text(reason, "reason"), _text(case, "case reference")
    with vault.begin() as conn:
        lock_conversation(conn, conversation_id)
        if is_shredded(conn, conversation_id):
            raise ConflictError(
                f"conversation {conversation_id} was crypto-shredded: nothing is left to hold"
            )
        row: dict[str, Any] = {
            "id": next_id(conn, t.legal_holds),
            "conversation_id": conversation_id,
            "placed_by": actor.name,
            "placed_ms": now_ms(),
            "released_by": None,
            "released_ms": None,
        }
        aad = _aad(row["id"], conversation_id, actor.name, row["placed_ms"])
        row["details_enc"] = seal_value(vault, aad, {"reason": reason, "case": case})
        conn.execute(insert(t.legal_holds).values(row))
        writer = vault.ledger_writer(conn)
        append_audit(
            vault,
            conn,
            writer,
            "hold.place",
            decision_details(
                actor,
                decision,
                hold=row["id"],
                conversation=conversation_id,
                reason=reason,
                case=case,
            ),
            actor.name,
        )
        writer.commit_head(now_ms())
    return _load(vault, row)


def _may_list(actor: Actor) -> bool:
    return any(decide(actor, a, Resource("hold")).allowed for a in _LISTERS)


def list_holds(
    vault: Vault, actor: Actor, active_only: bool = False, conversation_id: int | None = None
) -> list[Hold]:
    """Return holds, newest first (legal, admins and auditors); audited as ``hold.list``."""
    if not _may_list(actor):
        enforce(vault, actor, Action.HOLD_RELEASE, Resource("hold"), operation="hold.list")
    h = t.legal_holds.c
    query = select(t.legal_holds).order_by(h.id.desc())
    if active_only:
        query = query.where(h.released_ms.is_(None))
    if conversation_id is not None:
        query = query.where(h.conversation_id == conversation_id)
    with vault.engine.connect() as conn:
        holds = [_load(vault, r) for r in conn.execute(query).mappings()]
    record_audit(
        vault,
        "hold.list",
        {"active_only": active_only, "conversation": conversation_id, "count": len(holds)},
        actor.name,
    )
    return holds


def get_hold(vault: Vault, hold_id: int) -> Hold:
    """Return one hold (no access check: callers have enforced)."""
    with vault.engine.connect() as conn:
        row = (
            conn.execute(select(t.legal_holds).where(t.legal_holds.c.id == hold_id))
            .mappings()
            .first()
        )
    if row is None:
        raise NotFoundError(f"legal hold {hold_id} not found")
    return _load(vault, row)


def check_release(vault: Vault, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a release request's parameters: the hold exists and is in force."""
    try:
        hold_id = int(params["hold"])
    except (KeyError, ValueError, TypeError):
        raise UsageError("hold.release needs the hold's id: {'hold': ID}") from None
    hold = get_hold(vault, hold_id)
    if not hold.active:
        raise ConflictError(f"legal hold {hold_id} was already released by {hold.released_by}")
    return {"hold": hold_id, "conversation": hold.conversation_id}


def release_hold(vault: Vault, actor: Actor, params: Mapping[str, Any]) -> dict[str, Any]:
    """Release a hold: the dual-control executor, run once a second user confirmed."""
    hold_id = int(params["hold"])
    at = now_ms()
    with vault.begin() as conn:
        h = t.legal_holds.c
        done = conn.execute(
            update(t.legal_holds)
            .where(h.id == hold_id, h.released_ms.is_(None))
            .values(released_by=actor.name, released_ms=at)
        )
        if done.rowcount != 1:
            raise ConflictError(f"legal hold {hold_id} is not in force (already released?)")
        conversation = conn.execute(select(h.conversation_id).where(h.id == hold_id)).scalar_one()
        writer = vault.ledger_writer(conn)
        append_audit(
            vault,
            conn,
            writer,
            "hold.release",
            {
                "hold": hold_id,
                "conversation": int(conversation),
                "approval": params.get("_approval"),
                "requested_by": params.get("_requested_by"),
                "confirmed_by": actor.name,
            },
            actor.name,
        )
        writer.commit_head(at)
    return {"hold": hold_id, "conversation": int(conversation), "status": "released"}


__all__ = [
    "Hold",
    "active_holds",
    "check_release",
    "get_hold",
    "is_shredded",
    "list_holds",
    "lock_conversation",
    "place_hold",
    "release_hold",
]
