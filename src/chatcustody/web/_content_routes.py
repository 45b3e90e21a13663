"""Chat content: search, timeline, conversations, messages, downloads and tags.

Every handler calls one library function that asks decide() and writes the audit event;
records outside the caller's scope answer 404, exactly like missing ones.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, StringConstraints

from chatcustody.reading import (
    MAX_PAGE,
    conversation_messages,
    download_message,
    get_message,
    list_conversations,
    search_records,
    timeline_records,
)
from chatcustody.tags import add_tag
from chatcustody.web._deps import Context, CurrentActor
from chatcustody.web._problems import PROBLEMS
from chatcustody.web._types import MAX_ID, MAX_SMALL_ID, PRINTABLE, Id, Name, SmallId

router = APIRouter(prefix="/api/v1", tags=["content"], responses=PROBLEMS)
SEARCH_MAX: int = 200
_Text = Annotated[str, Query(max_length=1000, pattern=PRINTABLE)]
_Opt = Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)]
_Item = Annotated[str, StringConstraints(max_length=200, pattern=PRINTABLE)]
#: Act under an approved retrieval request: only its frozen scope, until it expires.
_RequestId = Annotated[
    int | None,
    Query(ge=1, le=MAX_SMALL_ID, description="Read under this approved retrieval request."),
]


class TagIn(BaseModel):
    """A tag to mark a message with (``archived`` archives it)."""

    name: Name


@router.get("/search", summary="Search messages in your scope")
def get_search(
    actor: CurrentActor,
    ctx: Context,
    q: _Text,
    from_: Annotated[list[_Item], Query(alias="from")] = [],  # noqa: B006
    in_: Annotated[list[_Item], Query(alias="in")] = [],  # noqa: B006
    type_: Annotated[list[_Item], Query(alias="type")] = [],  # noqa: B006
    after: _Opt = None,
    before: _Opt = None,
    mode: Literal["exact", "word"] = "exact",
    limit: Annotated[int, Query(ge=1, le=SEARCH_MAX)] = 50,
    oldest: bool = False,
    cursor: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE)] = None,
    request_id: _RequestId = None,
) -> Any:
    """Run the query language of ``chatcustody search`` inside your groups and window."""
    return search_records(
        ctx.vault,
        actor,
        q,
        senders=from_,
        conversations=in_,
        types=type_,
        after=after,
        before=before,
        mode=mode,
        limit=limit,
        oldest=oldest,
        cursor=cursor,
        request_id=request_id,
    )


@router.get("/timeline", summary="Timeline of messages (and events) in your scope")
def get_timeline(
    actor: CurrentActor,
    ctx: Context,
    after: Annotated[str, Query(max_length=64, pattern=PRINTABLE)],
    before: Annotated[str, Query(max_length=64, pattern=PRINTABLE)],
    in_: Annotated[list[_Item], Query(alias="in")] = [],  # noqa: B006
    participant: Annotated[list[_Item], Query()] = [],  # noqa: B006
    events: bool = False,
    gap: Annotated[int, Query(ge=1, le=10_080)] = 30,
    request_id: _RequestId = None,
) -> Any:
    """Merge conversations (and events) in time order, marking gaps and delays."""
    return timeline_records(
        ctx.vault,
        actor,
        after,
        before,
        conversations=in_,
        participants=participant,
        events=events,
        gap_minutes=gap,
        request_id=request_id,
    )


@router.get("/conversations", summary="Conversations in your scope")
def get_conversations(actor: CurrentActor, ctx: Context, request_id: _RequestId = None) -> Any:
    """List the conversations you may read, with their message counts in your window."""
    return {"conversations": list_conversations(ctx.vault, actor, request_id)}


@router.get("/conversations/{conversation_id}/messages", summary="A conversation's messages")
def get_conversation_messages(
    conversation_id: SmallId,
    actor: CurrentActor,
    ctx: Context,
    after_ms: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    before_ms: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    after_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    request_id: _RequestId = None,
) -> Any:
    """Return a page of messages in your scope, oldest first; page on with ``after_id``."""
    return conversation_messages(
        ctx.vault, actor, conversation_id, after_ms, before_ms, limit, after_id, request_id
    )


@router.get("/messages/{message_id}", summary="One message")
def get_one_message(
    message_id: Id, actor: CurrentActor, ctx: Context, request_id: _RequestId = None
) -> Any:
    """Return one message (404 when missing or outside your scope)."""
    return get_message(ctx.vault, actor, message_id, request_id)


@router.get("/messages/{message_id}/download", summary="Download one message with its source")
def get_download(
    message_id: Id,
    actor: CurrentActor,
    ctx: Context,
    response: Response,
    request_id: _RequestId = None,
) -> Any:
    """Return the message with the exporter's raw text, as a file (legal, executives)."""
    message = download_message(ctx.vault, actor, message_id, request_id)
    response.headers["Content-Disposition"] = f'attachment; filename="message-{message_id}.json"'
    return message


@router.post("/messages/{message_id}/tags", status_code=201, summary="Tag a message")
def post_tag(message_id: Id, body: TagIn, actor: CurrentActor, ctx: Context) -> Any:
    """Mark a message (mark, don't delete); returns its tags."""
    return {"id": message_id, "tags": add_tag(ctx.vault, actor, message_id, body.name)}
