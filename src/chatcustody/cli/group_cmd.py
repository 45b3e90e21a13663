"""``chatcustody group``: create groups and add users or conversations (local admin)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from chatcustody.access import Group, add_to_group, create_group, list_groups, local_actor
from chatcustody.cli._common import console, open_vault, print_json

app = typer.Typer(
    help="Groups (用户分组): content scope is granted through them.", no_args_is_help=True
)
_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _show(group: Group, as_json: bool) -> None:
    if as_json:
        print_json(group.to_json())
    else:
        console.print(
            f"{group.name}: users {', '.join(group.users) or '-'}; "
            f"conversations {', '.join(map(str, group.conversations)) or '-'}"
        )


@app.command("create")
def create(ctx: typer.Context, name: str, as_json: _JSON = False) -> None:
    """Create an empty group."""
    with open_vault(ctx) as vault:
        group = create_group(vault, local_actor(vault), name)
    _show(group, as_json)


@app.command("add")
def add(
    ctx: typer.Context,
    name: str,
    user: Annotated[str | None, typer.Option("--user", help="A username to add.")] = None,
    conversation: Annotated[
        int | None, typer.Option("--conversation", help="A conversation id to add.")
    ] = None,
    as_json: _JSON = False,
) -> None:
    """Add a user (--user U) or a conversation (--conversation CID) to a group."""
    with open_vault(ctx) as vault:
        group = add_to_group(vault, local_actor(vault), name, user, conversation)
    _show(group, as_json)


@app.command("list")
def list_(ctx: typer.Context, as_json: _JSON = False) -> None:
    """List groups with their users and conversations."""
    with open_vault(ctx) as vault:
        groups = list_groups(vault, local_actor(vault))
    if as_json:
        print_json({"groups": [g.to_json() for g in groups]})
        return
    table = Table("group", "users", "conversations")
    for g in groups:
        table.add_row(g.name, ", ".join(g.users), ", ".join(map(str, g.conversations)))
    console.print(table)
