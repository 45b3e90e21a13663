"""``chatcustody serve``: run the REST API (OpenAPI at /docs) over the vault."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from chatcustody.cli._common import err_console, open_vault, passphrase, state


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Server processes (each opens the vault).")
    ] = 1,
) -> None:
    """Serve the REST API until interrupted (put TLS in front of it beyond localhost)."""
    if workers == 1:
        with open_vault(ctx) as vault:
            run_server(vault, host, port)
        return
    import uvicorn

    settings = state(ctx).settings()
    with open_vault(ctx):  # check the passphrase once, before forking workers
        pass
    # Workers open the vault themselves from the environment (they inherit it).
    os.environ["CHATCUSTODY_VAULT"] = str(settings.vault)
    os.environ["CHATCUSTODY_PASSPHRASE"] = passphrase(settings)
    err_console.print(f"chatcustody API on http://{host}:{port} with {workers} workers")
    uvicorn.run(
        "chatcustody.web:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


def run_server(vault: object, host: str, port: int) -> None:
    """Run uvicorn over an open vault (imports the web stack only when serving)."""
    import uvicorn

    from chatcustody.vault import Vault
    from chatcustody.web import create_app

    assert isinstance(vault, Vault)
    err_console.print(f"chatcustody API on http://{host}:{port}  (OpenAPI: /docs; Ctrl-C stops)")
    uvicorn.run(create_app(vault), host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("serve")(serve)
