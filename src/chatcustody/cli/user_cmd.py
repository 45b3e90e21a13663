"""``chatcustody user``: add, list, disable users, re-enrol TOTP, issue API tokens (local admin)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from chatcustody.access import Role, Tier, add_to_group, local_actor
from chatcustody.cli._common import console, open_vault, print_json
from chatcustody.errors import UsageError
from chatcustody.identity import (
    Enrolment,
    create_token,
    create_user,
    disable_user,
    list_users,
    qr_svg,
    reset_otp,
    set_supervisor,
)
from chatcustody.model import iso

app = typer.Typer(
    help="Users: add, list, disable, re-enrol TOTP, API tokens.", no_args_is_help=True
)
_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_QR = Annotated[
    Path | None, typer.Option("--qr", help="Also write the TOTP enrolment QR code (SVG) here.")
]


def _show(enrolment: Enrolment, qr: Path | None, as_json: bool) -> None:
    if qr is not None:
        qr.write_text(qr_svg(enrolment.otpauth_uri), "utf-8")
    if as_json:
        print_json(enrolment.to_json())
        return
    table = Table("", "", title=f"{enrolment.username}: shown once, store it now")
    if enrolment.password:
        table.add_row("password", enrolment.password)
    table.add_row("TOTP secret", enrolment.totp_secret)
    table.add_row("otpauth URI", enrolment.otpauth_uri)
    if qr is not None:
        table.add_row("QR code", str(qr))
    console.print(table)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Username: 2-64 of a-z 0-9 . _ -")],
    role: Annotated[
        Role | None, typer.Option("--role", help="Business role (reads chat content).")
    ] = None,
    tier: Annotated[
        list[Tier] | None, typer.Option("--tier", help="System tier (repeatable).")
    ] = None,
    group: Annotated[list[str] | None, typer.Option("--group", help="Group (repeatable).")] = None,
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    password_env: Annotated[
        str | None,
        typer.Option("--password-env", help="Take the password from this environment variable."),
    ] = None,
    qr: _QR = None,
    as_json: _JSON = False,
) -> None:
    """Create a user; prints the initial password and TOTP secret once."""
    password = None
    if password_env is not None:
        password = os.environ.get(password_env)
        if not password:
            raise UsageError(f"environment variable {password_env} is empty or unset")
    with open_vault(ctx) as vault:
        admin = local_actor(vault)
        enrolment = create_user(vault, admin, name, role, tier or [], password, display_name, email)
        for g in group or []:
            add_to_group(vault, admin, g, username=name)
    _show(enrolment, qr, as_json)


@app.command("list")
def list_(ctx: typer.Context, as_json: _JSON = False) -> None:
    """List users with their role, tiers and status."""
    with open_vault(ctx) as vault:
        users = list_users(vault, local_actor(vault))
    if as_json:
        print_json({"users": [u.to_json() for u in users]})
        return
    table = Table("username", "role", "tiers", "status", "display name", "created (UTC)")
    for u in users:
        table.add_row(
            u.username,
            u.role.value if u.role else "",
            ",".join(sorted(x.value for x in u.tiers)),
            u.status,
            u.display_name or "",
            iso(u.created_ms, 0),
        )
    console.print(table)


@app.command("disable")
def disable(ctx: typer.Context, name: str, as_json: _JSON = False) -> None:
    """Disable a user and revoke their sessions and API tokens."""
    with open_vault(ctx) as vault:
        disable_user(vault, local_actor(vault), name)
    if as_json:
        print_json({"username": name, "status": "disabled"})
    else:
        console.print(f"{name} disabled; sessions and tokens revoked")


@app.command("reset-otp")
def reset(ctx: typer.Context, name: str, qr: _QR = None, as_json: _JSON = False) -> None:
    """Enrol a fresh TOTP secret (printed once); the user's sessions are revoked."""
    with open_vault(ctx) as vault:
        enrolment = reset_otp(vault, local_actor(vault), name)
    _show(enrolment, qr, as_json)


@app.command("token")
def token(
    ctx: typer.Context,
    name: str,
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="read, search, tag, download, audit, admin, operate"),
    ],
    days: Annotated[int, typer.Option("--days", help="Lifetime in days.")] = 30,
    as_json: _JSON = False,
) -> None:
    """Issue an API token for automation with explicit scopes and expiry (printed once)."""
    with open_vault(ctx) as vault:
        secret, expires = create_token(vault, name, scope, days, local_actor(vault).name)
    if as_json:
        print_json(
            {"username": name, "token": secret, "scopes": sorted(scope), "expires_ms": expires}
        )
    else:
        console.print(f"token for {name} (until {iso(expires, 0)}): {secret}")


@app.command("set-supervisor")
def set_supervisor_(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The supervised user.")],
    supervisor: Annotated[
        str | None,
        typer.Argument(help="Their direct supervisor (omit with --clear)."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the supervisor.")] = False,
    as_json: _JSON = False,
) -> None:
    """Set who approves USER's retrieval requests: their direct supervisor (local admin)."""
    if (supervisor is None) != clear:
        raise UsageError("give a SUPERVISOR, or --clear to remove the current one")
    with open_vault(ctx) as vault:
        result = set_supervisor(vault, local_actor(vault), name, supervisor)
    if as_json:
        print_json(result)
    elif supervisor is None:
        console.print(f"{name} has no supervisor now")
    else:
        console.print(f"{supervisor} now approves {name}'s retrieval requests")
