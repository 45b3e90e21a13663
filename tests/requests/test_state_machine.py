"""Random transitions by random users against a model of the workflow (hypothesis).

Invariants checked after every step: a transition succeeds exactly when the model says it
is legal; no read under a request returns a record outside its frozen scope or after its
expiry; every read attempt under a request leaves an audit event naming the request.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from chatcustody import requests as rq
from chatcustody.access import local_actor
from chatcustody.audit import read_audit
from chatcustody.errors import ChatCustodyError
from chatcustody.identity import set_supervisor
from chatcustody.reading import get_message, search_records
from chatcustody.settings import Settings
from chatcustody.vault import Vault
from tests.conftest import PASSPHRASE
from tests.people import NOW, World, actor, build_world, otp
from tests.requests.conftest import form

DAY = 86_400_000
LIVE_READS: list[bool] = []  # how many reads were under a live request (coverage check)
USERS = ("agent", "team_lead", "legal", "executive", "admin")
SUPERVISOR = {"agent": "team_lead", "team_lead": "executive"}
ROLE_USERS = {"agent", "team_lead", "legal", "executive"}
# Three forms and the records each scope holds, restated from tests.people's world.
FORMS: dict[str, tuple[dict[str, Any], set[tuple[str, str]], bool]] = {
    "guard": (
        {"conversations": ("conv-guard",), "after": "2026-02-01", "before": "2026-03-15"},
        {("inside", "old"), ("inside", "month")},
        True,
    ),
    "march": (
        {
            "conversations": (),
            "after": "2026-03-01",
            "before": "2026-03-21",
            "outputs": frozenset({rq.Output.VIEW_ONLY}),
        },
        {("inside", "month"), ("inside", "week"), ("outside", "month"), ("outside", "week")},
        False,
    ),
    "keyword": (
        {"conversations": (), "after": "2026-01-01", "before": "2026-04-01",
         "keywords": ("outside week",), "context": 0},
        {("outside", "week")},
        True,
    ),
}  # fmt: skip


@dataclass
class Model:
    """What the workflow should have done to one request."""

    id: int
    requester: str
    form: str
    status: rq.Status
    approver: str | None = None
    expires_ms: int | None = None

    def effective(self, at_ms: int) -> rq.Status:
        """Return the state once a passed expiry is applied."""
        if self.status in rq.LIVE and self.expires_ms is not None and at_ms >= self.expires_ms:
            return rq.Status.EXPIRED
        return self.status


def allowed(m: Model, name: str, user: str, at_ms: int) -> bool:
    """Return whether ``user`` may make transition ``name`` on the request now."""
    state = m.effective(at_ms)
    own = user == m.requester
    legal = user == "legal"
    visible = own or legal or SUPERVISOR.get(m.requester) == user
    if not visible:
        return False
    leaves, _ = rq.TRANSITIONS[name]
    if state not in leaves:
        return False
    if name in ("submit", "withdraw", "start"):
        return own
    if name == "request-export":
        return own and FORMS[m.form][2]
    if name == "approve":
        return SUPERVISOR.get(m.requester) == user and not own
    if name == "reject":
        if state is rq.Status.SUBMITTED:
            return SUPERVISOR.get(m.requester) == user and not own
        return legal and not own
    if name in ("review", "release"):
        return legal and not own
    if name == "close":
        return own or legal or m.approver == user
    raise AssertionError(name)


class RequestWorkflow(RuleBasedStateMachine):
    """Drive the real service on a SQLite vault; compare with the model."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="cc-sm-"))
        cfg = Settings(vault=self.tmp / "vault")
        self.vault = Vault.create(cfg.vault, cfg, PASSPHRASE, "Asia/Shanghai")
        self.world: World = build_world(self.vault, self.tmp)
        admin = local_actor(self.vault)
        for user, boss in SUPERVISOR.items():
            set_supervisor(self.vault, admin, user, boss)
        self.now = NOW
        self.models: list[Model] = []
        self.by_record = {rid: key for key, rid in self.world.records.items()}

    def teardown(self) -> None:
        self.vault.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _tick(self) -> None:
        self.now += 31_000  # a fresh TOTP step for every action: no replay refusals

    def _audit_count(self, request_id: int) -> int:
        return sum(1 for e in read_audit(self.vault) if e.details.get("request") == request_id)

    @initialize(which=st.sampled_from(sorted(FORMS)))
    def first_request(self, which: str) -> None:
        """Start every run with the agent's request approved by their supervisor."""
        self.create("agent", which)
        self._do(self.models[0], "submit", "agent", True)
        self._do(self.models[0], "approve", "team_lead", True)
        for record in range(1, 7):  # each run reads under a live request at least once
            self._read(self.models[0], "agent", record)

    @rule(user=st.sampled_from(USERS), which=st.sampled_from(sorted(FORMS)))
    def create(self, user: str, which: str) -> None:
        self._tick()
        try:
            made = rq.create_request(
                self.vault, actor(self.vault, user, self.now), form(**FORMS[which][0])
            )
        except ChatCustodyError:
            assert user not in ROLE_USERS
            return
        assert user in ROLE_USERS
        self.models.append(Model(made.id, user, which, rq.Status.DRAFT))

    @rule(
        data=st.data(),
        name=st.sampled_from(sorted(set(rq.TRANSITIONS) - {"expire"})),
        user=st.sampled_from(USERS),
        good_otp=st.booleans(),
    )
    def transition(self, data: st.DataObject, name: str, user: str, good_otp: bool) -> None:
        if not self.models:
            return
        self._do(data.draw(st.sampled_from(self.models)), name, user, good_otp)

    def _do(self, m: Model, name: str, user: str, good_otp: bool) -> None:
        self._tick()
        who = actor(self.vault, user, self.now)
        code = otp(self.world.users[user], self.now) if good_otp else "000000"
        expect = allowed(m, name, user, self.now)
        if name in ("approve", "release"):
            expect = expect and good_otp
        try:
            if name == "approve":
                got = rq.approve(self.vault, who, m.id, code)
            elif name == "release":
                got = rq.release(self.vault, who, m.id, code, "法院", ("pii:email:非当事人",))
            elif name == "reject":
                got = rq.reject(self.vault, who, m.id, "不符合规定")
            else:
                got = rq.TRANSITION_FUNCTIONS[name](self.vault, who, m.id, None)
        except ChatCustodyError as exc:
            assert not expect, (name, user, m, exc)
            m.status = m.effective(self.now) if m.status in rq.LIVE else m.status
            return
        assert expect, (name, user, m, got.status)
        m.status = rq.TRANSITIONS[name][1]
        assert got.status is m.status
        if name == "release":  # the terms legal fixed travel with the request
            assert got.terms == rq.ReleaseTerms("法院", ("pii:email:非当事人",))
        if name == "approve":
            m.approver = user
            m.expires_ms = self.now + 7 * DAY
            assert got.expires_ms == m.expires_ms

    @rule(
        data=st.data(),
        who_=st.sampled_from(("requester", *USERS)),
        record=st.sampled_from(range(1, 7)),
    )
    def read(self, data: st.DataObject, who_: str, record: int) -> None:
        if not self.models:
            return
        m = data.draw(st.sampled_from(self.models))
        self._read(m, m.requester if who_ == "requester" else who_, record)

    def _read(self, m: Model, user: str, record: int) -> None:
        self._tick()
        before = self._audit_count(m.id)
        who = actor(self.vault, user, self.now)
        scope = {self.world.records[k] for k in FORMS[m.form][1]}
        live = user == m.requester and m.effective(self.now) in (
            rq.Status.APPROVED,
            rq.Status.IN_USE,
        )
        LIVE_READS.append(live)
        try:
            message = get_message(self.vault, who, record, m.id)
        except ChatCustodyError:
            assert not (live and record in scope), (user, m, record)
        else:
            assert live and record in scope and message["id"] == record, (user, m, record)
        try:
            hits = search_records(self.vault, who, "巡逻记录", request_id=m.id)["hits"]
        except ChatCustodyError:
            assert not live
        else:
            assert live and {h["id"] for h in hits} == scope
        assert self._audit_count(m.id) >= before + 2  # both reads audited with the request

    @rule(days=st.sampled_from([1, 3, 8]))
    def advance(self, days: int) -> None:
        self.now += days * DAY

    @rule(data=st.data())
    def progress(self, data: st.DataObject) -> None:
        """Make a legal move by a user allowed to (so runs reach approval and beyond)."""
        moves = [
            (m, name, user)
            for m in self.models
            for name in sorted(set(rq.TRANSITIONS) - {"expire"})
            for user in USERS
            if allowed(m, name, user, self.now + 31_000)
        ]
        if not moves:
            return
        m, name, user = data.draw(st.sampled_from(moves))
        self._do(m, name, user, True)

    @invariant()
    def stored_states_match(self) -> None:
        """Every request is stored in the state the model expects (expiries applied now)."""
        if not self.models:
            return
        viewer = replace(local_actor(self.vault), at_ms=self.now)
        listed = {r.id: r for r in rq.list_requests(self.vault, viewer)}
        for m in self.models:
            m.status = m.effective(self.now)
            assert listed[m.id].status is m.status, (m, listed[m.id].status)


def test_random_workflows_keep_their_invariants() -> None:
    """Random moves by random users: legal moves only, reads inside scope and expiry, audited.

    Also checks the runs were not vacuous: some reads happened under a live request.
    """
    LIVE_READS.clear()
    run_state_machine_as_test(
        RequestWorkflow,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    assert any(LIVE_READS), "no read ran under a live request: the model was not exercised"
