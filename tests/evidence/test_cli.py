"""The export and verify-package commands, run as a user would (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatcustody import requests as rq
from chatcustody._env import now_ms
from chatcustody.requests import Output
from chatcustody.vault import Vault
from tests.conftest import PASSPHRASE
from tests.people import World, actor, otp
from tests.requests.conftest import form
from tests.requests.conftest import world as world  # noqa: F401 (the fixture)

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # the CLI opens the vault by path


def _cli(vault: Vault, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CHATCUSTODY_PASSPHRASE=PASSPHRASE, CHATCUSTODY_VAULT=str(vault.path))
    return subprocess.run(
        [sys.executable, "-m", "chatcustody", *args], env=env, capture_output=True, text=True
    )


def test_export_then_verify_package(vault: Vault, world: World, tmp_path: Path) -> None:
    """export writes a package for a released request; verify-package accepts it offline."""
    at = now_ms()  # the CLI judges the request at the real time
    agent = actor(vault, "agent", at)
    outputs = frozenset({Output.VIEW_ONLY, Output.PACKAGE, Output.ORIGINALS})
    rid = rq.create_request(vault, agent, form(outputs=outputs)).id
    rq.submit(vault, agent, rid)
    rq.approve(vault, actor(vault, "team_lead", at), rid, otp(world.users["team_lead"], at))
    rq.request_export(vault, agent, rid, "移交法院")
    rq.review(vault, actor(vault, "legal", at), rid)
    rq.release(vault, actor(vault, "legal", at), rid, otp(world.users["legal"], at), "法院")
    out = tmp_path / "case.zip"
    done = _cli(vault, "export", str(rid), "--out", str(out), "--as",
                "legal", "--redact", "pii:phone:非当事人", "--json")  # fmt: skip
    assert done.returncode == 2 and "does not match" in done.stderr
    done = _cli(vault, "export", str(rid), "--out", str(out), "--as", "legal", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["records"] == 2 and result["originals"] == 1 and Path(result["path"]) == out
    checked = _cli(vault, "verify-package", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "package verifies" in checked.stdout and "FAIL" not in checked.stdout
    again = _cli(
        vault, "export", str(rid), "--out", str(out), "--recipient", "法院", "--as", "legal"
    )
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = _cli(vault, "export", str(rid), "--out", str(tmp_path / "y"), "--recipient", "x",
               "--redact", "phone")  # fmt: skip
    assert bad.returncode == 2 and "KIND:VALUE:REASON" in bad.stderr
