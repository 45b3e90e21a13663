"""``chatcustody verify-package``: check an evidence package offline, with no vault."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chatcustody.cli._common import console, err_console, print_json
from chatcustody.errors import IntegrityError, UsageError
from chatcustody.settings import load_settings


def verify_package_cmd(
    path: Annotated[
        Path, typer.Argument(help="Package directory or .zip file.", show_default=False)
    ],
    key_fingerprint: Annotated[
        str | None,
        typer.Option(
            "--key-fingerprint",
            help="Expected SHA-256 of the vault's raw Ed25519 public key, obtained from its "
            "operator independently of the package (pins the key the package must be signed "
            "with). Default: CHATCUSTODY_EVIDENCE_KEY_FINGERPRINT; without either the key is "
            "NOT pinned and a package re-signed with another key still verifies.",
        ),
    ] = None,
    tsa_ca: Annotated[
        Path | None,
        typer.Option(
            "--tsa-ca",
            help="CA certificate(s) (PEM) you trust for RFC 3161 timestamps; default: the "
            "package's own timestamps/tsa-ca.pem.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Verify an evidence package offline: hashes, signatures, proofs, timestamps.

    离线核验证据包：哈希、签名、包含证明与一致性证明、时间戳。Needs no vault and no passphrase;
    exits 10 when anything fails, naming the file or record. Pin the vault's key with
    --key-fingerprint (or CHATCUSTODY_EVIDENCE_KEY_FINGERPRINT): otherwise the package is only
    checked against the public key it carries itself.
    """
    from chatcustody.evidence._verify import expected_fingerprint, verify_package

    pinned_by = None
    if key_fingerprint:
        pinned_by = "--key-fingerprint"
    else:
        key_fingerprint = load_settings().evidence_key_fingerprint
        pinned_by = "CHATCUSTODY_EVIDENCE_KEY_FINGERPRINT" if key_fingerprint else None
    if key_fingerprint:
        try:
            expected_fingerprint(key_fingerprint)
        except UsageError as exc:
            raise UsageError(f"{pinned_by}: {exc}") from None
    report = verify_package(path, key_fingerprint, tsa_ca)
    if as_json:
        print_json({**report.to_json(), "key_pinned_by": pinned_by})
    else:
        for check in report.checks:
            mark = "[green]OK[/]  " if check.ok else "[red]FAIL[/]"
            console.print(f"{mark} {check.name} ({check.checked} checked)", highlight=False)
            for note in check.notes:
                console.print(f"      {note}", highlight=False, markup=False)
            for failure in check.failures:
                err_console.print(f"      {failure}", highlight=False, markup=False)
        facts = report.facts
        console.print(
            f"request {facts.get('request_id')} · recipient {facts.get('recipient')} · tree size "
            f"{facts.get('tree_size')} · key {facts.get('key_fingerprint')}",
            highlight=False,
            markup=False,
        )
        if report.key_pinned:
            console.print(f"key pinned by {pinned_by}", highlight=False, markup=False)
        elif facts.get("key_fingerprint"):
            err_console.print(
                "[bold yellow]key NOT pinned[/]: checked only against the package's own "
                "proofs/vault-public.pem, fingerprint "
                f"[bold]{facts['key_fingerprint']}[/]. A forger who re-signs the package with "
                "their own key passes: compare this fingerprint with one obtained independently "
                "from the vault's operator, or pass --key-fingerprint.",
                highlight=False,
            )
        if report.ok:
            pin = "" if report.key_pinned else " (under its own, unpinned key)"
            console.print(f"[bold green]package verifies{pin}[/]")
        else:
            total = sum(c.failure_count for c in report.checks)
            err_console.print(f"[bold red]{total} failure(s): the package does not verify[/]")
    if not report.ok:
        raise typer.Exit(IntegrityError.exit_code)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("verify-package")(verify_package_cmd)
