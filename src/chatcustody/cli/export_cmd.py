"""``chatcustody export``: write the evidence package of a released retrieval request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chatcustody.cli._common import console, open_vault, print_json


def export(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(help="The released retrieval request's id.")],
    out: Annotated[
        Path,
        typer.Option("--out", help="New directory, or FILE.zip, to write.", show_default=False),
    ],
    recipient: Annotated[
        str | None,
        typer.Option(
            "--recipient",
            help="Who receives the package; default and only allowed value: the recipient legal "
            "set at release (it watermarks the transcript and report).",
            show_default=False,
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            "--as", help="Act as this vault user (the requester or legal); default: local operator."
        ),
    ] = None,
    redact: Annotated[
        list[str] | None,
        typer.Option(
            "--redact",
            help="Redaction rules KIND:VALUE:REASON (pii:phone:非当事人, value:LITERAL:WHY, "
            "participant:ID:WHY). Default and only allowed set: the rules legal set at release. "
            "Repeatable.",
        ),
    ] = None,
    tsa_url: Annotated[
        str | None, typer.Option("--tsa-url", help="RFC 3161 TSA (else CHATCUSTODY_TSA_URL).")
    ] = None,
    tsa_ca: Annotated[
        Path | None,
        typer.Option("--tsa-ca", help="TSA CA certificate PEM (else CHATCUSTODY_TSA_CA_FILE)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Export a released request's records as an evidence package anyone can verify.

    The recipient and redactions are those legal fixed at release (request release).

    导出已放行调取申请的证据包：messages.jsonl、transcript.html、report.pdf、附件/原始文件、
    SHA256SUMS/SM3SUMS、包含证明、保管链、隐去记录与 VERIFY.md。
    """
    from chatcustody.access import local_actor
    from chatcustody.evidence import export_request
    from chatcustody.identity import actor_of
    from chatcustody.requests import parse_redaction

    rules = None if redact is None else [parse_redaction(r) for r in redact]
    with open_vault(ctx) as vault:
        actor = actor_of(vault, user) if user else local_actor(vault)
        result = export_request(
            vault, actor, request_id, out, recipient, rules, tsa_url=tsa_url, tsa_ca_file=tsa_ca
        )
    if as_json:
        print_json(result.to_json())
        return
    console.print(
        f"[bold green]exported[/] request {request_id} → {result.path}: {result.records} records, "
        f"{result.amendments} edits/recalls, {result.attachments} attachments, "
        f"{result.originals} originals, {result.withheld_fields} withheld fields; "
        f"proved to tree size {result.tree_size} (root {result.root})"
        + ("; RFC 3161 timestamped" if result.timestamped else ""),
        highlight=False,
    )
    console.print(f"check it with: chatcustody verify-package {result.path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("export")(export)
