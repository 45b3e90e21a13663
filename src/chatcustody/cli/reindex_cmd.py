"""``chatcustody reindex``: rebuild the search index from the records."""

from __future__ import annotations

from typing import Annotated

import typer

from chatcustody.access import Action, Resource, enforce, local_actor
from chatcustody.cli._common import console, open_vault, print_json, progress_bar
from chatcustody.search import reindex


def reindex_(
    ctx: typer.Context,
    new_key: Annotated[
        bool,
        typer.Option("--new-key", help="Also replace the search key (every token changes)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Rebuild the whole search index from the records, in one transaction."""
    with open_vault(ctx) as vault, progress_bar(not as_json) as progress:
        actor = local_actor(vault)
        enforce(vault, actor, Action.JOBS, Resource("search_index"), new_key=new_key)
        result = reindex(vault, fresh_key=new_key, actor=actor.name, progress=progress)
    if as_json:
        print_json(result.to_json())
    else:
        key = " under a new search key" if result.new_key else ""
        console.print(f"Indexed {result.records} records{key} in {result.took_ms} ms")


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("reindex")(reindex_)
