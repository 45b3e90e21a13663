"""Notices: e-mail through a real local SMTP server; failures audited, never blocking."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from chatcustody import requests as rq
from chatcustody.access import Role, local_actor
from chatcustody.audit import read_audit
from chatcustody.identity import create_user, set_supervisor
from chatcustody.vault import Vault
from tests.people import PASSWORD, World, actor
from tests.requests.conftest import form


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        mail = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), mail))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    """Run a real SMTP server (aiosmtpd) on a free local port."""
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_submission_mails_the_supervisor(
    vault: Vault, world: World, smtp: tuple[_Inbox, int]
) -> None:
    """Submitting mails the requester and their supervisor, without the sealed details."""
    inbox, port = smtp
    admin = local_actor(vault)
    create_user(vault, admin, "boss", Role.TEAM_LEAD, password=PASSWORD, email="boss@example.cn")
    create_user(vault, admin, "clerk", Role.AGENT, password=PASSWORD, email="clerk@example.cn")
    set_supervisor(vault, admin, "clerk", "boss")
    vault.settings = vault.settings.model_copy(
        update={"notify_smtp_host": "127.0.0.1", "notify_smtp_port": port}
    )
    clerk = actor(vault, "clerk")
    rid = rq.create_request(vault, clerk, form()).id
    rq.submit(vault, clerk, rid)
    assert len(inbox.messages) == 1
    to, mail = inbox.messages[0]
    assert sorted(to) == ["boss@example.cn", "clerk@example.cn"]
    assert f"调取申请 {rid}" in str(mail["Subject"])
    assert isinstance(mail, EmailMessage)
    body = mail.get_content()
    assert "submitted" in body and "调取申请" in body
    assert "沪0101" not in body  # the case reference stays in the vault


def test_unreachable_channels_are_audited_not_blocking(vault: Vault, world: World) -> None:
    """A dead webhook and SMTP server: the transition still happens; both failures audited."""
    dead = _free_port()
    vault.settings = vault.settings.model_copy(
        update={
            "notify_webhook_url": f"http://127.0.0.1:{dead}/hook",
            "notify_smtp_host": "127.0.0.1",
            "notify_smtp_port": dead,
            "notify_timeout_seconds": 2.0,
        }
    )
    admin = local_actor(vault)
    create_user(vault, admin, "clerk", Role.AGENT, password=PASSWORD, email="clerk@example.cn")
    clerk = actor(vault, "clerk")
    rid = rq.create_request(vault, clerk, form()).id
    assert rq.submit(vault, clerk, rid).status is rq.Status.SUBMITTED
    failed = [e.details for e in read_audit(vault, "request.notify_failed")]
    assert sorted(d["channel"] for d in failed) == ["smtp", "webhook"]
    assert all(d["request"] == rid for d in failed)
