"""A request's frozen scope in every reader's SQL: search, timeline, listings (both backends)."""

from __future__ import annotations

import pytest

from chatcustody import requests as rq
from chatcustody.access import Action
from chatcustody.dualcontrol import request_action
from chatcustody.errors import UsageError
from chatcustody.reading import (
    conversation_messages,
    list_conversations,
    search_records,
    timeline_records,
)
from chatcustody.vault import Vault
from tests.people import NOW, World, actor, otp
from tests.requests.conftest import form


def _approve(vault: Vault, world: World, step: int = 0, **overrides: object) -> int:
    agent = actor(vault, "agent")
    rid = rq.create_request(vault, agent, form(**overrides)).id
    rq.submit(vault, agent, rid)
    at = NOW + step * 30_000
    rq.approve(vault, actor(vault, "team_lead", at), rid, otp(world.users["team_lead"], at))
    return rid


def test_keyword_scope_confines_every_reader(vault: Vault, world: World) -> None:
    """Only the keyword's match (context 0) is searched, listed, paged and on the timeline."""
    rid = _approve(
        vault,
        world,
        conversations=(),
        after="2026-01-01",
        before="2026-04-01",
        keywords=("outside month",),
        context=0,
    )
    agent = actor(vault, "agent")
    only = world.records[("outside", "month")]
    hits = search_records(vault, agent, "巡逻记录", request_id=rid)
    assert [h["id"] for h in hits["hits"]] == [only] and hits["total"] == 1
    tl = timeline_records(vault, agent, "2026-01-01", "2026-04-01", events=True, request_id=rid)
    assert [e["id"] for e in tl["entries"]] == [only]
    convs = list_conversations(vault, agent, rid)
    assert [(c["id"], c["messages"]) for c in convs] == [(world.conversations["outside"], 1)]
    page = conversation_messages(vault, agent, world.conversations["outside"], request_id=rid)
    assert [m["id"] for m in page["messages"]] == [only]


def test_participant_and_type_scope(vault: Vault, world: World) -> None:
    """A type the records do not have leaves nothing; their sender (by name) keeps them."""
    rid = _approve(vault, world, types=("image",))
    agent = actor(vault, "agent")
    assert search_records(vault, agent, "巡逻记录", request_id=rid)["hits"] == []
    assert rq.scoped_record_ids(vault, rq.get_request(vault, agent, rid)) == []
    rid2 = _approve(vault, world, step=1, participants=("赵队长",), types=("text",))
    request = rq.get_request(vault, agent, rid2)
    assert request.scope is not None and request.scope.participant_ids is not None
    want = [world.records[("inside", "old")], world.records[("inside", "month")]]
    assert rq.scoped_record_ids(vault, request) == want
    hits = search_records(vault, agent, "巡逻记录", request_id=rid2)["hits"]
    assert sorted(h["id"] for h in hits) == sorted(want)
    with pytest.raises(UsageError, match="no participant"):
        _approve(vault, world, step=2, participants=("无此人",))


def test_evidence_release_is_the_request_step() -> None:
    """Dual control's evidence.release points to the request's release step."""
    with pytest.raises(UsageError, match="release"):
        request_action(None, None, Action.EVIDENCE_RELEASE, {})  # type: ignore[arg-type]
