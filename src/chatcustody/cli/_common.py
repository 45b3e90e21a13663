"""What every command shares: global options, opening the vault, output, progress."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from chatcustody.errors import UsageError
from chatcustody.settings import Settings, load_settings
from chatcustody.vault import Vault

console = Console()
err_console = Console(stderr=True)


@dataclass
class AppState:
    """Options given before the command name."""

    vault_dir: Path | None = None

    def settings(self) -> Settings:
        """Return settings, with ``--vault`` overriding ``CHATCUSTODY_VAULT``."""
        s = load_settings()
        if self.vault_dir is not None:
            s = s.model_copy(update={"vault": self.vault_dir})
        return s


def state(ctx: typer.Context) -> AppState:
    """Return the global options of this invocation."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, AppState) else AppState()


def passphrase(settings: Settings, confirm: bool = False) -> str:
    """Return the passphrase from CHATCUSTODY_PASSPHRASE, else prompt on a terminal."""
    if settings.passphrase is not None:
        return settings.passphrase.get_secret_value()
    if not sys.stdin.isatty():
        raise UsageError(
            "no passphrase: set CHATCUSTODY_PASSPHRASE or run on a terminal to be prompted"
        )
    value: str = typer.prompt("Vault passphrase", hide_input=True, confirmation_prompt=confirm)
    return value


@contextmanager
def open_vault(ctx: typer.Context) -> Iterator[Vault]:
    """Open and unlock the vault named by --vault / CHATCUSTODY_VAULT / ./vault."""
    settings = state(ctx).settings()
    vault = Vault.open(settings.vault, settings, passphrase(settings))
    try:
        yield vault
    finally:
        vault.close()


def print_json(data: Any) -> None:
    """Print JSON for scripts: UTF-8, not ASCII-escaped, one document."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    """Yield a progress callback (phase, done, total) drawing a Rich bar on stderr."""
    if not enabled or os.environ.get("CI") or not err_console.is_terminal:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update
