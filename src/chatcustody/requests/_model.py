"""The retrieval request (电子证据调取申请单): its states, transitions, form and frozen scope.

States and who moves a request between them::

    draft ──submit──▶ submitted ──approve──▶ approved ──start──▶ in_use
      │                 │  (direct supervisor,          │            │
      │                 │   not the requester, TOTP)    │     request-export
      │                 └──reject (reason)──▶ rejected  │            ▼
      │                                                 │     export_requested
      └─withdraw (requester, until in use)─▶ withdrawn  │            │ review (legal)
                                                        │            ▼
         closed ◀──close── approved … released          │      legal_review ──reject──▶ rejected
         expired ◀─ the approval's expiry passes ───────┘            │ release (legal, not
                                                                     ▼ the requester, TOTP)
                                                                  released

The scope is frozen at submission (a wider need is a new request); an approval carries an
expiry (``request_approval_days``), after which the request is expired whatever its state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from chatcustody.access import Scope
from chatcustody.errors import UsageError
from chatcustody.model import iso

if TYPE_CHECKING:
    from chatcustody.evidence import Redaction


class Status(StrEnum):
    """Where a retrieval request stands."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    IN_USE = "in_use"
    EXPORT_REQUESTED = "export_requested"
    LEGAL_REVIEW = "legal_review"
    RELEASED = "released"
    CLOSED = "closed"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class Output(StrEnum):
    """What the requester wants out of the vault."""

    VIEW_ONLY = "view_only"
    PACKAGE = "package"
    ORIGINALS = "originals"


class AttachmentKind(StrEnum):
    """What an attached document is."""

    CONSENT = "consent"  # the customer's consent, an e-signed file
    SEAL_PHOTO = "seal_photo"  # the storage-media seal photo
    OTHER = "other"


#: States whose approval is running: the expiry applies to them.
LIVE: Final[frozenset[Status]] = frozenset(
    {
        Status.APPROVED,
        Status.IN_USE,
        Status.EXPORT_REQUESTED,
        Status.LEGAL_REVIEW,
        Status.RELEASED,
    }
)
#: States nothing leaves.
FINAL: Final[frozenset[Status]] = frozenset(
    {Status.REJECTED, Status.CLOSED, Status.EXPIRED, Status.WITHDRAWN}
)
#: transition name -> (states it leaves, state it enters).
TRANSITIONS: Final[Mapping[str, tuple[frozenset[Status], Status]]] = {
    "submit": (frozenset({Status.DRAFT}), Status.SUBMITTED),
    "approve": (frozenset({Status.SUBMITTED}), Status.APPROVED),
    "reject": (frozenset({Status.SUBMITTED, Status.LEGAL_REVIEW}), Status.REJECTED),
    "withdraw": (
        frozenset({Status.DRAFT, Status.SUBMITTED, Status.APPROVED, Status.IN_USE}),
        Status.WITHDRAWN,
    ),
    "start": (frozenset({Status.APPROVED}), Status.IN_USE),
    "request-export": (frozenset({Status.APPROVED, Status.IN_USE}), Status.EXPORT_REQUESTED),
    "review": (frozenset({Status.EXPORT_REQUESTED}), Status.LEGAL_REVIEW),
    "release": (frozenset({Status.LEGAL_REVIEW}), Status.RELEASED),
    "close": (LIVE, Status.CLOSED),
    "expire": (LIVE, Status.EXPIRED),
}


