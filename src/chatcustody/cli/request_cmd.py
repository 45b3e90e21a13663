"""``chatcustody request``: retrieval requests (电子证据调取申请单) at the command line.

The passphrase holder acts as a named vault user (``--as USER``); approving and releasing
also take that user's current TOTP code (``--otp``), like the API; releasing also fixes
the package's recipient and redaction rules.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from chatcustody.access import Actor
from chatcustody.cli._common import console, open_vault, print_json
from chatcustody.identity import actor_of
from chatcustody.requests import (
    TRANSITION_FUNCTIONS,
    AttachmentKind,
    Form,
    Output,
    RetrievalRequest,
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
from chatcustody.vault import Vault

app = typer.Typer(
    help="Retrieval requests: ask, submit, approve (TOTP), reject, withdraw, show, list.",
    no_args_is_help=True,
)
_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_AS = Annotated[str, typer.Option("--as", help="Act as this vault user.", show_default=False)]
_OTP = Annotated[str, typer.Option("--otp", help="Your current TOTP code.", show_default=False)]
_ID = Annotated[int, typer.Argument(help="The request id.")]
_REASON = Annotated[str | None, typer.Option("--reason", help="Why (kept sealed).")]


def _show(request: RetrievalRequest, as_json: bool) -> None:
    if as_json:
        print_json(request.to_json())
        return
    data = request.to_json()
    table = Table("", "", title=f"retrieval request {request.id}: {request.status.value}")
    for key in ("requester", "case_ref", "legal_basis", "reason", "after", "before"):
        table.add_row(key, str(data[key]))
    for key in ("conversations", "participants", "types", "keywords", "outputs"):
        table.add_row(key, ", ".join(str(x) for x in data[key]) or "-")
    if request.scope is not None:
        s = request.scope
        records = "all in window" if s.record_ids is None else str(len(s.record_ids))
        table.add_row(
            "frozen scope",
            f"{s.to_json()['after']} – {s.to_json()['before']}; "
            f"conversations {list(s.conversation_ids or []) or 'any'}; records {records}",
        )
    table.add_row("approver", request.approver or "-")
    table.add_row("expires (UTC)", data["expires"] or "-")
    if request.terms is not None:
        rules = ", ".join(request.terms.redactions) or "none"
        table.add_row("release terms", f"recipient {request.terms.recipient}; redact {rules}")
    for a in request.attachments:
        table.add_row(f"attachment {a.id}", f"{a.kind.value} {a.name} sha256 {a.sha256}")
    console.print(table)
    for h in request.history:
        line = f"  {h.to_json()['time']}  {h.transition:<15} {h.actor}  → {h.to_status.value}"
        console.print(line + (f"  ({h.reason})" if h.reason else ""))


def _act(ctx: typer.Context, user: str, run: Any, as_json: bool) -> None:
    with open_vault(ctx) as vault:
        request = run(vault, actor_of(vault, user))
    _show(request, as_json)


@app.command("new")
def new(
    ctx: typer.Context,
    user: _AS,
    case: Annotated[str, typer.Option("--case", help="Case or matter reference.")],
    basis: Annotated[str, typer.Option("--basis", help="Legal basis.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the records are needed.")],
    after: Annotated[
        str, typer.Option("--after", help="Window start (inclusive), e.g. 2026-03-01.")
    ],
    before: Annotated[str, typer.Option("--before", help="Window end (exclusive).")],
    conversation: Annotated[
        list[str] | None,
        typer.Option("--in", help="Conversation: source id, title, or #ID (repeatable)."),
    ] = None,
    participant: Annotated[
        list[str] | None,
        typer.Option("--from", help="Participant: source id or name (repeatable)."),
    ] = None,
    type_: Annotated[
        list[str] | None, typer.Option("--type", help="Message type (repeatable).")
    ] = None,
    keyword: Annotated[
        list[str] | None,
        typer.Option("--keyword", help="Only matches and their context (repeatable)."),
    ] = None,
    context: Annotated[
        int | None, typer.Option("--context", help="Context messages each side of a match.")
    ] = None,
    output: Annotated[
        list[Output] | None, typer.Option("--output", help="Outputs wanted (repeatable).")
    ] = None,
    attach: Annotated[
        list[str] | None,
        typer.Option("--attach", help="KIND=PATH: consent, seal_photo or other (repeatable)."),
    ] = None,
    as_json: _JSON = False,
) -> None:
    """Fill in a request (a draft); attach documents; then 'request submit'."""
    form = Form(
        case_ref=case,
        legal_basis=basis,
        reason=reason,
        after=after,
        before=before,
        conversations=tuple(conversation or ()),
        participants=tuple(participant or ()),
        types=tuple(type_ or ()),
        keywords=tuple(keyword or ()),
        context=context,
        outputs=frozenset(output or [Output.VIEW_ONLY]),
    )
    attachments = []
    for item in attach or []:
        kind, _, path = item.partition("=")
        kinds = [k.value for k in AttachmentKind]
        if not path or kind not in kinds:
            raise typer.BadParameter(f"--attach {item!r}: use KIND=PATH, KIND one of {kinds}")
        attachments.append((AttachmentKind(kind), Path(path)))

    def run(vault: Vault, actor: Any) -> RetrievalRequest:
        request = create_request(vault, actor, form)
        for kind, path in attachments:
            request = add_attachment(vault, actor, request.id, path, kind)
        return request

    _act(ctx, user, run, as_json)


def _plain_command(name: str, doc: str) -> None:
    """Register ``request NAME ID --as USER`` for a transition without a reason."""
    run = TRANSITION_FUNCTIONS[name]

    def command(ctx: typer.Context, request_id: _ID, user: _AS, as_json: _JSON = False) -> None:
        _act(ctx, user, lambda v, a: run(v, a, request_id, None), as_json)

    app.command(name, help=doc)(command)


def _reason_command(name: str, doc: str) -> None:
    """Register ``request NAME ID --as USER [--reason TEXT]`` for a transition."""
    run = TRANSITION_FUNCTIONS[name]

    def command(
        ctx: typer.Context,
        request_id: _ID,
        user: _AS,
        reason: _REASON = None,
        as_json: _JSON = False,
    ) -> None:
        _act(ctx, user, lambda v, a: run(v, a, request_id, reason), as_json)

    app.command(name, help=doc)(command)


def _otp_command(
    name: str, run: Callable[[Vault, Actor, int, str], RetrievalRequest], doc: str
) -> None:
    """Register ``request NAME ID --as USER --otp CODE`` for a TOTP-confirmed transition."""

    def command(
        ctx: typer.Context, request_id: _ID, user: _AS, otp: _OTP, as_json: _JSON = False
    ) -> None:
        _act(ctx, user, lambda v, a: run(v, a, request_id, otp), as_json)

    app.command(name, help=doc)(command)


_plain_command("submit", "Submit a draft: its scope is frozen and your supervisor is asked.")
_otp_command("approve", approve, "Approve a request of someone you directly supervise (TOTP).")


@app.command("reject")
def reject_(
    ctx: typer.Context,
    request_id: _ID,
    user: _AS,
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")],
    as_json: _JSON = False,
) -> None:
    """Reject a submitted request (supervisor) or an export under review (legal)."""
    _act(ctx, user, lambda v, a: reject(v, a, request_id, reason), as_json)


_reason_command("withdraw", "Withdraw your own request (until it is in use).")
_plain_command("start", "Mark your approved request in use.")
_reason_command("request-export", "Ask legal to release an export of your request's records.")
_plain_command("review", "Take an export request into legal review (legal, not the requester).")


@app.command("release")
def release_(
    ctx: typer.Context,
    request_id: _ID,
    user: _AS,
    otp: _OTP,
    recipient: Annotated[
        str,
        typer.Option(
            "--recipient",
            help="Who receives the package (court, counsel); every export is watermarked so.",
            show_default=False,
        ),
    ],
    redact: Annotated[
        list[str] | None,
        typer.Option(
            "--redact",
            help="Withhold fields of people not party to the case: KIND:VALUE:REASON with KIND "
            "pii (VALUE phone, id_card, bank_card, email), value (a literal name or address) "
            "or participant (a sender id). Repeatable; every export applies exactly these.",
        ),
    ] = None,
    as_json: _JSON = False,
) -> None:
    """Release an export under review (legal, not the requester, TOTP), fixing its terms."""
    rules = tuple(redact or ())
    _act(ctx, user, lambda v, a: release(v, a, request_id, otp, recipient, rules), as_json)


_reason_command("close", "Close a request (requester, approver or legal).")


@app.command("show")
def show(
    ctx: typer.Context,
    request_id: _ID,
    user: Annotated[
        str | None, typer.Option("--as", help="View as this user (default: local admin).")
    ] = None,
    as_json: _JSON = False,
) -> None:
    """Show a request: form, frozen scope, approval, attachments and history."""
    from chatcustody.access import local_actor

    with open_vault(ctx) as vault:
        actor = actor_of(vault, user) if user else local_actor(vault)
        request = get_request(vault, actor, request_id)
    _show(request, as_json)


@app.command("list")
def list_(
    ctx: typer.Context,
    user: Annotated[
        str | None, typer.Option("--as", help="List as this user (default: local admin).")
    ] = None,
    status: Annotated[Status | None, typer.Option("--status", help="Only this state.")] = None,
    inbox_: Annotated[
        bool, typer.Option("--inbox", help="What waits for --as USER, and their requests.")
    ] = False,
    as_json: _JSON = False,
) -> None:
    """List requests (newest first), or a user's inbox."""
    from chatcustody.access import local_actor

    with open_vault(ctx) as vault:
        actor = actor_of(vault, user) if user else local_actor(vault)
        if inbox_:
            box = inbox(vault, actor)
            if as_json:
                print_json(box)
            else:
                for part, items in box.items():
                    console.print(
                        f"{part}: " + (", ".join(f"#{i['id']} {i['status']}" for i in items) or "-")
                    )
            return
        requests = list_requests(vault, actor, status)
    if as_json:
        print_json({"requests": [r.to_json() for r in requests]})
        return
    table = Table("id", "requester", "status", "case", "window", "expires (UTC)")
    for r in requests:
        table.add_row(
            str(r.id),
            r.requester,
            r.status.value,
            r.form.case_ref,
            f"{r.form.after} – {r.form.before}",
            r.to_json()["expires"] or "",
        )
    console.print(table)
