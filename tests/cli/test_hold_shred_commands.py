"""hold add|release|list and shred at the command line; import, verify, keys, reindex audited."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from chatcustody._env import now_ms
from chatcustody.audit import AuditQuery, query_audit
from chatcustody.dualcontrol import confirm_action
from chatcustody.errors import AccessDeniedError, ConflictError
from chatcustody.identity import actor_of, code_at
from chatcustody.settings import Settings
from chatcustody.store import schema as t
from chatcustody.vault import Vault
from tests.conftest import PASSPHRASE, message, write_jsonl

STEP = 30_000


def test_hold_and_shred_commands(tmp_path: Path) -> None:
    """Legal signs in to hold; a held shred is refused; released, it is shredded for good."""
    runner = CliRunner()
    env = {"CHATCUSTODY_PASSPHRASE": PASSPHRASE, "PW": "pass-word-0123"}
    vault_dir = tmp_path / "v"

    def cli(*args: str) -> str:
        result = runner.invoke(app_(), ["--vault", str(vault_dir), *args], env=env)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.output

    def fails(*args: str) -> BaseException:
        result = runner.invoke(app_(), ["--vault", str(vault_dir), *args], env=env)
        assert result.exception is not None, (args, result.output)
        return result.exception

    cli("init")
    msgs = [message(message_id=f"m{i}", text=f"巡逻记录 {i}") for i in range(3)]
    cli("import", str(write_jsonl(tmp_path / "a.jsonl", msgs)), "--json")
    secrets = {}
    for name, opts in (
        ("legal1", ["--role", "legal"]),
        ("legal2", ["--role", "legal"]),
        ("admin2", ["--tier", "admin"]),
    ):
        added = json.loads(cli("user", "add", name, *opts, "--password-env", "PW", "--json"))
        secrets[name] = added["totp_secret"]
    with (
        Vault.open(vault_dir, Settings(vault=vault_dir), PASSPHRASE) as vault,
        vault.engine.connect() as conn,
    ):
        conv = conn.execute(select(t.conversations.c.id)).scalar_one()
    now = now_ms()
    sign_in = ["--password-env", "PW", "--otp"]
    out = cli("hold", "add", str(conv), "--reason", "诉讼保全", "--case", "（2026）沪01民初1号",
              "--user", "legal1", *sign_in, code_at(secrets["legal1"], now), "--json")  # fmt: skip
    hold = json.loads(out)
    assert hold["active"] and hold["case"] == "（2026）沪01民初1号"
    denied = fails("hold", "add", str(conv), "--reason", "r", "--case", "c")
    assert isinstance(denied, AccessDeniedError)  # the local admin holds no legal role
    listed = json.loads(cli("hold", "list", "--active", "--json"))["holds"]
    assert [h["id"] for h in listed] == [hold["id"]]
    refused = fails("shred", str(conv), "--reason", "retention over")
    assert isinstance(refused, ConflictError) and "legal hold" in str(refused)
    out = cli("hold", "release", str(hold["id"]), "--user", "legal2", *sign_in,
              code_at(secrets["legal2"], now), "--json")  # fmt: skip
    release = json.loads(out)
    assert release["status"] == "pending" and release["action"] == "hold.release"
    with Vault.open(vault_dir, Settings(vault=vault_dir), PASSPHRASE) as vault:
        later = now + 2 * STEP  # past the step legal1 signed in with
        done = confirm_action(
            vault,
            actor_of(vault, "legal1"),
            release["id"],
            code_at(secrets["legal1"], later),
            later,
        )
        assert done.status == "executed"
    text = " ".join(cli("shred", str(conv), "--reason", "retention over").split())
    assert "/api/v1/approvals/" in text and "second, different admin" in text
    shred = json.loads(cli("shred", str(conv), "--reason", "retention over", "--json"))
    with Vault.open(vault_dir, Settings(vault=vault_dir), PASSPHRASE) as vault:
        done = confirm_action(
            vault, actor_of(vault, "admin2"), shred["id"], code_at(secrets["admin2"], now), now
        )
        assert done.status == "executed" and done.result is not None
        assert done.result["records"] == 3
    report = json.loads(cli("verify", "--json"))
    assert report["ok"] and report["checked"]["shredded"] == 3
    assert json.loads(cli("reindex", "--json"))["records"] == 0
    assert json.loads(cli("keys", "rotate", "--json"))["new_version"] == 2
    cli("keys", "status", "--json")
    with Vault.open(vault_dir, Settings(vault=vault_dir), PASSPHRASE) as vault:
        runs = list(query_audit(vault, AuditQuery(action="verify.run")))
        assert runs[-1].details["decision"]["rule"] == "system_tier"
        denied = list(query_audit(vault, AuditQuery(action="access.denied")))
        assert [e.details["action"] for e in denied] == ["hold.release"]


def app_():  # type: ignore[no-untyped-def]
    """Return the CLI app (imported late: the module registers every command)."""
    from chatcustody.cli import app

    return app
