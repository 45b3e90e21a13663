"""Property-based API fuzzing from the app's own OpenAPI schema: no input yields a 5xx."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from chatcustody.settings import Settings
from chatcustody.vault import Vault
from chatcustody.web import create_app
from tests.conftest import PASSPHRASE
from tests.people import NOW, PASSWORD, build_world, otp

EXAMPLES = 10
# Who calls each path: admins manage, auditors read the trail, legal reads content.
CALLER = {"/api/v1/users": "admin", "/api/v1/groups": "admin", "/api/v1/approvals": "admin",
          "/api/v1/audit": "auditor"}  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, dict[str, str]]]:
    """Serve a seeded vault (once per backend) and log in one user per role."""
    url, name = None, ""
    if request.param == "postgres":
        admin_url = request.getfixturevalue("pg_server")
        name = f"cc_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    cfg = Settings(vault=tmp / "vault", database_url=url, login_rate_per_minute=10_000)
    vault = Vault.create(cfg.vault, cfg, PASSPHRASE, "Asia/Shanghai")
    try:
        world = build_world(vault, tmp)
        app = create_app(vault, clock=lambda: NOW)
        tokens = {}
        with TestClient(app, base_url="https://testserver") as client:
            for user in ("legal", "admin", "auditor"):
                r = client.post(
                    "/api/v1/auth/login",
                    json={"username": user, "password": PASSWORD, "otp": otp(world.users[user])},
                )
                tokens[user] = r.json()["token"]
        yield app, tokens
    finally:
        vault.close()
        if name:
            with psycopg.connect(request.getfixturevalue("pg_server"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_no_server_errors(served: tuple[Any, dict[str, str]]) -> None:
    """Any request the schema allows, valid or not, is answered without a 5xx."""
    app, tokens = served
    # Logout is left out so the callers' sessions survive the run.
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(
        path="/api/v1/auth/logout"
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        caller = next((u for p, u in CALLER.items() if operation.path.startswith(p)), "legal")

        _fuzz(operation, {"Authorization": f"Bearer {tokens[caller]}"})


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    """Run one operation's generated cases and check that none gets a 5xx."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def call(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    call()
