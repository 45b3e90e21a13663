"""``chatcustody formats``: list the import formats."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from chatcustody.cli._common import console, print_json
from chatcustody.importers import REGISTRY


def formats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the formats 'import' understands, with a one-line description each."""
    if as_json:
        print_json([{"name": n, "description": i.description} for n, i in REGISTRY.items()])
        return
    table = Table("format", "description", title="Import formats")
    for name, importer in REGISTRY.items():
        table.add_row(name, importer.description)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("formats")(formats)
