"""``chatcustody verify``: check the whole vault against its signed ledger."""

from __future__ import annotations

from typing import Annotated

import typer

from chatcustody.audit import record_audit
from chatcustody.cli._common import console, err_console, open_vault, print_json, progress_bar
from chatcustody.errors import IntegrityError
from chatcustody.verify import verify_vault


def verify(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute the ledger, authenticate every ciphertext, re-hash every blob and original."""
    with open_vault(ctx) as vault:
        with progress_bar(not as_json) as progress:
            report = verify_vault(vault, progress)
        record_audit(
            vault,
            "verify.run",
            {"ok": report.ok, "checked": report.checked, "failures": report.failure_count},
        )
    if as_json:
        print_json(report.to_json())
    else:
        checked = ", ".join(f"{k} {v}" for k, v in report.checked.items())
        for w in report.warnings:
            err_console.print(f"[yellow]warning:[/] {w}", highlight=False)
        if report.ok:
            console.print(f"[bold green]OK[/] — checked {checked}")
        else:
            for failure in report.failures:
                err_console.print(f"[red]FAIL[/] {failure}", highlight=False, markup=True)
            err_console.print(f"[bold red]{report.failure_count} failure(s)[/] — checked {checked}")
    if not report.ok:
        raise typer.Exit(IntegrityError.exit_code)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("verify")(verify)
