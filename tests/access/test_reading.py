"""Reading through access control, on both backends: scope confinement and audited denials."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatcustody.access import Role
from chatcustody.audit import AuditQuery, query_audit
from chatcustody.errors import AccessDeniedError, NotFoundError
from chatcustody.reading import (
    conversation_messages,
    download_message,
    get_message,
    list_conversations,
    search_records,
)
from chatcustody.tags import add_tag, tagged_record_ids
from chatcustody.vault import Vault
from tests.people import ROLES, World, actor, build_world


@pytest.fixture
def world(vault: Vault, tmp_path: Path) -> World:
    """Return the seeded world."""
    return build_world(vault, tmp_path)


def visible(name: str, side: str, when: str) -> bool:
    """Restate the user's table for reads."""
    role = ROLES[name][0]
    if role in (Role.LEGAL, Role.EXECUTIVE):
        return True
    if role is Role.AGENT:
        return side == "inside" and when == "week"
    if role is Role.TEAM_LEAD:
        return side == "inside" and when in ("week", "month")
    return False


def denials(vault: Vault, name: str) -> int:
    return sum(1 for _ in query_audit(vault, AuditQuery(actor=name, action="access.denied")))


def test_message_reads_follow_the_table_and_denials_are_audited(vault: Vault, world: World) -> None:
    """Each user reads exactly the records the table allows; every refusal is an audit event."""
    for name in ROLES:
        who = actor(vault, name)
        for (side, when), rid in world.records.items():
            before = denials(vault, name)
            if visible(name, side, when):
                msg = get_message(vault, who, rid)
                assert msg["id"] == rid and msg["text"] == f"{side} {when} 巡逻记录"
                assert denials(vault, name) == before
            else:
                error = AccessDeniedError if ROLES[name][0] is None else NotFoundError
                with pytest.raises(error):
                    get_message(vault, who, rid)
                assert denials(vault, name) == before + 1
    views = list(query_audit(vault, AuditQuery(action="record.view", actor="agent")))
    assert len(views) == 1 and views[0].details["decision"]["rule"] == "business_role"


def test_missing_and_out_of_scope_look_the_same(vault: Vault, world: World) -> None:
    """An out-of-scope record and a missing one raise the same 'not found' message."""
    agent = actor(vault, "agent")
    with pytest.raises(NotFoundError) as hidden:
        get_message(vault, agent, world.records[("outside", "week")])
    with pytest.raises(NotFoundError) as missing:
        get_message(vault, agent, 999_999)
    assert str(hidden.value).replace(str(world.records[("outside", "week")]), "N") == str(
        missing.value
    ).replace("999999", "N")


def test_conversations_are_confined(vault: Vault, world: World) -> None:
    """Listings and conversation pages hold only what the scope allows."""
    inside, outside = world.conversations["inside"], world.conversations["outside"]
    agent, lead, legal = (actor(vault, n) for n in ("agent", "team_lead", "legal"))
    assert [c["id"] for c in list_conversations(vault, agent)] == [inside]
    assert {c["id"]: c["messages"] for c in list_conversations(vault, legal)} == {
        inside: 3,
        outside: 3,
    }
    page = conversation_messages(vault, lead, inside)
    assert [m["id"] for m in page["messages"]] == sorted(
        [world.records[("inside", "week")], world.records[("inside", "month")]]
    )
    assert len(conversation_messages(vault, agent, inside)["messages"]) == 1
    with pytest.raises(NotFoundError):
        conversation_messages(vault, agent, outside)
    with pytest.raises(AccessDeniedError):
        list_conversations(vault, actor(vault, "admin"))


def test_download_and_tags_follow_the_table(vault: Vault, world: World) -> None:
    """Download is legal's and executives'; tagging is team leads' (in scope) and up."""
    rid = world.records[("inside", "week")]
    assert download_message(vault, actor(vault, "executive"), rid)["raw"]
    with pytest.raises(AccessDeniedError):
        download_message(vault, actor(vault, "team_lead"), rid)
    with pytest.raises(AccessDeniedError):
        add_tag(vault, actor(vault, "agent"), rid, "紧急")
    assert add_tag(vault, actor(vault, "team_lead"), rid, "紧急") == ["紧急"]
    assert add_tag(vault, actor(vault, "legal"), rid, "ＵＲＧＥＮＴ") == ["紧急", "ＵＲＧＥＮＴ"]
    with pytest.raises(NotFoundError):
        add_tag(vault, actor(vault, "team_lead"), world.records[("inside", "old")], "紧急")
    assert tagged_record_ids(vault, "紧急") == {rid}
    assert tagged_record_ids(vault, "urgent") == {rid}  # NFKC + case folding
    tagged = list(query_audit(vault, AuditQuery(action="record.tag")))
    assert [e.actor for e in tagged] == ["team_lead", "legal"]


def test_search_is_confined_to_the_scope(vault: Vault, world: World) -> None:
    """A search returns nothing outside the caller's scope and is audited with its reason."""
    answer = search_records(vault, actor(vault, "agent"), "巡逻记录")
    ids = {h["id"] for h in answer["hits"]}
    assert ids == {world.records[("inside", "week")]}
    lead = search_records(vault, actor(vault, "team_lead"), "巡逻记录")
    assert {h["id"] for h in lead["hits"]} == {
        world.records[("inside", "week")],
        world.records[("inside", "month")],
    }
    legal = search_records(vault, actor(vault, "legal"), "巡逻记录")
    assert {h["id"] for h in legal["hits"]} == set(world.records.values())
    events = list(query_audit(vault, AuditQuery(action="search.run", actor="agent")))
    assert events and events[-1].details["query"] == "巡逻记录"
    assert events[-1].details["decision"]["scope"]["grant"] == "role:agent"
    with pytest.raises(AccessDeniedError):
        search_records(vault, actor(vault, "auditor"), "巡逻")
