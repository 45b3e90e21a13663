"""``chatcustody quarantine``: list input records set aside by ``import --skip-bad``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from chatcustody.cli._common import console, open_vault, print_json
from chatcustody.ingest import list_quarantine


def quarantine(
    ctx: typer.Context,
    source: Annotated[
        int | None, typer.Option("--source", help="Only this source id.", show_default=False)
    ] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Also show each record's raw text.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List quarantined input records: source, line, record id and reason."""
    with open_vault(ctx) as vault:
        entries = list(list_quarantine(vault, source))
    if as_json:
        print_json([e.to_json(raw) for e in entries])
        return
    table = Table(
        "id", "source", "line", "record", "reason", *(["raw"] if raw else []), title="Quarantine"
    )
    for e in entries:
        cells = [str(e.id), str(e.source_id), str(e.line or "-"), e.record or "-", e.reason]
        table.add_row(*cells, *([e.raw] if raw else []))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("quarantine")(quarantine)
