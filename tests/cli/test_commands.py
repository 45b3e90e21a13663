"""The CLI contract: command names, JSON keys and exit codes that scripts rely on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import PASSPHRASE, conversation, write_jsonl


def run(
    args: list[str], vault: Path, passphrase: str = PASSPHRASE, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess with the test passphrase."""
    env = dict(os.environ, CHATCUSTODY_PASSPHRASE=passphrase, CHATCUSTODY_VAULT=str(vault))
    proc = subprocess.run(
        [sys.executable, "-m", "chatcustody", *args], env=env, capture_output=True, text=True
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_init_import_verify_log_keys(tmp_path: Path) -> None:
    """The documented commands run end to end and print the documented JSON keys."""
    vault = tmp_path / "v"
    info = json.loads(run(["init", "--tz", "Europe/London", "--json"], vault).stdout)
    assert info["default_tz"] == "Europe/London" and info["backend"] == "sqlite"
    export = write_jsonl(tmp_path / "e.jsonl", conversation(25))
    out = json.loads(run(["import", str(export), "--json"], vault).stdout)
    assert {"imported", "duplicates", "conversations", "sources", "errors"} <= out.keys()
    assert (out["imported"], out["duplicates"], out["conversations"]) == (25, 0, 1)
    assert set(out["sources"][0]) == {"path", "sha256", "sm3"}
    again = json.loads(run(["import", str(export), "--json"], vault).stdout)
    assert again["imported"] == 0 and again["files"][0]["already_imported"] is True
    report = json.loads(run(["verify", "--json"], vault).stdout)
    assert report["ok"] is True
    assert report["checked"]["records"] == 25 and report["checked"]["sources"] == 1
    heads = json.loads(run(["log", "--json"], vault).stdout)
    assert heads["heads"] and "BEGIN PUBLIC KEY" in heads["public_key_pem"]
    status = json.loads(run(["keys", "status", "--json"], vault).stdout)
    assert status["keys"][0]["current"] is True
    rotated = json.loads(run(["keys", "rotate", "--json"], vault).stdout)
    assert rotated["new_version"] == 2
    assert "chatcustody" in run(["--version"], vault).stdout


def test_exit_codes(tmp_path: Path) -> None:
    """Wrong passphrase, missing vault, bad input and tampering each have their exit code."""
    vault = tmp_path / "v"
    assert run(["verify"], vault, check=False).returncode == 3
    run(["init"], vault)
    assert run(["verify"], vault, passphrase="nope", check=False).returncode == 4
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"platform":"wecom"}\n', "utf-8")
    proc = run(["import", str(bad), "--format", "chatcustody-jsonl"], vault, check=False)
    assert proc.returncode == 5
    assert f"{bad}:1" in proc.stderr and "missing field" in proc.stderr
    db = vault / "vault.db"
    import sqlite3

    con = sqlite3.connect(db)
    con.execute("UPDATE tree_heads SET signature = zeroblob(64)")
    con.commit()
    con.close()
    proc = run(["verify", "--json"], vault, check=False)
    assert proc.returncode == 10 and json.loads(proc.stdout)["ok"] is False


def test_demo_builds_and_reopens(tmp_path: Path) -> None:
    """The README's first command: samples, operation log and a user per role; twice."""
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if k != "CHATCUSTODY_PASSPHRASE"}
    env["CHATCUSTODY_PASSWORD_MEMORY_KIB"] = "1024"  # demo users: cheap hashes in tests
    cmd = [
        sys.executable, "-m", "chatcustody", "demo", "--dir", str(tmp_path / "demo"),
        "--no-serve", "--json",
    ]  # fmt: skip
    first = json.loads(_run_ok(cmd, env).stdout)
    files = {Path(f["path"]).name: f for f in first["import"]["files"]}
    assert files["guard-team.jsonl"]["imported"] == 27
    assert files["investigation.jsonl"]["imported"] == 12
    assert files["operation-log.csv"]["events"] == 9 and first["verify"]["ok"]
    assert first["tagged"] == 23 and first["api"] is None
    users = {u["username"]: u for u in first["users"]}
    assert {"agent", "team_lead", "legal", "executive", "operator", "admin", "auditor"} <= set(
        users
    )
    assert users["agent"]["supervisor"] == "team_lead"  # who approves the agent's requests
    second = json.loads(_run_ok(cmd, env).stdout)
    assert second["import"]["imported"] == 0
    assert all(f["already_imported"] for f in second["import"]["files"])
    legal = {u["username"]: u for u in second["users"]}["legal"]
    assert legal["password"] != users["legal"]["password"]  # issued anew, printed again

    from chatcustody.identity import code_at, login
    from chatcustody.settings import Settings
    from chatcustody.vault import Vault

    demo = tmp_path / "demo"
    vault = Vault.open(demo, Settings(vault=demo), first["passphrase"])
    try:
        session = login(
            vault, "legal", legal["password"], code_at(legal["totp_secret"], 0), at_ms=0
        )
        assert session.token
    finally:
        vault.close()


def _run_ok(cmd: list[str], env: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    return proc
