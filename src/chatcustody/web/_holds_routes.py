"""``/api/v1/holds`` and ``/api/v1/conversations/{id}/shred``: legal holds, crypto-shredding.

Placing a hold is immediate (legal). Releasing one and shredding a conversation are
dual-control requests: these endpoints answer 201 with the pending action, which a second,
different authorised user confirms at ``POST /api/v1/approvals/{id}/confirm`` with TOTP.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, StringConstraints

from chatcustody.access import Action
from chatcustody.dualcontrol import request_action
from chatcustody.holds import list_holds, place_hold
from chatcustody.web._deps import Context, CurrentActor
from chatcustody.web._problems import PROBLEMS
from chatcustody.web._types import PRINTABLE, SmallId

router = APIRouter(prefix="/api/v1", tags=["holds"], responses=PROBLEMS)

Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=PRINTABLE)]


class HoldIn(BaseModel):
    """A hold to place: the conversation, why, and the case it belongs to."""

    conversation_id: SmallId
    reason: Reason
    case: Reason


class ShredIn(BaseModel):
    """Why the conversation must be destroyed (kept in the audit trail)."""

    reason: Reason


@router.get("/holds", summary="Legal holds (legal, admins, auditors)")
def get_holds(
    actor: CurrentActor,
    ctx: Context,
    active: bool = False,
    conversation_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Any:
    """List holds, newest first; ``active`` keeps only those in force."""
    holds = list_holds(ctx.vault, actor, active, conversation_id)
    return {"holds": [h.to_json() for h in holds]}


@router.post("/holds", status_code=201, summary="Place a legal hold (legal)")
def post_hold(body: HoldIn, actor: CurrentActor, ctx: Context) -> Any:
    """Put a conversation under legal hold: it cannot be crypto-shredded while held."""
    return place_hold(ctx.vault, actor, body.conversation_id, body.reason, body.case).to_json()


@router.post(
    "/holds/{hold_id}/release", status_code=201, summary="Request a hold's release (dual control)"
)
def post_release(hold_id: SmallId, actor: CurrentActor, ctx: Context) -> Any:
    """Ask for the release; a second legal user confirms at /api/v1/approvals/{id}/confirm."""
    return request_action(ctx.vault, actor, Action.HOLD_RELEASE, {"hold": hold_id}).to_json()


@router.post(
    "/conversations/{conversation_id}/shred",
    status_code=201,
    summary="Request crypto-shredding a conversation (dual control)",
)
def post_shred(conversation_id: SmallId, body: ShredIn, actor: CurrentActor, ctx: Context) -> Any:
    """Ask to destroy the conversation's data key; a second admin confirms with TOTP."""
    params = {"conversation": conversation_id, "reason": body.reason}
    return request_action(ctx.vault, actor, Action.CRYPTO_SHRED, params).to_json()
