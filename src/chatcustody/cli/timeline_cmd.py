"""``chatcustody timeline``: merged messages and events with gaps and response delays."""

from __future__ import annotations

from typing import Annotated

import typer

from chatcustody.cli._common import console, open_vault, print_json
from chatcustody.timeline import render, timeline


def timeline_(
    ctx: typer.Context,
    after: Annotated[
        str, typer.Option("--after", help="Start: date or date-time (vault zone unless given).")
    ],
    before: Annotated[str, typer.Option("--before", help="End (exclusive).")],
    conversation: Annotated[
        list[str] | None,
        typer.Option("--in", help="Conversation: source id or part of its title (repeatable)."),
    ] = None,
    participant: Annotated[
        list[str] | None,
        typer.Option(
            "--participant", help="Only messages by this sender: id or name part (repeatable)."
        ),
    ] = None,
    events: Annotated[
        bool, typer.Option("--events", help="Include imported events (alerts, operation logs).")
    ] = False,
    gap: Annotated[
        int, typer.Option("--gap", min=1, help="Mark silences longer than MINUTES.")
    ] = 30,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz", help="Show times in this zone (default: the vault's).", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Merge conversations and events in time order; show gaps and complaint/alert delays."""
    with open_vault(ctx) as vault:
        result = timeline(
            vault,
            after,
            before,
            conversations=conversation or [],
            participants=participant or [],
            events=events,
            gap_minutes=gap,
            tz=tz,
        )
    if as_json:
        print_json(result.to_json())
    else:
        for line in render(result):
            console.print(line, highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("timeline")(timeline_)
