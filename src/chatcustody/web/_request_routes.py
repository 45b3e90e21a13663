"""``/api/v1/requests`` and ``/api/v1/inbox``: retrieval requests and their workflow.

Transitions are POST actions on a request; approve and release carry the acting user's
TOTP code, and release the terms of every export (recipient, redaction rules). Read
content under an approved request with ``?request_id=`` on the content endpoints.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from chatcustody.errors import UsageError
from chatcustody.requests import (
    TRANSITION_FUNCTIONS,
    AttachmentKind,
    Form,
    Output,
    Status,
    add_attachment,
    approve,
    create_request,
    get_request,
    inbox,
    list_requests,
    reject,
    release,
)
from chatcustody.web._deps import Context, CurrentActor
from chatcustody.web._problems import PROBLEMS
from chatcustody.web._types import PRINTABLE, Code, SmallId

router = APIRouter(prefix="/api/v1", tags=["requests"], responses=PROBLEMS)
MAX_ATTACHMENT_BYTES: Final[int] = 64 * 1024 * 1024
_Long = Annotated[str, StringConstraints(min_length=1, max_length=4000, pattern=PRINTABLE)]
_Item = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=PRINTABLE)]
_When = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PRINTABLE)]


class RequestIn(BaseModel):
    """A retrieval request form (电子证据调取申请单); it starts as a draft."""

    case_ref: _Long
    legal_basis: _Long
    reason: _Long
    after: _When = Field(description="Start of the window (inclusive), e.g. 2026-03-01.")
    before: _When = Field(description="End of the window (exclusive), e.g. 2026-03-08.")
    conversations: list[_Item] = Field(default_factory=list, max_length=100)
    participants: list[_Item] = Field(default_factory=list, max_length=100)
    types: list[_Item] = Field(default_factory=list, max_length=20)
    keywords: list[_Item] = Field(default_factory=list, max_length=50)
    context: int | None = Field(default=None, ge=0, le=100)
    outputs: list[Output] = Field(default_factory=lambda: [Output.VIEW_ONLY], max_length=3)


class OtpIn(BaseModel):
    """The acting user's current TOTP code."""

    otp: Code


class ReleaseIn(BaseModel):
    """The legal releaser's TOTP code and the terms every export then applies."""

    otp: Code
    recipient: Annotated[
        str, StringConstraints(min_length=1, max_length=400, pattern=PRINTABLE)
    ] = Field(description="Who receives the package (court, counsel); it is watermarked.")
    redactions: list[
        Annotated[str, StringConstraints(min_length=1, max_length=400, pattern=PRINTABLE)]
    ] = Field(
        default_factory=list,
        max_length=50,
        description="Rules KIND:VALUE:REASON, e.g. pii:phone:非当事人, value:张三:非当事人, "
        "participant:ID:非当事人.",
    )


class ReasonIn(BaseModel):
    """Why (required to reject)."""

    reason: Annotated[str, StringConstraints(max_length=4000, pattern=PRINTABLE)] = ""


@router.post("/requests", status_code=201, summary="Create a retrieval request (draft)")
def post_request(body: RequestIn, actor: CurrentActor, ctx: Context) -> Any:
    """Fill in a request; submit it to freeze its scope and ask your supervisor."""
    form = Form(
        case_ref=body.case_ref,
        legal_basis=body.legal_basis,
        reason=body.reason,
        after=body.after,
        before=body.before,
        conversations=tuple(body.conversations),
        participants=tuple(body.participants),
        types=tuple(body.types),
        keywords=tuple(body.keywords),
        context=body.context,
        outputs=frozenset(body.outputs),
    )
    return create_request(ctx.vault, actor, form).to_json()


@router.get("/requests", summary="Retrieval requests you made, approve or review")
def get_requests(actor: CurrentActor, ctx: Context, status: Status | None = None) -> Any:
    """List requests visible to you, newest first."""
    return {"requests": [r.to_json() for r in list_requests(ctx.vault, actor, status)]}


@router.get("/requests/{request_id}", summary="One retrieval request with its history")
def get_one_request(request_id: SmallId, actor: CurrentActor, ctx: Context) -> Any:
    """Return the form, frozen scope, approval, history and attachments."""
    return get_request(ctx.vault, actor, request_id).to_json()


@router.post("/requests/{request_id}/approve", summary="Approve (supervisor, with TOTP)")
def post_approve(request_id: SmallId, body: OtpIn, actor: CurrentActor, ctx: Context) -> Any:
    """Approve a submitted request of someone you directly supervise."""
    return approve(ctx.vault, actor, request_id, body.otp).to_json()


@router.post("/requests/{request_id}/release", summary="Release the export (legal, with TOTP)")
def post_release(request_id: SmallId, body: ReleaseIn, actor: CurrentActor, ctx: Context) -> Any:
    """Release an export under legal review (not your own request), fixing its terms."""
    return release(
        ctx.vault, actor, request_id, body.otp, body.recipient, tuple(body.redactions)
    ).to_json()


@router.post("/requests/{request_id}/reject", summary="Reject, with a reason")
def post_reject(request_id: SmallId, body: ReasonIn, actor: CurrentActor, ctx: Context) -> Any:
    """Reject a submitted request (supervisor) or an export under review (legal)."""
    return reject(ctx.vault, actor, request_id, body.reason).to_json()


def _transition_route(name: str) -> None:
    run = TRANSITION_FUNCTIONS[name]

    def handler(
        request_id: SmallId, actor: CurrentActor, ctx: Context, body: ReasonIn | None = None
    ) -> Any:
        reason = body.reason if body is not None and body.reason.strip() else None
        return run(ctx.vault, actor, request_id, reason).to_json()

    handler.__doc__ = (run.__doc__ or name).splitlines()[0]
    router.add_api_route(
        f"/requests/{{request_id}}/{name}",
        handler,
        methods=["POST"],
        summary=f"{name.replace('-', ' ').capitalize()} a retrieval request",
        name=f"request_{name.replace('-', '_')}",
    )


for _name in ("submit", "withdraw", "start", "request-export", "review", "close"):
    _transition_route(_name)


@router.post(
    "/requests/{request_id}/attachments",
    status_code=201,
    summary="Attach a document (the raw file as the body)",
    openapi_extra={
        "requestBody": {
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            "required": True,
        }
    },
)
async def post_attachment(
    request_id: SmallId,
    request: Request,
    actor: CurrentActor,
    ctx: Context,
    kind: AttachmentKind,
    name: Annotated[str, Query(min_length=1, max_length=200, pattern=PRINTABLE)],
) -> Any:
    """Acquire a file (SHA-256 and SM3, stored encrypted) and attach it to your draft."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_ATTACHMENT_BYTES:
        raise UsageError(f"an attachment is at most {MAX_ATTACHMENT_BYTES} bytes")
    data = await request.body()
    if not data:
        raise UsageError("the attachment is empty: send the file as the request body")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise UsageError(f"an attachment is at most {MAX_ATTACHMENT_BYTES} bytes")

    def attach() -> Any:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload"
            path.write_bytes(data)
            return add_attachment(ctx.vault, actor, request_id, path, kind, name).to_json()

    return await run_in_threadpool(attach)


@router.get("/inbox", summary="What waits for you, and your requests' state changes")
def get_inbox(actor: CurrentActor, ctx: Context) -> Any:
    """Requests to approve (your direct reports'), exports to review (legal), your own."""
    return inbox(ctx.vault, actor)
