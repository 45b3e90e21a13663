"""``chatcustody init``: create an empty vault."""

from __future__ import annotations

from typing import Annotated

import typer

from chatcustody.audit import record_audit
from chatcustody.cli._common import console, passphrase, print_json, state
from chatcustody.vault import Vault


def init(
    ctx: typer.Context,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz", help="Default zone for zone-less formats (IANA name).", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a new vault: keys from the passphrase, an empty signed ledger."""
    settings = state(ctx).settings()
    vault = Vault.create(
        settings.vault, settings, passphrase(settings, confirm=True), tz or settings.default_tz
    )
    try:
        record_audit(
            vault,
            "vault.init",
            {"path": str(settings.vault.resolve()), "default_tz": vault.default_tz},
        )
        info = {
            "vault": str(settings.vault),
            "vault_id": vault.vault_id,
            "backend": "postgresql" if settings.database_url else "sqlite",
            "default_tz": vault.default_tz,
        }
    finally:
        vault.close()
    if as_json:
        print_json(info)
    else:
        console.print(
            f"Created vault [bold]{info['vault']}[/] ({info['backend']}, zone {info['default_tz']})"
        )


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("init")(init)
