"""``chatcustody search``: exact Chinese/English keyword search with filters."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from chatcustody.cli._common import console, open_vault, print_json
from chatcustody.search import MAX_LIMIT, SearchResult, search


def search_(
    ctx: typer.Context,
    query: Annotated[
        str,
        typer.Argument(
            help='Words, "phrases", OR, -exclusions and filters (from: in: type: after: '
            "before: has:attachment); see docs/search.md.",
            show_default=False,
        ),
    ],
    sender: Annotated[
        list[str] | None,
        typer.Option("--from", help="Sender: source id or part of a display name (repeatable)."),
    ] = None,
    conversation: Annotated[
        list[str] | None,
        typer.Option("--in", help="Conversation: source id or part of its title (repeatable)."),
    ] = None,
    type_: Annotated[
        list[str] | None,
        typer.Option("--type", help="Message type: text, image, voice, file… (repeatable)."),
    ] = None,
    after: Annotated[
        str | None,
        typer.Option("--after", help="From this date or date-time (vault zone unless given)."),
    ] = None,
    before: Annotated[
        str | None, typer.Option("--before", help="Before this date or date-time.")
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="exact (substring, default) or word (jieba words).")
    ] = "exact",
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_LIMIT, help="Hits per page.")
    ] = 50,
    oldest: Annotated[bool, typer.Option("--oldest", help="Oldest first.")] = False,
    cursor: Annotated[
        str | None,
        typer.Option("--cursor", help="Continue after a previous page's next_cursor."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Find every message matching the query; newest first, with highlighted snippets."""
    with open_vault(ctx) as vault:
        result = search(
            vault,
            query,
            senders=sender or (),
            conversations=conversation or (),
            types=type_ or (),
            after=after,
            before=before,
            mode=mode,
            limit=limit,
            oldest=oldest,
            cursor=cursor,
        )
    if as_json:
        print_json(result.to_json())
    else:
        _print(result)


def _print(result: SearchResult) -> None:
    for hit in result.hits:
        line = Text(f"{hit.time[:16].replace('T', ' ')}  ", style="dim")
        line.append(f"[{hit.conversation}] ", style="cyan")
        line.append(f"{hit.sender}: ", style="bold")
        for piece, highlighted in hit.snippet.parts:
            line.append(piece, style="reverse yellow" if highlighted else None)
        console.print(line, highlight=False, soft_wrap=True)
    total = f"{result.total}" if result.total_is_exact else f"at least {result.total}"
    console.print(
        f"[bold]{total}[/] match(es), {len(result.hits)} shown, {result.took_ms} ms",
        highlight=False,
    )
    if result.next_cursor:
        console.print(f"more: --cursor {result.next_cursor}", style="dim", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("search")(search_)
