"""``chatcustody demo``: build a vault from the bundled sample data, import, verify, summarise."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.table import Table

from chatcustody.audit import record_audit
from chatcustody.cli._common import console, print_json, state
from chatcustody.ingest import import_paths
from chatcustody.vault import VAULT_FILE, Vault
from chatcustody.verify import verify_vault

DEMO_PASSPHRASE: Final[str] = "demo-passphrase"  # a demo vault holds only bundled samples


def demo(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Option("--dir", help="Where to build the demo vault.")] = Path(
        "demo-vault"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create (or reopen) a demo vault, import the bundled samples, verify it, summarise."""
    settings = state(ctx).settings().model_copy(update={"vault": directory})
    secret = settings.passphrase.get_secret_value() if settings.passphrase else DEMO_PASSPHRASE
    if (directory / VAULT_FILE).exists():
        vault = Vault.open(directory, settings, secret)
    else:
        vault = Vault.create(directory, settings, secret, settings.default_tz)
        record_audit(vault, "vault.init", {"path": str(directory.resolve()), "demo": True})
    try:
        sample = files("chatcustody.samples") / "guard-team.jsonl"
        with as_file(sample) as path:
            summary = import_paths(vault, [path])
        report = verify_vault(vault)
    finally:
        vault.close()
    result = {
        "vault": str(directory),
        "passphrase": secret,
        "import": summary.to_json(),
        "verify": report.to_json(),
    }
    if as_json:
        print_json(result)
    else:
        table = Table("", "", title="chatcustody demo")
        table.add_row("vault", str(directory))
        table.add_row("passphrase", secret)
        for f in summary.files:
            if f.error is not None:
                outcome = f"[red]failed[/]: {f.error}"
            elif f.already_imported:
                outcome = "already imported (re-import is a no-op)"
            else:
                outcome = f"{f.counts.imported} records imported"
            table.add_row("sample", f"{f.path.name}: {outcome}")
            if f.source:
                table.add_row("SHA-256", f.source.digest.sha256)
                table.add_row("SM3", f.source.digest.sm3)
        table.add_row(
            "verify", "[green]OK[/]" if report.ok else f"[red]{report.failure_count} failures[/]"
        )
        for k, v in report.checked.items():
            table.add_row(f"  {k}", str(v))
        console.print(table)
        console.print(f"Try: CHATCUSTODY_PASSPHRASE={secret} chatcustody --vault {directory} log")
    if not report.ok or not summary.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("demo")(demo)
