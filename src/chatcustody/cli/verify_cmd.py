"""``chatcustody verify``: check the whole vault against its signed ledger."""

from __future__ import annotations

from typing import Annotated

import typer

from chatcustody.access import Action, Resource, decision_details, enforce, local_actor
from chatcustody.audit import record_audit
from chatcustody.cli._common import console, err_console, open_vault, print_json, progress_bar
from chatcustody.errors import IntegrityError
from chatcustody.search import DEFAULT_SAMPLE
from chatcustody.verify import verify_vault


def verify(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Re-tokenise every record for the search-index check (default: a sample).",
        ),
    ] = False,
    sample: Annotated[
        int,
        typer.Option(
            "--sample",
            min=0,
            help="Records re-tokenised for the search-index check when not --full.",
        ),
    ] = DEFAULT_SAMPLE,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of that sample (default: random; it is reported)."),
    ] = None,
) -> None:
    """Recompute the ledger, authenticate every ciphertext, re-hash every blob and original.

    The search index is checked for every record's presence; a random sample of records
    (--sample, default 300) is re-tokenised and compared, or every record with --full.
    """
    with open_vault(ctx) as vault:
        actor = local_actor(vault)
        decision = enforce(vault, actor, Action.READ_INTEGRITY, Resource("vault"))
        with progress_bar(not as_json) as progress:
            report = verify_vault(vault, progress, full_index=full, index_sample=sample, seed=seed)
        record_audit(
            vault,
            "verify.run",
            decision_details(
                actor,
                decision,
                ok=report.ok,
                checked=report.checked,
                failures=report.failure_count,
            ),
            actor.name,
        )
    if as_json:
        print_json(report.to_json())
    else:
        checked = ", ".join(f"{k} {v}" for k, v in report.checked.items())
        for w in report.warnings:
            err_console.print(f"[yellow]warning:[/] {w}", highlight=False)
        for note in report.notes:
            console.print(note, highlight=False)
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
