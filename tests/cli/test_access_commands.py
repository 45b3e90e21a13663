"""The admin commands user, group and audit, in process (thin adapters over the library)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from chatcustody.cli import app
from chatcustody.identity import code_at, login
from chatcustody.settings import Settings
from chatcustody.vault import Vault
from tests.conftest import PASSPHRASE
from tests.people import NOW


def test_user_group_audit_commands(tmp_path: Path) -> None:
    """Users are added with a one-time secret, grouped, listed; the trail shows it all."""
    runner = CliRunner()
    env = {"CHATCUSTODY_PASSPHRASE": PASSPHRASE, "CHATCUSTODY_SECRET_PW": "pass-word-0123"}
    vault_dir = tmp_path / "v"

    def cli(*args: str) -> str:
        result = runner.invoke(app, ["--vault", str(vault_dir), *args], env=env)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.output

    cli("init")
    added = json.loads(
        cli("user", "add", "zhao", "--role", "team_lead", "--json", "--password-env",
            "CHATCUSTODY_SECRET_PW", "--qr", str(tmp_path / "zhao.svg"))
    )  # fmt: skip
    assert added["password"] is None and added["otpauth_uri"].startswith("otpauth://totp/")
    assert (tmp_path / "zhao.svg").read_text("utf-8").startswith("<svg")
    ops = json.loads(cli("user", "add", "ops", "--tier", "operator", "--tier", "auditor", "--json"))
    assert len(ops["password"]) >= 16
    assert json.loads(cli("group", "create", "护卫队", "--json"))["users"] == []
    group = json.loads(cli("group", "add", "护卫队", "--user", "zhao", "--json"))
    assert group["users"] == ["zhao"]
    users = json.loads(cli("user", "list", "--json"))["users"]
    assert [(u["username"], u["role"], u["tiers"]) for u in users] == [
        ("ops", None, ["auditor", "operator"]),
        ("zhao", "team_lead", []),
    ]
    token = json.loads(cli("user", "token", "ops", "--scope", "audit", "--days", "3", "--json"))
    assert token["token"].startswith("cct_")
    reset = json.loads(cli("user", "reset-otp", "zhao", "--json"))
    assert reset["totp_secret"] != added["totp_secret"]
    cli("user", "disable", "ops")
    events = json.loads(cli("audit", "--action", "user", "--json"))["events"]
    assert [e["action"] for e in events] == [
        "user.create", "user.create", "user.reset_otp", "user.disable",
    ]  # fmt: skip
    assert all(e["actor"].startswith("os:") for e in events)
    exported = cli("audit", "--action", "group", "--export", "csv")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["action"] for r in rows] == ["group.create", "group.add"]
    cli("audit", "--after", "2000-01-01", "--before", "2100-01-01T00:00+08:00")
    vault = Vault.open(vault_dir, Settings(vault=vault_dir), PASSPHRASE)
    try:
        assert login(vault, "zhao", "pass-word-0123", code_at(reset["totp_secret"], NOW), at_ms=NOW)
    finally:
        vault.close()
    bad = runner.invoke(app, ["--vault", str(vault_dir), "audit", "--after", "yesterday"], env=env)
    assert bad.exit_code != 0
