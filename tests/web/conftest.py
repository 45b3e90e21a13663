"""An in-process API client over a seeded vault, with the clock fixed at tests.people.NOW."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chatcustody.vault import Vault
from chatcustody.web import create_app
from tests.people import NOW, PASSWORD, World, build_world, otp


@dataclass
class Api:
    """The client, the world behind it and a bearer token per role."""

    client: TestClient
    world: World
    tokens: dict[str, str]
    vault: Vault

    def headers(self, name: str) -> dict[str, str]:
        """Return the Authorization header of a role's user."""
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@pytest.fixture
def api(vault: Vault, tmp_path: Path) -> Iterator[Api]:
    """Return a client logged in as one user per role and tier."""
    world = build_world(vault, tmp_path)
    app = create_app(vault, clock=lambda: NOW)
    with TestClient(app, base_url="https://testserver") as client:
        tokens = {}
        for name, enrolment in world.users.items():
            r = client.post(
                "/api/v1/auth/login",
                json={"username": name, "password": PASSWORD, "otp": otp(enrolment)},
            )
            assert r.status_code == 200, r.text
            tokens[name] = r.json()["token"]
        client.cookies.clear()
        yield Api(client, world, tokens, vault)
