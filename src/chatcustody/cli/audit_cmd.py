"""``chatcustody audit``: query the audit trail by time, actor and action; export it."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from chatcustody.access import local_actor
from chatcustody.audit import EXPORT_FORMATS, AuditQuery, audit_trail, export_audit
from chatcustody.cli._common import console, open_vault, print_json
from chatcustody.errors import UsageError
from chatcustody.model import iso, to_epoch_ms


def _instant(value: str | None, zone: str, what: str) -> int | None:
    """Parse a date or date-time; without an offset it is in the vault's zone."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{what}: {value!r} is not a date or date-time (2026-03-20T08:30)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return to_epoch_ms(moment)


def audit(
    ctx: typer.Context,
    after: Annotated[
        str | None, typer.Option("--after", help="From this time (inclusive).")
    ] = None,
    before: Annotated[
        str | None, typer.Option("--before", help="Until this time (exclusive).")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only this actor.")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action and those below it (auth).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N events.")] = None,
    export: Annotated[
        str | None, typer.Option("--export", help=f"Export as {' or '.join(EXPORT_FORMATS)}.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Export to this file (default stdout).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show audit events (oldest first); reading the trail is itself audited."""
    if export is not None and export not in EXPORT_FORMATS:
        raise UsageError(f"--export must be one of {', '.join(EXPORT_FORMATS)}")
    with open_vault(ctx) as vault:
        zone = vault.default_tz
        query = AuditQuery(
            _instant(after, zone, "--after"),
            _instant(before, zone, "--before"),
            actor,
            action,
            None,
            limit,
        )
        events = audit_trail(vault, local_actor(vault), query)
    if export is not None:
        if output is None:
            export_audit(events, export, sys.stdout)
        else:
            with output.open("w", encoding="utf-8", newline="") as f:
                export_audit(events, export, f)
        return
    if as_json:
        print_json({"events": [e.to_json() for e in events]})
        return
    table = Table("id", "time (UTC)", "actor", "action", "details", title=f"{len(events)} events")
    for e in events:
        details = ", ".join(f"{k}={v}" for k, v in e.details.items() if k != "decision")
        table.add_row(str(e.id), iso(e.ts_ms, 0), e.actor, e.action, details[:120])
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("audit")(audit)
