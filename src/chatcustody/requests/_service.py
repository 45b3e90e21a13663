"""The retrieval-request use cases: create, attach, and move through the workflow.

Each function acts at ``actor.at_ms`` (the instant the actor is judged at), checks who may
do what, writes the transition and its history row and audit event (``request.<name>``,
with the request id) in one transaction, then sends best-effort notices. Every refusal is
audited (``access.denied``) with its reason. Approval and release need a person (no API
token) confirming with a fresh TOTP code; neither may be the requester.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from chatcustody.access import (
    Action,
    Actor,
    Resource,
    Role,
    enforce,
)
from chatcustody.audit import append_audit, record_audit
from chatcustody.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    UsageError,
)
from chatcustody.identity import supervisor_id, user_by_id, verify_otp
from chatcustody.model import iso
from chatcustody.requests import _store as store
from chatcustody.requests._access import (
    _conflict,
    _deny,
    _visible,
    expire_due,
    visible_request,
)
from chatcustody.requests._model import (
    TRANSITIONS,
    AttachmentKind,
    Form,
    Output,
    ReleaseTerms,
    RetrievalRequest,
    Status,
)
from chatcustody.requests._notify import notify
from chatcustody.requests._scope import freeze
from chatcustody.store import schema as t
from chatcustody.vault import Vault, next_id

_MS_PER_DAY: Final[int] = 86_400_000
_MAX_TEXT: Final[int] = 4000


def _clean(label: str, value: str, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise UsageError(f"{label} is required")
    if len(text) > _MAX_TEXT:
        raise UsageError(f"{label} is longer than {_MAX_TEXT} characters")
    return text


def _emails(vault: Vault, conn: Connection, ids: Iterable[int]) -> list[str | None]:
    return [user_by_id(vault, conn, i).email for i in sorted(set(ids))]


def _legal_ids(conn: Connection) -> set[int]:
    rows = conn.execute(
        select(t.users.c.id).where(t.users.c.role == Role.LEGAL.value, t.users.c.status == "active")
    )
    return {int(i) for (i,) in rows}


def _notify(
    vault: Vault, request: RetrievalRequest, name: str, actor: str, at: int, before: Status
) -> None:
    notice = {
        "event": "request.transition",
        "request": request.id,
        "transition": name,
        "from": before.value,
        "to": request.status.value,
        "actor": actor,
        "time": iso(at, 0),
        "requester": request.requester,
    }
    with vault.engine.connect() as conn:
        to = {request.requester_id}
        if name == "submit":
            boss = supervisor_id(vault, conn, request.requester_id)
            to |= {boss} if boss is not None else set()
        if name == "request-export":
            to |= _legal_ids(conn)
        emails = _emails(vault, conn, to)
    notify(vault, notice, emails)


def create_request(vault: Vault, actor: Actor, form: Form) -> RetrievalRequest:
    """Create a draft request for the acting user (a business role, no API token); audited."""
    enforce(vault, actor, Action.REQUEST_CREATE, Resource("request"))
    form = Form(
        case_ref=_clean("case reference", form.case_ref),
        legal_basis=_clean("legal basis", form.legal_basis),
        reason=_clean("reason", form.reason),
        after=_clean("after", form.after),
        before=_clean("before", form.before),
        conversations=tuple(_clean("conversation", c) for c in form.conversations),
        participants=tuple(_clean("participant", p) for p in form.participants),
        types=tuple(_clean("type", x) for x in form.types),
        keywords=tuple(_clean("keyword", k) for k in form.keywords),
        context=form.context,
        outputs=form.outputs or frozenset({Output.VIEW_ONLY}),
    )
    if form.context is not None and not 0 <= form.context <= 100:
        raise UsageError("context must be 0 to 100 messages on each side")
    from chatcustody.search import parse_time

    zone = ZoneInfo(vault.default_tz)
    if parse_time(form.after, zone, "after") >= parse_time(form.before, zone, "before"):
        raise UsageError("the window's start (after) must be earlier than its end (before)")
    at = actor.at_ms
    with vault.begin() as conn:
        row: dict[str, Any] = {
            "id": next_id(conn, t.requests),
            "requester_id": actor.user_id,
            "status": Status.DRAFT.value,
            "created_ms": at,
            "updated_ms": at,
            "approver_id": None,
            "expires_ms": None,
        }
        store.seal_body(vault, row, form, None)
        store.insert_request(vault, conn, row)
        store.add_event(vault, conn, row["id"], "create", actor.name, at, None, "draft", None)
        writer = vault.ledger_writer(conn)
        append_audit(
            vault,
            conn,
            writer,
            "request.create",
            {"request": row["id"], "to": "draft", "outputs": sorted(form.outputs)},
            actor.name,
        )
        writer.commit_head(at)
        return store.load(vault, conn, row)


def _check_otp(vault: Vault, actor: Actor, name: str, request_id: int, otp: str | None) -> None:
    if actor.token_scopes is not None:
        _deny(vault, actor, name, request_id, f"{name} needs a person's session, not an API token")
    if not otp or not verify_otp(vault, actor, otp, actor.at_ms):
        record_audit(
            vault,
            "access.denied",
            {
                "action": f"request.{name}",
                "request": request_id,
                "decision": {
                    "allowed": False,
                    "reason": "wrong or reused TOTP code",
                    "rule": "request",
                },
            },
            actor.name,
        )
        raise AuthenticationError("wrong or reused TOTP code")


def _who_may(
    vault: Vault, actor: Actor, name: str, row: dict[str, Any], before: Status
) -> str | None:
    """Return why the actor may not make this transition, or None when they may."""
    requester = int(row["requester_id"])
    uid = actor.user_id
    if uid is None:
        return f"{actor.name} is no vault user: act as one (--as USER)"
    own = uid == requester
    if name in ("submit", "withdraw", "start", "request-export"):
        return None if own else f"only the requester may {name} retrieval request {row['id']}"
    if name == "approve" or (name == "reject" and before is Status.SUBMITTED):
        if own:
            return f"the requester cannot {name} their own request: their supervisor must"
        with vault.engine.connect() as conn:
            boss = supervisor_id(vault, conn, requester)
        if boss is None:
            return "the requester has no supervisor: set one (chatcustody user set-supervisor)"
        return None if boss == uid else f"only the requester's direct supervisor may {name}"
    if name in ("review", "release", "reject"):
        if actor.role is not Role.LEGAL:
            return f"only a legal-role user may {name} an export"
        return None if not own else f"the requester cannot {name} their own export"
    if name == "close":
        if own or actor.role is Role.LEGAL or row["approver_id"] == uid:
            return None
        return "only the requester, the approver or legal may close a request"
    return f"unknown transition {name}"


def _transition(
    vault: Vault,
    actor: Actor,
    request_id: int,
    name: str,
    reason: str | None = None,
    otp: str | None = None,
    terms: ReleaseTerms | None = None,
) -> RetrievalRequest:
    at = actor.at_ms
    moving = Resource("request", request_id, request_id=request_id)
    enforce(vault, actor, Action(f"request.{name}"), moving, request=request_id)
    expire_due(vault, at)
    with vault.engine.connect() as conn:
        try:
            row = store.request_row(vault, conn, request_id)
        except NotFoundError:
            row = None
        _visible(vault, conn, actor, name, request_id, row)
        assert row is not None
        form, frozen = store.open_body(vault, row)
    before = Status(row["status"])
    leaves, to = TRANSITIONS[name]
    why = _who_may(vault, actor, name, row, before)
    if why is not None:
        _deny(vault, actor, name, request_id, why)
    if before not in leaves:
        state = before.value.replace("_", " ")
        _conflict(
            vault,
            actor,
            name,
            request_id,
            f"cannot {name} retrieval request {request_id}: it is {state}",
        )
    if name == "request-export" and form.outputs <= {Output.VIEW_ONLY}:
        _conflict(
            vault,
            actor,
            name,
            request_id,
            f"retrieval request {request_id} asks to view only: nothing to export",
        )
    if name == "reject" and not (reason and reason.strip()):
        raise UsageError("a rejection needs a reason")
    changes: dict[str, Any] = {"updated_ms": at}
    details: dict[str, Any] = {}
    if name == "submit":
        frozen = freeze(vault, form, at, vault.settings.request_context_messages)
        probe = dict(row)
        store.seal_body(vault, probe, form, frozen)
        changes["body_enc"] = probe["body_enc"]
        details["scope"] = frozen.to_json()
    if name == "approve":
        _check_otp(vault, actor, name, request_id, otp)
        changes["approver_id"] = actor.user_id
        changes["expires_ms"] = at + vault.settings.request_approval_days * _MS_PER_DAY
        details["expires"] = iso(changes["expires_ms"], 0)
    if name == "release":
        assert terms is not None
        decision = enforce(vault, actor, Action.EVIDENCE_RELEASE, Resource("request", request_id))
        rules = terms.rules()
        if rules and Output.ORIGINALS in form.outputs:
            raise UsageError(
                f"retrieval request {request_id} asks for originals: they are byte-identical "
                "and would carry every withheld value, so its release cannot redact"
            )
        _check_otp(vault, actor, name, request_id, otp)
        probe = dict(row)
        store.seal_body(vault, probe, form, frozen, terms)
        changes["body_enc"] = probe["body_enc"]
        details["decision"] = decision.to_json()
        details["recipient"] = terms.recipient
        details["redactions"] = len(rules)
        details["rules"] = [r.to_json() for r in rules]  # a value rule's literal is not shown
        reason = f"recipient: {terms.recipient}; redaction rules: {len(rules)}"
    with vault.begin() as conn:
        row = store.request_row(vault, conn, request_id)
        if Status(row["status"]) is not before:
            raise ConflictError(f"retrieval request {request_id} changed meanwhile: look again")
        store.move(vault, conn, row, to, **changes)
        note = reason.strip() if reason and reason.strip() else None
        store.add_event(vault, conn, request_id, name, actor.name, at, before.value, to.value, note)
        writer = vault.ledger_writer(conn)
        append_audit(
            vault,
            conn,
            writer,
            f"request.{name}",
            {
                "request": request_id,
                "from": before.value,
                "to": to.value,
                "reason": note,
                **details,
                **({"session": actor.session} if actor.session else {}),
            },
            actor.name,
        )
        writer.commit_head(at)
        request = store.load(vault, conn, store.request_row(vault, conn, request_id))
    _notify(vault, request, name, actor.name, at, before)
    return request


class Transition(Protocol):
    """A transition that needs no TOTP: ``(vault, actor, request_id, reason=None)``."""

    def __call__(
        self, vault: Vault, actor: Actor, request_id: int, reason: str | None = None
    ) -> RetrievalRequest: ...


def _reasoned(name: str, doc: str) -> Transition:
    """Return the public function of transition ``name`` (an optional reason, no TOTP)."""

    def run(
        vault: Vault, actor: Actor, request_id: int, reason: str | None = None
    ) -> RetrievalRequest:
        return _transition(vault, actor, request_id, name, reason=reason)

    run.__name__ = run.__qualname__ = name.replace("-", "_")
    run.__doc__ = doc
    return run


submit = _reasoned(
    "submit", "Submit a draft: its scope is resolved and frozen; it waits for the supervisor."
)
withdraw = _reasoned("withdraw", "Withdraw one's own request (until it is in use).")
start = _reasoned("start", "Mark an approved request in use (the requester).")
request_export = _reasoned(
    "request-export",
    "Ask for an export (the requester; the outputs must include a package or originals).",
)
review = _reasoned(
    "review",
    "Take an export request into legal review (a legal-role user other than the requester).",
)
close = _reasoned("close", "Close a request (requester, approver or legal).")


def approve(vault: Vault, actor: Actor, request_id: int, otp: str) -> RetrievalRequest:
    """Approve (the requester's direct supervisor, with TOTP); the approval's expiry starts."""
    return _transition(vault, actor, request_id, "approve", otp=otp)


def reject(vault: Vault, actor: Actor, request_id: int, reason: str) -> RetrievalRequest:
    """Reject a submitted request (supervisor) or an export under review (legal), with a reason."""
    return _transition(vault, actor, request_id, "reject", reason=reason)


def release(
    vault: Vault,
    actor: Actor,
    request_id: int,
    otp: str,
    recipient: str,
    redactions: tuple[str, ...] | list[str] = (),
) -> RetrievalRequest:
    """Release the export (legal, not the requester, with TOTP): the evidence-release step.

    The releaser fixes the terms every export of the request then applies: who receives the
    package (``recipient``, watermarked on it) and what is withheld (``redactions``, rules
    ``KIND:VALUE:REASON`` such as ``pii:phone:非当事人``). A bad rule is refused here, named.
    """
    terms = ReleaseTerms(
        _clean("recipient", recipient),
        tuple(_clean("redaction rule", r) for r in redactions),
    )
    if len(terms.redactions) > 50:
        raise UsageError("at most 50 redaction rules")
    terms.rules()
    return _transition(vault, actor, request_id, "release", otp=otp, terms=terms)


#: The transitions that need no TOTP, by name: ``(vault, actor, request_id, reason)``.
TRANSITION_FUNCTIONS: Final[
    dict[str, Callable[[Vault, Actor, int, str | None], RetrievalRequest]]
] = {
    "submit": submit,
    "withdraw": withdraw,
    "start": start,
    "request-export": request_export,
    "review": review,
    "close": close,
}


def add_attachment(
    vault: Vault,
    actor: Actor,
    request_id: int,
    path: Path,
    kind: AttachmentKind,
    name: str | None = None,
) -> RetrievalRequest:
    """Acquire a file (hashed SHA-256 + SM3, stored encrypted) and attach it to a draft."""
    from chatcustody.ingest import Original, digest_file
    from chatcustody.ingest._acquire import acquire

    enforce(
        vault, actor, Action.REQUEST_ATTACH, Resource("request", request_id), request=request_id
    )
    request = visible_request(vault, actor, "attach", request_id)
    if actor.user_id != request.requester_id:
        _deny(vault, actor, "attach", request_id, "only the requester may attach documents")
    if request.status is not Status.DRAFT:
        _conflict(
            vault,
            actor,
            "attach",
            request_id,
            f"retrieval request {request_id} is {request.status.value}: attach before submitting",
        )
    if not path.is_file():
        raise UsageError(f"{path}: not a file")
    source = acquire(vault, Original(path, digest_file(path)), "request-attachment", actor.name)
    label = _clean("attachment name", name or path.name)
    at = actor.at_ms
    with vault.begin() as conn:
        aid = store.add_attachment_row(
            vault, conn, request_id, source.id, kind, label, actor.name, at
        )
        writer = vault.ledger_writer(conn)
        append_audit(
            vault,
            conn,
            writer,
            "request.attach",
            {
                "request": request_id,
                "attachment": aid,
                "kind": kind.value,
                "source_id": source.id,
                "sha256": source.digest.sha256,
                "sm3": source.digest.sm3,
                "size": source.digest.size,
            },
            actor.name,
        )
        writer.commit_head(at)
    return visible_request(vault, actor, "attach", request_id)
