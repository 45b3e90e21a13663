"""The demo vault: the user's own cases, everyday chats, an operation log and a user per role.

Bundled samples (``chatcustody.samples``): the delivery-delay complaint, the internal
investigation (23 key messages between 08:30 and 09:15 in the guard duty group, tagged
``内部调查`` by the legal user) with the operation log's three abnormal logins, everyday
guard-team and customer-service chats in Chinese and English. A new demo vault also gets a
few chats dated today, so agents (this week) and team leads (this month) see something.

Demo users' passwords and TOTP secrets are issued anew on every run (they are printed, and
the vault keeps only their hashes).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import select

from chatcustody._env import now_ms
from chatcustody.access import (
    Role,
    Tier,
    add_to_group,
    create_group,
    list_groups,
    local_actor,
)
from chatcustody.identity import (
    actor_of,
    create_user,
    reset_otp,
    set_password,
    set_supervisor,
    user_exists,
)
from chatcustody.identity._secrets import new_password
from chatcustody.ingest import ImportSummary, import_file
from chatcustody.model import to_epoch_ms
from chatcustody.store import schema as t
from chatcustody.tags import add_tag
from chatcustody.vault import Vault
from chatcustody.verify import VerifyReport, verify_vault

INVESTIGATION_TAG: Final[str] = "内部调查"
SAMPLES: Final[tuple[tuple[str, str | None], ...]] = (
    ("guard-team.jsonl", None),
    ("investigation.jsonl", None),
    ("operation-log.csv", "events"),
)
#: username → (role, tiers, groups)
USERS: Final[dict[str, tuple[Role | None, tuple[Tier, ...], tuple[str, ...]]]] = {
    "agent": (Role.AGENT, (), ("客服组",)),
    "team_lead": (Role.TEAM_LEAD, (), ("客服组", "护卫队")),
    "legal": (Role.LEGAL, (), ()),
    "executive": (Role.EXECUTIVE, (), ()),
    "operator": (None, (Tier.OPERATOR,), ()),
    "admin": (None, (Tier.ADMIN,), ()),
    "admin2": (None, (Tier.ADMIN,), ()),
    "auditor": (None, (Tier.AUDITOR,), ()),
}
#: user → direct supervisor (who approves their retrieval requests)
SUPERVISORS: Final[dict[str, str]] = {
    "agent": "team_lead",
    "team_lead": "executive",
    "legal": "executive",
}
#: group → platform conversation ids it holds
GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "客服组": ("wrOgQhDgAAdelivery0314", "wrOgQhDgAAcustomerC", "wrOgQhDgAAcsdaily", "C024BE91L"),
    "护卫队": ("wrOgQhDgAAguardduty", "wrOgQhDgAApatrol"),
}
_TODAY: Final[tuple[tuple[str, str, str, str, str], ...]] = (
    ("wrOgQhDgAApatrol", "护卫队巡逻", "zhao_guard", "赵队长", "各岗位报一下位置，开始午间巡逻。"),
    ("wrOgQhDgAApatrol", "护卫队巡逻", "sun_guard", "孙磊", "B区停车场巡查完毕，一切正常。"),
    (
        "wrOgQhDgAApatrol",
        "护卫队巡逻",
        "qian_guard",
        "钱勇",
        "8号门读卡器已经修好，临时卡全部收回。",
    ),
    (
        "wrOgQhDgAAcsdaily",
        "客服组日常",
        "kefu_a",
        "客服A（王敏）",
        "今天的外卖超时投诉有两单，已安抚。",
    ),
    (
        "wrOgQhDgAAcsdaily",
        "客服组日常",
        "kefu_d",
        "客服D（陈静）",
        "Order 9107: refund approved, customer thanked us.",
    ),
    (
        "wrOgQhDgAAcsdaily",
        "客服组日常",
        "lead_k",
        "客服组长（刘洋）",
        "下午三点开周会，复盘本周的投诉处理时效。",
    ),
)


@dataclass
class DemoUser:
    """A demo user and the credentials issued to them on this run."""

    username: str
    role: Role | None
    tiers: tuple[Tier, ...]
    groups: tuple[str, ...]
    password: str
    totp_secret: str
    otpauth_uri: str
    supervisor: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "username": self.username,
            "role": self.role.value if self.role else None,
            "tiers": [x.value for x in self.tiers],
            "groups": list(self.groups),
            "password": self.password,
            "totp_secret": self.totp_secret,
            "otpauth_uri": self.otpauth_uri,
            "supervisor": self.supervisor,
        }


@dataclass
class DemoResult:
    """What building the demo did."""

    summary: ImportSummary
    report: VerifyReport
    users: list[DemoUser] = field(default_factory=list)
    tagged: int = 0


def _today_file(vault: Vault, folder: Path) -> Path:
    """Write a few of today's chats (so this week's and month's scopes are not empty)."""
    now = now_ms()
    zone = ZoneInfo(vault.default_tz)
    path = folder / "today.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i, (conv, title, sender, name, text) in enumerate(_TODAY):
            ts = now - (len(_TODAY) - i) * 7 * 60_000
            f.write(
                json.dumps(
                    {
                        "platform": "wecom",
                        "conversation_id": conv,
                        "conversation_name": title,
                        "conversation_kind": "group",
                        "message_id": f"today-{ts}-{i}",
                        "sender_id": sender,
                        "sender_name": name,
                        "timestamp": datetime.fromtimestamp(ts / 1000, zone).isoformat(),
                        "type": "text",
                        "text": text,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    return path


def _conversation_ids(vault: Vault) -> dict[str, int]:
    """Return the vault ids of the demo's conversations, by their platform ids."""
    wanted = {c for members in GROUPS.values() for c in members}
    out: dict[str, int] = {}
    with vault.engine.connect() as conn:
        for source_id in wanted:
            platform = "slack" if source_id.startswith("C0") else "wecom"
            key = vault.blinder.blind(platform, "conversation", source_id)
            cid = conn.execute(
                select(t.conversations.c.id).where(
                    t.conversations.c.platform == platform, t.conversations.c.source_key == key
                )
            ).scalar_one_or_none()
            if cid is not None:
                out[source_id] = int(cid)
    return out


def _key_messages(vault: Vault, duty: int) -> list[int]:
    zone = ZoneInfo("Asia/Shanghai")
    start = to_epoch_ms(datetime(2026, 3, 20, 8, 30, tzinfo=zone))
    end = to_epoch_ms(datetime(2026, 3, 20, 9, 15, tzinfo=zone))
    with vault.engine.connect() as conn:
        return [
            int(r)
            for r in conn.execute(
                select(t.records.c.id).where(
                    t.records.c.conversation_id == duty,
                    t.records.c.ts_ms >= start,
                    t.records.c.ts_ms < end,
                    t.records.c.type == "text",
                )
            ).scalars()
        ]


def build_demo(vault: Vault, new: bool) -> DemoResult:
    """Import the samples, set up groups and users, tag the case, verify; return it all."""
    summary = ImportSummary()
    for name, fmt in SAMPLES:
        with as_file(files("chatcustody.samples") / name) as path:
            summary.files.append(import_file(vault, path, fmt))
    if new:
        with tempfile.TemporaryDirectory() as folder:
            summary.files.append(import_file(vault, _today_file(vault, Path(folder))))
    admin = local_actor(vault)
    conversations = _conversation_ids(vault)
    existing = {g.name: g for g in list_groups(vault, admin)}
    for group, members in GROUPS.items():
        current = existing.get(group) or create_group(vault, admin, group)
        for source_id in members:
            cid = conversations.get(source_id)
            if cid is not None and cid not in current.conversations:
                add_to_group(vault, admin, group, conversation_id=cid)
    result = DemoResult(summary, VerifyReport())
    for username, (role, tiers, groups) in USERS.items():
        password = new_password()
        if user_exists(vault, username):
            set_password(vault, admin, username, password)
            enrolment = reset_otp(vault, admin, username)
        else:
            enrolment = create_user(vault, admin, username, role, tiers, password=password)
            for group in groups:
                add_to_group(vault, admin, group, username=username)
        result.users.append(
            DemoUser(
                username,
                role,
                tiers,
                groups,
                password,
                enrolment.totp_secret,
                enrolment.otpauth_uri,
                SUPERVISORS.get(username),
            )
        )
    for username, supervisor in SUPERVISORS.items():
        set_supervisor(vault, admin, username, supervisor)
    duty = conversations.get("wrOgQhDgAAguardduty")
    if duty is not None:
        legal = actor_of(vault, "legal")
        for rid in _key_messages(vault, duty):
            add_tag(vault, legal, rid, INVESTIGATION_TAG)
            result.tagged += 1
    result.report = verify_vault(vault)
    return result


__all__ = ["DemoResult", "DemoUser", "build_demo"]
