"""``chatcustody log``: list the signed tree heads of the ledger."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from chatcustody import ledger
from chatcustody.cli._common import console, open_vault, print_json
from chatcustody.model import iso


def log(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="Show the newest N heads (0: all).")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the signed tree heads: size, root, time, signing key."""
    with open_vault(ctx) as vault, vault.engine.connect() as conn:
        heads = ledger.load_heads(conn, vault.vault_id)
        public_pem = vault.public_pem().decode()
    shown = heads[-limit:] if limit else heads
    if as_json:
        print_json({"public_key_pem": public_pem, "heads": [h.to_json() for h in shown]})
        return
    table = Table("size", "root", "time (UTC)", "key", title=f"Signed tree heads ({len(heads)})")
    for h in shown:
        table.add_row(str(h.size), h.root.hex(), iso(h.timestamp_ms, 0), h.key_id)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("log")(log)
