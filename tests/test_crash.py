"""Crash safety: SIGKILL at any moment leaves a vault that verifies, and a re-run finishes
the import exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chatcustody.settings import Settings
from chatcustody.vault import Vault
from chatcustody.verify import verify_vault
from tests.conftest import PASSPHRASE, conversation, stored_counts, write_jsonl

N_MESSAGES = 3000
KILLS = {"sqlite": 10, "postgres": 4}


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CHATCUSTODY_VAULT=str(settings.vault),
        CHATCUSTODY_PASSPHRASE=PASSPHRASE,
        CHATCUSTODY_BATCH_SIZE="100",
    )
    if settings.database_url:
        env["CHATCUSTODY_DATABASE_URL"] = settings.database_url
    return env


def _import_cmd(path: Path) -> list[str]:
    return [sys.executable, "-m", "chatcustody", "import", str(path), "--json"]


@pytest.mark.slow
def test_sigkill_during_import_never_breaks_the_vault(
    make_vault: Any, settings: Settings, tmp_path: Path, backend: str
) -> None:
    """After a kill -9 at a random moment, verify passes; the re-run ends with every record once."""
    make_vault().close()
    export = write_jsonl(tmp_path / "big.jsonl", conversation(N_MESSAGES))
    env = _env(settings)
    # Measure a full run on a scratch vault to spread the kills over the whole import.
    scratch = dict(env, CHATCUSTODY_VAULT=str(tmp_path / "scratch"))
    scratch.pop("CHATCUSTODY_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "chatcustody", "init"], env=scratch, check=True, capture_output=True
    )
    started = time.monotonic()
    subprocess.run(_import_cmd(export), env=scratch, check=True, capture_output=True)
    full = time.monotonic() - started
    rng = random.Random(f"crash-{backend}")
    killed = 0
    for _ in range(KILLS[backend]):
        proc = subprocess.Popen(
            _import_cmd(export), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        time.sleep(rng.uniform(0.05, full * 1.1))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.communicate()
        vault = Vault.open(settings.vault, settings, PASSPHRASE)
        try:
            report = verify_vault(vault)
            assert report.ok, report.failures
            assert stored_counts(vault)["records"] <= N_MESSAGES
        finally:
            vault.close()
    assert killed >= 1, "no run was interrupted: the kill window missed the import"
    subprocess.run(_import_cmd(export), env=env, check=True, capture_output=True)
    vault = Vault.open(settings.vault, settings, PASSPHRASE)
    try:
        assert verify_vault(vault).ok
        counts = stored_counts(vault)
        assert counts["records"] == N_MESSAGES
        assert counts["sources"] == 1
    finally:
        vault.close()
