"""``chatcustody request`` and ``user set-supervisor``: thin adapters acting as named users."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from typer.testing import CliRunner

from chatcustody._env import now_ms
from chatcustody.cli import app
from chatcustody.identity import code_at
from chatcustody.settings import Settings
from chatcustody.vault import Vault
from tests.conftest import PASSPHRASE
from tests.people import build_world


class Cli(Protocol):
    def __call__(self, *args: str, ok: bool = ...) -> str: ...


def _world_and_cli(tmp_path: Path) -> tuple[Any, Cli]:
    """Return the people world in a new vault and a runner of the CLI on it.

    The runner asserts the exit code (0 when ``ok``) and returns the output; for a refusal,
    the output, errors and the exception's text together.
    """
    vault_dir = tmp_path / "v"
    vault = Vault.create(vault_dir, Settings(vault=vault_dir), PASSPHRASE, "Asia/Shanghai")
    try:
        world = build_world(vault, tmp_path)
    finally:
        vault.close()
    runner = CliRunner()
    env = {"CHATCUSTODY_PASSPHRASE": PASSPHRASE}

    def cli(*args: str, ok: bool = True) -> str:
        result = runner.invoke(app, ["--vault", str(vault_dir), *args], env=env)
        assert (result.exit_code == 0) is ok, (args, result.output, result.exception)
        if ok:
            return result.output
        return result.output + result.stderr + str(result.exception or "")

    return world, cli


def test_request_commands(tmp_path: Path) -> None:
    """new (with an attachment) → submit → approve (TOTP) → show/list, all with --json."""
    world, cli = _world_and_cli(tmp_path)

    cli("user", "set-supervisor", "agent", "team_lead")
    seal = tmp_path / "封存照片.jpg"
    seal.write_bytes(b"\xff\xd8 photo of the sealed disk")
    made = json.loads(
        cli("request", "new", "--as", "agent", "--case", "案件-7", "--basis", "合同法",
            "--reason", "核对", "--after", "2026-02-01", "--before", "2026-03-15",
            "--in", "conv-guard", "--output", "package", "--attach", f"seal_photo={seal}",
            "--json")
    )  # fmt: skip
    rid = str(made["id"])
    assert made["status"] == "draft" and made["attachments"][0]["kind"] == "seal_photo"
    assert json.loads(cli("request", "submit", rid, "--as", "agent", "--json"))["scope"][
        "conversation_ids"
    ] == [world.conversations["inside"]]
    cli("request", "approve", rid, "--as", "agent", "--otp", "000000", ok=False)
    code = code_at(world.users["team_lead"].totp_secret, now_ms())
    approved = json.loads(
        cli("request", "approve", rid, "--as", "team_lead", "--otp", code, "--json")
    )
    assert approved["status"] == "approved" and approved["approver"] == "team_lead"
    listed = json.loads(cli("request", "list", "--json"))["requests"]
    assert [(r["id"], r["status"]) for r in listed] == [(made["id"], "approved")]
    box = json.loads(cli("request", "list", "--as", "agent", "--inbox", "--json"))
    assert [x["status"] for x in box["mine"]] == ["approved"]
    shown = cli("request", "show", rid)
    assert "案件-7" in shown and "approve" in shown
    cli("request", "reject", rid, "--as", "team_lead", "--reason", "晚了", ok=False)
    withdrawn = json.loads(cli("request", "withdraw", rid, "--as", "agent", "--json"))
    assert withdrawn["status"] == "withdrawn"


def test_request_release_fixes_the_terms(tmp_path: Path) -> None:
    """release --recipient --redact stores legal's terms; a bad rule is refused, named."""
    world, cli = _world_and_cli(tmp_path)

    cli("user", "set-supervisor", "agent", "team_lead")
    made = json.loads(
        cli("request", "new", "--as", "agent", "--case", "案件-8", "--basis", "合同法",
            "--reason", "核对", "--after", "2026-02-01", "--before", "2026-03-15",
            "--in", "conv-guard", "--output", "package", "--json")
    )  # fmt: skip
    rid = str(made["id"])
    cli("request", "submit", rid, "--as", "agent")
    lead = code_at(world.users["team_lead"].totp_secret, now_ms())
    cli("request", "approve", rid, "--as", "team_lead", "--otp", lead)
    cli("request", "request-export", rid, "--as", "agent")
    cli("request", "review", rid, "--as", "legal")
    code = code_at(world.users["legal"].totp_secret, now_ms())
    bad = cli("request", "release", rid, "--as", "legal", "--otp", code, "--recipient", "法院",
              "--redact", "pii:fax:非当事人", ok=False)  # fmt: skip
    assert "pii:fax:非当事人" in bad
    released = json.loads(
        cli("request", "release", rid, "--as", "legal", "--otp", code, "--recipient", "上海某法院",
            "--redact", "pii:phone:非当事人", "--redact", "value:张三:非当事人", "--json")
    )  # fmt: skip
    assert released["status"] == "released"
    assert released["release_terms"] == {
        "recipient": "上海某法院",
        "redactions": ["pii:phone:非当事人", "value:张三:非当事人"],
    }
    assert "上海某法院" in cli("request", "show", rid)
