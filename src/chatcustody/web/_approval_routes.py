"""``/api/v1/approvals``: dual control. Request, list, confirm with TOTP, reject."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from chatcustody.access import Action
from chatcustody.dualcontrol import confirm_action, list_actions, reject_action, request_action
from chatcustody.web._deps import Context, CurrentActor
from chatcustody.web._problems import PROBLEMS
from chatcustody.web._types import Code, Name, SmallId

router = APIRouter(prefix="/api/v1/approvals", tags=["approvals"], responses=PROBLEMS)


class ApprovalParams(BaseModel):
    """Parameters: ``reencrypt`` for keys.rotate; ``user`` (+ ``role``/``tiers``) otherwise.

    ``user.supervisor`` takes ``user`` and ``supervisor`` (omitted: clear it).
    """

    user: Name | None = None
    supervisor: Name | None = None
    role: Name | None = None
    tiers: list[Name] = Field(default_factory=list, max_length=3)
    reencrypt: bool = False


class ApprovalIn(BaseModel):
    """A dual-control action to request (available in this build)."""

    action: Literal["keys.rotate", "role.elevate", "user.delete", "user.supervisor"]
    params: ApprovalParams = Field(default_factory=ApprovalParams)


class ConfirmIn(BaseModel):
    """The confirming user's current TOTP code."""

    otp: Code


@router.get("", summary="Pending and past dual-control actions you requested or may confirm")
def get_approvals(actor: CurrentActor, ctx: Context, pending: bool = False) -> Any:
    """List the actions you asked for and those you may confirm."""
    return {"approvals": [a.to_json() for a in list_actions(ctx.vault, actor, pending)]}


@router.post("", status_code=201, summary="Request a dual-control action")
def post_approval(body: ApprovalIn, actor: CurrentActor, ctx: Context) -> Any:
    """Ask for an action that a second, different, authorised user must confirm."""
    params = body.params.model_dump(exclude_none=True)
    return request_action(ctx.vault, actor, Action(body.action), params).to_json()


@router.post("/{approval_id}/confirm", summary="Confirm (and run) a pending action")
def post_confirm(approval_id: SmallId, body: ConfirmIn, actor: CurrentActor, ctx: Context) -> Any:
    """Confirm with your TOTP code; refused to the requester, after expiry, or twice."""
    return confirm_action(ctx.vault, actor, approval_id, body.otp, at_ms=ctx.clock()).to_json()


@router.post("/{approval_id}/reject", summary="Reject or withdraw a pending action")
def post_reject(approval_id: SmallId, actor: CurrentActor, ctx: Context) -> Any:
    """Withdraw your own request, or reject another's."""
    return reject_action(ctx.vault, actor, approval_id).to_json()
