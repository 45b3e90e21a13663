"""``chatcustody demo``: build a demo vault (samples, operation log, a user per role), serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

import typer
from rich.table import Table

from chatcustody.audit import record_audit
from chatcustody.cli._common import console, print_json, state
from chatcustody.cli.serve_cmd import run_server
from chatcustody.demo import build_demo
from chatcustody.vault import VAULT_FILE, Vault

DEMO_PASSPHRASE: Final[str] = "demo-passphrase"  # a demo vault holds only bundled samples


def demo(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Option("--dir", help="Where to build the demo vault.")] = Path(
        "demo-vault"
    ),
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Stop after the summary instead of serving the API.")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create (or reopen) a demo vault with sample cases and a user per role; then serve."""
    settings = state(ctx).settings().model_copy(update={"vault": directory})
    secret = settings.passphrase.get_secret_value() if settings.passphrase else DEMO_PASSPHRASE
    new = not (directory / VAULT_FILE).exists()
    if new:
        vault = Vault.create(directory, settings, secret, settings.default_tz)
        record_audit(vault, "vault.init", {"path": str(directory.resolve()), "demo": True})
    else:
        vault = Vault.open(directory, settings, secret)
    try:
        result = build_demo(vault, new)
        url = None if no_serve else f"http://{host}:{port}"
        _present(directory, secret, result, url, as_json)
        if not result.report.ok or not result.summary.ok:
            raise typer.Exit(1)
        if not no_serve:
            run_server(vault, host, port)
    finally:
        vault.close()


def _present(directory: Path, secret: str, result: object, url: str | None, as_json: bool) -> None:
    from chatcustody.demo import DemoResult

    assert isinstance(result, DemoResult)
    summary, report = result.summary, result.report
    if as_json:
        print_json(
            {
                "vault": str(directory),
                "passphrase": secret,
                "import": summary.to_json(),
                "verify": report.to_json(),
                "users": [u.to_json() for u in result.users],
                "tagged": result.tagged,
                "api": url,
            }
        )
        return
    table = Table("", "", title="chatcustody demo")
    table.add_row("vault", str(directory))
    table.add_row("passphrase", secret)
    for f in summary.files:
        if f.error is not None:
            outcome = f"[red]failed[/]: {f.error}"
        elif f.already_imported:
            outcome = "already imported (re-import is a no-op)"
        else:
            outcome = f"{f.counts.imported} records, {f.counts.events} events imported"
        table.add_row("sample", f"{f.path.name}: {outcome}")
    table.add_row(
        "verify", "[green]OK[/]" if report.ok else f"[red]{report.failure_count} failures[/]"
    )
    table.add_row("case", f"{result.tagged} key messages tagged 内部调查 by legal")
    console.print(table)
    console.print("[bold]Demo users[/] (credentials issued anew on every run):")
    for u in result.users:
        held = u.role.value if u.role else ",".join(x.value for x in u.tiers)
        groups = f"; groups {','.join(u.groups)}" if u.groups else ""
        boss = f"; supervisor {u.supervisor}" if u.supervisor else ""
        console.print(
            f"  {u.username:<10} {held}{groups}{boss}\n"
            f"             password {u.password}   TOTP secret {u.totp_secret}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        "Log in with the password and the current code of the TOTP secret (any authenticator "
        "app, or: python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\")."
    )
    if url:
        console.print(f"API: {url}/docs  ·  POST {url}/api/v1/auth/login")
    else:
        console.print(
            f"Serve it: CHATCUSTODY_PASSPHRASE={secret} chatcustody --vault {directory} serve"
        )


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("demo")(demo)
