"""``chatcustody keys rotate|status``: master key rotation and ages."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from chatcustody import keys
from chatcustody.access import Action, Resource, enforce, local_actor
from chatcustody.cli._common import console, err_console, open_vault, print_json
from chatcustody.model import iso

app = typer.Typer(help="Master key rotation and status.", no_args_is_help=True)


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    reencrypt: Annotated[
        bool, typer.Option("--reencrypt", help="Also re-encrypt content under fresh data keys.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a new master key version and rewrap every data key under it."""
    with open_vault(ctx) as vault:
        actor = local_actor(vault)
        enforce(vault, actor, Action.KEYS_ROTATE, Resource("keys"), reencrypt=reencrypt)
        result = keys.rotate(vault, reencrypt, actor.name)
    if as_json:
        print_json(result.to_json())
    else:
        console.print(
            f"Master key is now v{result.new_version}: {result.rewrapped} data keys rewrapped, "
            f"{result.reencrypted_records} records re-encrypted, retired {result.retired or 'none'}"
        )


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show each master key version's age and use; warn past the rotation period."""
    with open_vault(ctx) as vault:
        enforce(vault, local_actor(vault), Action.KEYS_ROTATE, Resource("keys"), status=True)
        rows, warnings = keys.status(vault)
    if as_json:
        print_json({"keys": [k.to_json() for k in rows], "warnings": warnings})
        return
    table = Table(
        "version", "created (UTC)", "age (days)", "data keys", "state", title="Master keys"
    )
    for k in rows:
        state = "current" if k.current else ("retired" if k.retired_ms else "in use")
        table.add_row(
            str(k.version), iso(k.created_ms, 0), f"{k.age_days:.1f}", str(k.data_keys), state
        )
    console.print(table)
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] {w}", highlight=False)
