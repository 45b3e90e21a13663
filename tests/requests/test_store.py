"""Requests at rest: the form, reasons and attachment names sealed; granting columns MAC'd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update

from chatcustody import requests as rq
from chatcustody.errors import IntegrityError
from chatcustody.reading import get_message
from chatcustody.store import schema as t
from chatcustody.vault import Vault
from tests.people import NOW, World, actor, otp
from tests.requests.conftest import form

SECRETS = {
    "case": "（2026）京0105刑初9876号保密案",
    "reason": "调查内鬼泄密 secret-reason-5521",
    "keyword": "机密关键词Kappa",
    "rejection": "驳回理由：范围过宽 secret-7",
    "attachment": "客户同意书-王小二.pdf",
}


def test_no_plaintext_in_any_vault_file(vault: Vault, world: World, tmp_path: Path) -> None:
    """Case reference, reason, keywords, a rejection reason and a file name stay sealed."""
    agent = actor(vault, "agent")
    made = rq.create_request(
        vault,
        agent,
        form(case_ref=SECRETS["case"], reason=SECRETS["reason"], keywords=(SECRETS["keyword"],)),
    )
    consent = tmp_path / "consent.pdf"
    consent.write_bytes(b"%PDF-1.7 signed consent")
    rq.add_attachment(
        vault, agent, made.id, consent, rq.AttachmentKind.CONSENT, SECRETS["attachment"]
    )
    rq.submit(vault, agent, made.id)
    rq.reject(vault, actor(vault, "team_lead"), made.id, SECRETS["rejection"])
    shown = rq.get_request(vault, agent, made.id)
    assert shown.form.case_ref == SECRETS["case"]
    assert shown.history[-1].reason == SECRETS["rejection"]
    assert shown.attachments[0].name == SECRETS["attachment"]
    needles = [v.encode() for v in SECRETS.values()] + [
        json.dumps(v).encode() for v in SECRETS.values()
    ]
    files = [p for p in vault.path.rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} found in {path}"
    if vault.engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with vault.engine.connect() as conn:
            for table in ("requests", "request_events", "request_attachments", "audit"):
                for row in conn.execute(text(f'select * from "{table}"')):
                    blob = repr(tuple(row)).encode()
                    assert not any(n in blob for n in needles), table


def test_extending_a_request_by_hand_is_refused(vault: Vault, world: World) -> None:
    """An expiry pushed out (or a state changed) in the database breaks the row MAC: refused."""
    agent = actor(vault, "agent")
    rid = rq.create_request(vault, agent, form()).id
    rq.submit(vault, agent, rid)
    rq.approve(vault, actor(vault, "team_lead"), rid, otp(world.users["team_lead"]))
    with vault.begin() as conn:
        conn.execute(
            update(t.requests).where(t.requests.c.id == rid).values(expires_ms=NOW + 10**12)
        )
    with pytest.raises(IntegrityError, match="MAC"):
        get_message(vault, agent, world.records[("inside", "old")], rid)
    with pytest.raises(IntegrityError):
        rq.get_request(vault, agent, rid)
