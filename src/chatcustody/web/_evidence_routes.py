"""``POST /api/v1/requests/{id}/export``: download the evidence package of a released request.

The package is built as a zip in a temporary directory, streamed to the client, and removed
afterwards; the export is recorded in the request's history and the audit trail like the
CLI's. Verification needs no API: ``chatcustody verify-package`` runs anywhere, offline.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, StringConstraints
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from chatcustody.evidence import Redaction, export_request
from chatcustody.web._deps import Context, CurrentActor
from chatcustody.web._problems import PROBLEMS
from chatcustody.web._types import PRINTABLE, SmallId

router = APIRouter(prefix="/api/v1", tags=["evidence"], responses=PROBLEMS)
_Text = Annotated[str, StringConstraints(min_length=1, max_length=400, pattern=PRINTABLE)]


class RedactionIn(BaseModel):
    """Withhold fields of someone not party to the case (their commitments stay)."""

    kind: Annotated[str, StringConstraints(pattern="^(pii|value|participant)$")]
    value: _Text = Field(description="phone|id_card|bank_card|email, a literal, or a sender id")
    reason: _Text


class ExportIn(BaseModel):
    """Optional: the release terms are applied; given, these must equal them."""

    recipient: _Text | None = Field(default=None, description="Default: the release terms'.")
    redactions: list[RedactionIn] | None = Field(
        default=None, max_length=50, description="Default: the release terms'."
    )


@router.post(
    "/requests/{request_id}/export",
    summary="Export a released request as an evidence package (zip)",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The package."}},
)
async def post_export(
    request_id: SmallId, actor: CurrentActor, ctx: Context, body: ExportIn | None = None
) -> FileResponse:
    """Build the package (requester or legal, once legal released it) on the release terms."""
    tmp = Path(tempfile.mkdtemp(prefix="cc-export-"))
    target = tmp / f"request-{request_id}-evidence.zip"
    body = body or ExportIn()
    rules = (
        None
        if body.redactions is None
        else [Redaction(r.kind, r.value, r.reason) for r in body.redactions]
    )
    try:
        await run_in_threadpool(
            export_request, ctx.vault, actor, request_id, target, body.recipient, rules
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(
        target,
        media_type="application/zip",
        filename=target.name,
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )
