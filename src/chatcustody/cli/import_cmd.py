"""``chatcustody import``: acquire export files and ingest their records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from chatcustody.access import Action, Resource, enforce, local_actor
from chatcustody.cli._common import console, err_console, open_vault, print_json, progress_bar
from chatcustody.errors import BadInputError, UsageError
from chatcustody.ingest import ImportSummary, import_paths


def import_(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(help="Export files to import.", show_default=False)
    ],
    format_name: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Force a format ('chatcustody formats' lists them).",
            show_default=False,
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz", help="Zone of zone-less timestamps (default: the vault's).", show_default=False
        ),
    ] = None,
    skip_bad: Annotated[
        bool,
        typer.Option(
            "--skip-bad",
            help="Import the good records and quarantine bad ones with their reasons "
            "('chatcustody quarantine' lists them) instead of rejecting the file.",
        ),
    ] = False,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            help="Column-mapping file for the generic csv/jsonl formats.",
            show_default=False,
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            help="Importer option KEY=VALUE (repeatable), e.g. dayfirst=1.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import export files: hash and keep each original, then its records, atomically."""
    options = _options(option or [])
    if mapping is not None:
        options["mapping"] = str(mapping)
    with open_vault(ctx) as vault, progress_bar(not as_json) as progress:
        enforce(vault, local_actor(vault), Action.IMPORT, Resource("import"))
        summary = import_paths(
            vault, paths, format_name, tz, progress=progress, options=options, skip_bad=skip_bad
        )
    if as_json:
        print_json(summary.to_json())
    else:
        _print(summary)
    if not summary.ok:
        raise typer.Exit(max((f.error.exit_code for f in summary.files if f.error), default=1))


def _options(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--option {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _print(summary: ImportSummary) -> None:
    table = Table(
        "file", "format", "imported", "duplicates", "quarantined", "SHA-256", title="Import"
    )
    for f in summary.files:
        sha = f.source.digest.sha256[:16] + "…" if f.source else "-"
        status = "already imported" if f.already_imported else str(f.counts.imported)
        table.add_row(
            str(f.path),
            f.format,
            status if f.error is None else "[red]failed",
            str(f.counts.duplicates),
            str(f.counts.quarantined),
            sha,
        )
    console.print(table)
    for f in summary.files:
        if f.error is None:
            continue
        err_console.print(
            f"[bold red]{f.path}: nothing was imported[/]: {f.error}", highlight=False
        )
        if isinstance(f.error, BadInputError):
            for p in f.error.problems:
                err_console.print(f"  {p}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("import")(import_)
