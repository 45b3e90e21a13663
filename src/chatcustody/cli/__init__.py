"""The command line: a thin adapter over the library, one command per module.

Errors map to exit codes in exactly one place, ``main()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chatcustody import __version__
from chatcustody.cli import (
    audit_cmd,
    demo_cmd,
    export_cmd,
    formats_cmd,
    group_cmd,
    hold_cmd,
    import_cmd,
    init_cmd,
    keys_cmd,
    log_cmd,
    quarantine_cmd,
    reindex_cmd,
    request_cmd,
    search_cmd,
    serve_cmd,
    shred_cmd,
    timeline_cmd,
    user_cmd,
    verify_cmd,
    verify_package_cmd,
)
from chatcustody.cli._common import AppState, err_console
from chatcustody.errors import BadInputError, ChatCustodyError, IntegrityError

app = typer.Typer(
    name="chatcustody",
    help="Chat records in safe custody: encrypted, tamper-evident, searchable, released "
    "only under approval. 聊天记录安全保管：加密、防篡改、可检索、经审批方可调取。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chatcustody {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    vault: Annotated[
        Path | None,
        typer.Option(
            "--vault",
            help="Vault directory (else CHATCUSTODY_VAULT, else ./vault).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = AppState(vault)


for module in (
    init_cmd,
    import_cmd,
    verify_cmd,
    log_cmd,
    formats_cmd,
    quarantine_cmd,
    demo_cmd,
    search_cmd,
    reindex_cmd,
    timeline_cmd,
    audit_cmd,
    serve_cmd,
    shred_cmd,
    export_cmd,
    verify_package_cmd,
):
    module.register(app)
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(user_cmd.app, name="user")
app.add_typer(group_cmd.app, name="group")
app.add_typer(hold_cmd.app, name="hold")
app.add_typer(request_cmd.app, name="request")


def main() -> None:
    """Run the CLI, mapping the project's errors to exit codes and clear messages."""
    try:
        app()
    except ChatCustodyError as exc:
        label = "INTEGRITY FAILURE" if isinstance(exc, IntegrityError) else "error"
        err_console.print(f"[bold red]{label}:[/] {exc}", highlight=False, markup=True)
        if isinstance(exc, BadInputError):
            for problem in exc.problems:
                err_console.print(f"  {problem}", highlight=False, markup=False)
        raise SystemExit(exc.exit_code) from None