@dataclass(frozen=True)
class Form:
    """What the requester fills in: who asks for what, why, and what they want out.

    ``conversations`` are vault conversation ids or conversation source ids / titles;
    ``participants`` sender source ids or names; ``after`` / ``before`` a window in the
    vault's zone unless they carry an offset (``after`` inclusive, ``before`` exclusive);
    ``keywords`` narrow the scope to their matches plus ``context`` messages each side.
    """

    case_ref: str
    legal_basis: str
    reason: str
    after: str
    before: str
    conversations: tuple[str, ...] = ()
    participants: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    context: int | None = None
    outputs: frozenset[Output] = frozenset({Output.VIEW_ONLY})

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (sealed in the database)."""
        return {
            "case_ref": self.case_ref,
            "legal_basis": self.legal_basis,
            "reason": self.reason,
            "after": self.after,
            "before": self.before,
            "conversations": list(self.conversations),
            "participants": list(self.participants),
            "types": list(self.types),
            "keywords": list(self.keywords),
            "context": self.context,
            "outputs": sorted(o.value for o in self.outputs),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Form:
        """Return the form from its JSON form."""
        return cls(
            case_ref=str(data["case_ref"]),
            legal_basis=str(data["legal_basis"]),
            reason=str(data["reason"]),
            after=str(data["after"]),
            before=str(data["before"]),
            conversations=tuple(data.get("conversations") or ()),
            participants=tuple(data.get("participants") or ()),
            types=tuple(data.get("types") or ()),
            keywords=tuple(data.get("keywords") or ()),
            context=data.get("context"),
            outputs=frozenset(Output(o) for o in data.get("outputs") or ("view_only",)),
        )


@dataclass(frozen=True)
class FrozenScope:
    """The scope fixed at submission: resolved ids, the window, and keyword records.

    ``record_ids`` (keyword scope) lists the matches and their context, sorted; None when
    no keywords were given. ``matches`` counts the keyword matches among them.
    """

    conversation_ids: tuple[int, ...] | None
    participant_ids: tuple[int, ...] | None
    after_ms: int
    before_ms: int
    types: tuple[str, ...] | None
    keywords: tuple[str, ...]
    context: int
    record_ids: tuple[int, ...] | None
    matches: int
    frozen_ms: int

    def access_scope(self, request_id: int) -> Scope:
        """Return the scope decide() grants under this request (grant ``request:ID``)."""

        def opt(values: tuple[Any, ...] | None) -> frozenset[Any] | None:
            return None if values is None else frozenset(values)

        return Scope(
            opt(self.conversation_ids),
            self.after_ms,
            self.before_ms,
            f"request:{request_id}",
            participants=opt(self.participant_ids),
            types=opt(self.types),
            record_ids=opt(self.record_ids),
        )

    def to_json(self, with_ids: bool = False) -> dict[str, Any]:
        """Return the JSON form; ``with_ids`` includes the keyword record ids."""
        out: dict[str, Any] = {
            "conversation_ids": None
            if self.conversation_ids is None
            else list(self.conversation_ids),
            "participant_ids": None if self.participant_ids is None else list(self.participant_ids),
            "after": iso(self.after_ms, 0),
            "before": iso(self.before_ms, 0),
            "after_ms": self.after_ms,
            "before_ms": self.before_ms,
            "types": None if self.types is None else list(self.types),
            "keywords": list(self.keywords),
            "context": self.context,
            "records": None if self.record_ids is None else len(self.record_ids),
            "matches": self.matches,
            "frozen_ms": self.frozen_ms,
        }
        if with_ids:
            out["record_ids"] = None if self.record_ids is None else list(self.record_ids)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FrozenScope:
        """Return the frozen scope from its JSON form (``with_ids``)."""

        def opt(key: str) -> tuple[Any, ...] | None:
            value = data.get(key)
            return None if value is None else tuple(value)

        return cls(
            conversation_ids=opt("conversation_ids"),
            participant_ids=opt("participant_ids"),
            after_ms=int(data["after_ms"]),
            before_ms=int(data["before_ms"]),
            types=opt("types"),
            keywords=tuple(data.get("keywords") or ()),
            context=int(data.get("context") or 0),
            record_ids=opt("record_ids"),
            matches=int(data.get("matches") or 0),
            frozen_ms=int(data["frozen_ms"]),
        )


def parse_redaction(text: str) -> Redaction:
    """Return the evidence redaction rule written ``KIND:VALUE:REASON`` (``pii:phone:非当事人``).

    KIND is ``pii`` (VALUE phone, id_card, bank_card or email), ``value`` (a literal name,
    address or account) or ``participant`` (a sender id); the reason is required.
    """
    from chatcustody.evidence import Redaction

    kind, sep, rest = text.partition(":")
    value, sep2, reason = rest.partition(":")
    if not sep or not sep2:
        raise UsageError(
            f"redaction rule {text!r}: expected KIND:VALUE:REASON (e.g. pii:phone:非当事人)"
        )
    return Redaction(kind.strip(), value.strip(), reason.strip())


def parse_redactions(texts: tuple[str, ...] | list[str]) -> tuple[Redaction, ...]:
    """Parse and check redaction rules as the package writer will apply them; name a bad one."""
    from chatcustody.evidence._redact import Redactor

    rules = tuple(parse_redaction(text) for text in texts)
    for text, rule in zip(texts, rules, strict=True):
        try:
            Redactor([rule])
        except UsageError as exc:
            raise UsageError(f"redaction rule {text!r}: {exc}") from exc
    return rules


@dataclass(frozen=True)
class ReleaseTerms:
    """What legal fixed when releasing an export: who receives it and what is withheld.

    ``redactions`` are rules written ``KIND:VALUE:REASON`` (see ``parse_redaction``); the
    export applies exactly these, whoever runs it.
    """

    recipient: str
    redactions: tuple[str, ...] = ()

    def rules(self) -> tuple[Redaction, ...]:
        """Return the redaction rules as the package writer takes them."""
        return parse_redactions(self.redactions)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (sealed in the request body)."""
        return {"recipient": self.recipient, "redactions": list(self.redactions)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReleaseTerms:
        """Return the terms from their JSON form."""
        return cls(str(data["recipient"]), tuple(str(r) for r in data.get("redactions") or ()))


@dataclass(frozen=True)
class HistoryEntry:
    """One transition: what, who, when, from and to which state, and why."""

    transition: str
    actor: str
    ts_ms: int
    from_status: Status | None
    to_status: Status
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "transition": self.transition,
            "actor": self.actor,
            "time": iso(self.ts_ms, 0),
            "ts_ms": self.ts_ms,
            "from": None if self.from_status is None else self.from_status.value,
            "to": self.to_status.value,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Attachment:
    """A document attached to a request: an acquired original with its digests."""

    id: int
    kind: AttachmentKind
    name: str
    source_id: int
    sha256: str
    sm3: str
    size: int
    added_by: str
    added_ms: int

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "name": self.name,
            "source_id": self.source_id,
            "sha256": self.sha256,
            "sm3": self.sm3,
            "size": self.size,
            "added_by": self.added_by,
            "added": iso(self.added_ms, 0),
        }


