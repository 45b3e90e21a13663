"""A seeded world for retrieval requests: the people of tests.people, with supervisors.

The team lead directly supervises the agent; the executive supervises the team lead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chatcustody.access import local_actor
from chatcustody.identity import set_supervisor
from chatcustody.requests import Form, Output
from chatcustody.vault import Vault
from tests.people import World, build_world


@pytest.fixture
def world(vault: Vault, tmp_path: Path) -> World:
    """Return the people's world with the agent supervised by the team lead."""
    w = build_world(vault, tmp_path)
    admin = local_actor(vault)
    set_supervisor(vault, admin, "agent", "team_lead")
    set_supervisor(vault, admin, "team_lead", "executive")
    return w


def form(**overrides: object) -> Form:
    """Return a request form for last month's and this month's guard records."""
    fields: dict[str, object] = {
        "case_ref": "（2026）沪0101民初1234号",
        "legal_basis": "民事诉讼法第六十七条",
        "reason": "客户投诉调查：核对巡逻记录",
        "after": "2026-02-01",
        "before": "2026-03-15",
        "conversations": ("conv-guard",),
        "outputs": frozenset({Output.VIEW_ONLY, Output.PACKAGE}),
    }
    fields.update(overrides)
    return Form(**fields)  # type: ignore[arg-type]
