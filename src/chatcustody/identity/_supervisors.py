"""Who supervises whom: each user's direct supervisor approves their retrieval requests.

One row per supervised user, covered by a row MAC (``access._sealing``): a supervisor
written into the database by hand is refused loudly, never obeyed. Admins change it at the
command line (the passphrase holder) or through dual control in the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from chatcustody._env import now_ms
from chatcustody.access import (
    Action,
    Actor,
    Resource,
    check_mac,
    decision_details,
    enforce,
    row_mac,
)
from chatcustody.audit import append_audit
from chatcustody.errors import NotFoundError, UsageError
from chatcustody.identity._users import DELETED, user_row
from chatcustody.store import schema as t
from chatcustody.vault import Vault


def _mac(vault: Vault, user_id: int, supervisor_id: int, set_by: str, set_ms: int) -> bytes:
    return row_mac(vault, "supervisors", user_id, supervisor_id, set_by, set_ms)


def _check(vault: Vault, row: Mapping[Any, Any]) -> None:
    """Refuse a supervisor row whose MAC does not match (written by hand)."""
    check_mac(
        vault,
        row["mac"],
        "supervisors",
        row["user_id"],
        row["supervisor_id"],
        row["set_by"],
        row["set_ms"],
    )


def supervisor_id(vault: Vault, conn: Connection, user_id: int) -> int | None:
    """Return the user id of ``user_id``'s direct supervisor (MAC checked), or None."""
    row = (
        conn.execute(select(t.supervisors).where(t.supervisors.c.user_id == user_id))
        .mappings()
        .first()
    )
    if row is None:
        return None
    _check(vault, row)
    return int(row["supervisor_id"])


def supervised_ids(vault: Vault, conn: Connection, supervisor: int) -> set[int]:
    """Return the ids of the users ``supervisor`` directly supervises (MACs checked)."""
    rows = conn.execute(
        select(t.supervisors).where(t.supervisors.c.supervisor_id == supervisor)
    ).mappings()
    out = set()
    for row in rows:
        _check(vault, row)
        out.add(int(row["user_id"]))
    return out


def set_supervisor(
    vault: Vault, actor: Actor, username: str, supervisor: str | None
) -> dict[str, str | None]:
    """Make ``supervisor`` the direct supervisor of ``username`` (None clears it); audited."""
    decision = enforce(vault, actor, Action.SUPERVISOR_SET, Resource("user", username))
    at = now_ms()
    with vault.begin() as conn:
        row = user_row(vault, conn, username)
        if row is None or row["status"] == DELETED:
            raise NotFoundError(f"user {username!r} not found")
        uid = int(row["id"])
        conn.execute(delete(t.supervisors).where(t.supervisors.c.user_id == uid))
        if supervisor is not None:
            boss = user_row(vault, conn, supervisor)
            if boss is None or boss["status"] == DELETED:
                raise NotFoundError(f"user {supervisor!r} not found")
            if int(boss["id"]) == uid:
                raise UsageError(f"{username} cannot supervise themselves")
            if not boss["role"]:
                raise UsageError(
                    f"{supervisor} holds no business role: a supervisor approves access to "
                    "chat content and needs one"
                )
            conn.execute(
                insert(t.supervisors).values(
                    user_id=uid,
                    supervisor_id=int(boss["id"]),
                    set_by=actor.name,
                    set_ms=at,
                    mac=_mac(vault, uid, int(boss["id"]), actor.name, at),
                )
            )
        writer = vault.ledger_writer(conn)
        append_audit(
            vault,
            conn,
            writer,
            "user.supervisor",
            decision_details(actor, decision, user=username, supervisor=supervisor),
            actor.name,
        )
        writer.commit_head(at)
    return {"user": username, "supervisor": supervisor}
