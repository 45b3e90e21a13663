"""``chatcustody hold add|release|list``: legal holds (诉讼保全) on conversations."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from chatcustody.access import Action
from chatcustody.cli._common import console, open_vault, print_json
from chatcustody.cli._signin import OtpOpt, PasswordEnvOpt, UserOpt, acting
from chatcustody.dualcontrol import PendingAction, request_action
from chatcustody.holds import Hold, list_holds, place_hold
from chatcustody.model import iso

app = typer.Typer(
    help="Legal holds: a held conversation cannot be crypto-shredded. Legal places and "
    "releases them (release needs a second legal user's TOTP confirmation).",
    no_args_is_help=True,
)
_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _show_hold(hold: Hold, as_json: bool) -> None:
    if as_json:
        print_json(hold.to_json())
    else:
        console.print(
            f"Legal hold {hold.id} on conversation {hold.conversation_id} "
            f"({'in force' if hold.active else 'released'}), case {hold.case}"
        )


def show_pending(pending: PendingAction, as_json: bool, who: str) -> None:
    """Print a requested dual-control action and how a second person confirms it."""
    if as_json:
        print_json(pending.to_json())
        return
    console.print(
        f"Requested {pending.action.value} as pending action {pending.id}; it runs when "
        f"{who} confirms with a current TOTP code before {iso(pending.expires_ms, 0)}:\n"
        f'  POST /api/v1/approvals/{pending.id}/confirm  {{"otp": "123456"}}',
        highlight=False,
        markup=False,
    )


@app.command("add")
def add(
    ctx: typer.Context,
    conversation: Annotated[int, typer.Argument(help="Vault conversation id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the records must be kept.")],
    case: Annotated[str, typer.Option("--case", help="Case or matter reference (案号).")],
    user: UserOpt = None,
    otp: OtpOpt = None,
    password_env: PasswordEnvOpt = None,
    as_json: _JSON = False,
) -> None:
    """Put a conversation under legal hold (as a legal user: --user U --otp CODE)."""
    with open_vault(ctx) as vault, acting(vault, user, otp, password_env) as actor:
        hold = place_hold(vault, actor, conversation, reason, case)
    _show_hold(hold, as_json)


@app.command("release")
def release(
    ctx: typer.Context,
    hold_id: Annotated[int, typer.Argument(help="The hold's id (chatcustody hold list).")],
    user: UserOpt = None,
    otp: OtpOpt = None,
    password_env: PasswordEnvOpt = None,
    as_json: _JSON = False,
) -> None:
    """Request a hold's release (as a legal user); a second legal user confirms with TOTP."""
    with open_vault(ctx) as vault, acting(vault, user, otp, password_env) as actor:
        pending = request_action(vault, actor, Action.HOLD_RELEASE, {"hold": hold_id})
    show_pending(pending, as_json, "a second, different legal user")


@app.command("list")
def list_(
    ctx: typer.Context,
    active: Annotated[bool, typer.Option("--active", help="Only holds in force.")] = False,
    conversation: Annotated[
        int | None, typer.Option("--conversation", help="Only this conversation's holds.")
    ] = None,
    user: UserOpt = None,
    otp: OtpOpt = None,
    password_env: PasswordEnvOpt = None,
    as_json: _JSON = False,
) -> None:
    """List legal holds, newest first (local admin, or --user)."""
    with open_vault(ctx) as vault, acting(vault, user, otp, password_env) as actor:
        holds = list_holds(vault, actor, active, conversation)
    if as_json:
        print_json({"holds": [h.to_json() for h in holds]})
        return
    table = Table("id", "conversation", "case", "reason", "placed", "state", title="Legal holds")
    for h in holds:
        state = "in force" if h.active else f"released by {h.released_by}"
        table.add_row(
            str(h.id), str(h.conversation_id), h.case, h.reason, iso(h.placed_ms, 0), state
        )
    console.print(table)
