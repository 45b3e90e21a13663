"""``chatcustody shred CONVERSATION``: request crypto-shredding (dual control)."""

from __future__ import annotations

from typing import Annotated

import typer

from chatcustody.access import Action
from chatcustody.cli._common import open_vault
from chatcustody.cli._signin import OtpOpt, PasswordEnvOpt, UserOpt, acting
from chatcustody.cli.hold_cmd import show_pending
from chatcustody.dualcontrol import request_action


def shred(
    ctx: typer.Context,
    conversation: Annotated[int, typer.Argument(help="Vault conversation id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")],
    user: UserOpt = None,
    otp: OtpOpt = None,
    password_env: PasswordEnvOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Request destroying a conversation's data key; a second admin confirms with TOTP.

    Once confirmed its messages and title can never be decrypted again; the ledger keeps
    every leaf, so verify still passes. Refused while a legal hold covers the conversation.
    """
    with open_vault(ctx) as vault, acting(vault, user, otp, password_env) as actor:
        params = {"conversation": conversation, "reason": reason}
        pending = request_action(vault, actor, Action.CRYPTO_SHRED, params)
    show_pending(pending, as_json, "a second, different admin")


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("shred")(shred)
