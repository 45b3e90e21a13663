"""Administration: users and groups (admins), the audit trail (auditors)."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from chatcustody.access import Role, Tier, add_to_group, create_group, list_groups
from chatcustody.audit import AuditQuery, audit_trail, export_audit
from chatcustody.errors import UsageError
from chatcustody.identity import create_user, disable_user, list_users, reset_otp
from chatcustody.web._deps import Context, CurrentActor
from chatcustody.web._problems import PROBLEMS
from chatcustody.web._types import MAX_ID, PRINTABLE, Name, Secret, SmallId

router = APIRouter(prefix="/api/v1", responses=PROBLEMS)
AUDIT_PAGE: int = 1000


class UserIn(BaseModel):
    """A new user: one business role and/or system tiers, groups, optional profile."""

    username: Name
    role: Role | None = None
    tiers: list[Tier] = Field(default_factory=list, max_length=3)
    groups: list[Name] = Field(default_factory=list, max_length=50)
    password: Secret | None = None
    display_name: Name | None = None
    email: Annotated[str, Field(max_length=254, pattern=PRINTABLE)] | None = None


class GroupIn(BaseModel):
    """A new group."""

    name: Name


class MemberIn(BaseModel):
    """A user or a conversation to add to a group (exactly one of them)."""

    username: Name | None = None
    conversation_id: SmallId | None = None


@router.get("/users", tags=["admin"], summary="List users")
def get_users(actor: CurrentActor, ctx: Context) -> Any:
    """Return every user without secrets (admins)."""
    return {"users": [u.to_json() for u in list_users(ctx.vault, actor)]}


@router.post("/users", tags=["admin"], status_code=201, summary="Create a user")
def post_user(body: UserIn, actor: CurrentActor, ctx: Context) -> Any:
    """Create a user; the answer holds the initial password and TOTP enrolment, once."""
    enrolment = create_user(
        ctx.vault,
        actor,
        body.username,
        body.role,
        body.tiers,
        body.password,
        body.display_name,
        body.email,
    )
    for group in body.groups:
        add_to_group(ctx.vault, actor, group, username=body.username)
    return enrolment.to_json()


@router.post("/users/{username}/disable", tags=["admin"], summary="Disable a user")
def post_disable(username: Name, actor: CurrentActor, ctx: Context) -> Any:
    """Disable a user and revoke their sessions and tokens."""
    disable_user(ctx.vault, actor, username)
    return {"username": username, "status": "disabled"}


@router.post("/users/{username}/reset-otp", tags=["admin"], summary="Re-enrol TOTP")
def post_reset_otp(username: Name, actor: CurrentActor, ctx: Context) -> Any:
    """Give a user a fresh TOTP secret (returned once); their sessions are revoked."""
    return reset_otp(ctx.vault, actor, username).to_json()


@router.get("/groups", tags=["admin"], summary="List groups")
def get_groups(actor: CurrentActor, ctx: Context) -> Any:
    """Return every group with its users and conversations (admins)."""
    return {"groups": [g.to_json() for g in list_groups(ctx.vault, actor)]}


@router.post("/groups", tags=["admin"], status_code=201, summary="Create a group")
def post_group(body: GroupIn, actor: CurrentActor, ctx: Context) -> Any:
    """Create an empty group."""
    return create_group(ctx.vault, actor, body.name).to_json()


@router.post("/groups/{name}/members", tags=["admin"], summary="Add to a group")
def post_member(name: Name, body: MemberIn, actor: CurrentActor, ctx: Context) -> Any:
    """Add a user or a conversation to a group."""
    if (body.username is None) == (body.conversation_id is None):
        raise UsageError("give either username or conversation_id")
    group = add_to_group(ctx.vault, actor, name, body.username, body.conversation_id)
    return group.to_json()


@router.get("/audit", tags=["audit"], summary="Query and export the audit trail")
def get_audit(
    actor: CurrentActor,
    ctx: Context,
    after_ms: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    before_ms: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    actor_name: Annotated[
        str | None, Query(alias="actor", max_length=128, pattern=PRINTABLE)
    ] = None,
    action: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    after_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=AUDIT_PAGE)] = 100,
    format: Literal["json", "jsonl", "csv"] = "json",
) -> Any:
    """Return audit events oldest first (auditors); ``format`` jsonl or csv exports them."""
    query = AuditQuery(after_ms, before_ms, actor_name, action, after_id, limit)
    events = audit_trail(ctx.vault, actor, query)
    if format == "json":
        return {
            "events": [e.to_json() for e in events],
            "next_after_id": events[-1].id if len(events) == limit else None,
        }
    out = io.StringIO()
    export_audit(events, format, out)
    media = "text/csv" if format == "csv" else "application/jsonl"
    return PlainTextResponse(
        out.getvalue(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="audit.{format}"'},
    )


__all__ = ["router"]