@dataclass(frozen=True)
class RetrievalRequest:
    """A retrieval request as stored: its form, frozen scope, approval and history."""

    id: int
    requester: str
    requester_id: int
    status: Status
    form: Form
    scope: FrozenScope | None
    approver: str | None
    approver_id: int | None
    expires_ms: int | None
    created_ms: int
    updated_ms: int
    history: tuple[HistoryEntry, ...] = ()
    attachments: tuple[Attachment, ...] = field(default=())
    terms: ReleaseTerms | None = None

    @property
    def outputs(self) -> frozenset[Output]:
        """Return the outputs wanted."""
        return self.form.outputs

    def access_scope(self) -> Scope | None:
        """Return the frozen scope as decide() grants it, or None before submission."""
        return None if self.scope is None else self.scope.access_scope(self.id)

    def expired_at(self, at_ms: int) -> bool:
        """Return True when the approval has run out at ``at_ms``."""
        return self.status is Status.EXPIRED or (
            self.expires_ms is not None and at_ms >= self.expires_ms
        )

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (the API's and ``request show --json``'s)."""
        return {
            "id": self.id,
            "requester": self.requester,
            "status": self.status.value,
            **self.form.to_json(),
            "scope": None if self.scope is None else self.scope.to_json(),
            "approver": self.approver,
            "expires": None if self.expires_ms is None else iso(self.expires_ms, 0),
            "expires_ms": self.expires_ms,
            "created": iso(self.created_ms, 0),
            "updated": iso(self.updated_ms, 0),
            "history": [h.to_json() for h in self.history],
            "attachments": [a.to_json() for a in self.attachments],
            "release_terms": None if self.terms is None else self.terms.to_json(),
        }
