"""Best-effort notices of request transitions: a webhook POST and e-mail over SMTP.

A notice names the request, the transition, its actor and the new state — never the case,
the reason or the scope, which stay sealed in the vault. Delivery never blocks a
transition: a failure is logged and audited (``request.notify_failed``) and forgotten.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from collections.abc import Iterable
from email.message import EmailMessage
from typing import Any

from chatcustody.audit import record_audit
from chatcustody.vault import Vault

log = logging.getLogger(__name__)


def _failed(vault: Vault, channel: str, notice: dict[str, Any], exc: BaseException) -> None:
    log.warning("request notice by %s failed: %s", channel, exc)
    record_audit(
        vault,
        "request.notify_failed",
        {"channel": channel, "request": notice["request"], "error": str(exc)},
        None,
    )


def _webhook(vault: Vault, url: str, notice: dict[str, Any]) -> None:
    body = json.dumps(notice, ensure_ascii=False).encode()
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=vault.settings.notify_timeout_seconds) as answer:
        if answer.status >= 300:
            raise OSError(f"webhook answered HTTP {answer.status}")


def _mail(vault: Vault, host: str, to: list[str], notice: dict[str, Any]) -> None:
    s = vault.settings
    msg = EmailMessage()
    msg["From"] = s.notify_smtp_from
    msg["To"] = ", ".join(to)
    msg["Subject"] = f"[chatcustody] 调取申请 {notice['request']}: {notice['to']}"
    msg.set_content(
        f"调取申请（retrieval request）{notice['request']}\n"
        f"{notice['transition']} by {notice['actor']} at {notice['time']}\n"
        f"state: {notice['from']} -> {notice['to']}\n"
        f"requester: {notice['requester']}\n\n"
        "Details are in the chatcustody inbox (GET /api/v1/inbox).\n"
    )
    with smtplib.SMTP(host, s.notify_smtp_port, timeout=s.notify_timeout_seconds) as smtp:
        smtp.send_message(msg)


def notify(vault: Vault, notice: dict[str, Any], emails: Iterable[str | None]) -> None:
    """Send a notice by webhook and e-mail as configured; never raise."""
    s = vault.settings
    if s.notify_webhook_url:
        try:
            _webhook(vault, s.notify_webhook_url, notice)
        except (OSError, urllib.error.URLError, ValueError) as exc:
            _failed(vault, "webhook", notice, exc)
    to = sorted({e for e in emails if e})
    if s.notify_smtp_host and to:
        try:
            _mail(vault, s.notify_smtp_host, to, notice)
        except (OSError, smtplib.SMTPException) as exc:
            _failed(vault, "smtp", notice, exc)
