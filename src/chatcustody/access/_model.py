"""Who acts, on what, and what they may see: roles, tiers, actions, actors, scopes, decisions.

The user's role table (business roles) and the separation of duties (system tiers)::

    role / tier   reads                       may also
    agent         own groups, calendar week   -
    team_lead     own groups, calendar month  tag, archive
    legal         every record                tag, archive, download, export, releases
    executive     every record                tag, archive, download
    operator      no content                  import, backup, jobs
    admin         no content                  users, groups, keys, settings (dual control)
    auditor       no content                  audit trail, integrity reports

Weeks start on Monday; weeks and months are calendar ones in the vault's zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final


class Role(StrEnum):
    """A business role: the one role a user may hold that reads chat content."""

    AGENT = "agent"
    TEAM_LEAD = "team_lead"
    LEGAL = "legal"
    EXECUTIVE = "executive"


class Tier(StrEnum):
    """A system tier: operations work that never reads chat content."""

    OPERATOR = "operator"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Action(StrEnum):
    """Every action decide() rules on; the value is the audit action name."""

    LIST_CONVERSATIONS = "conversation.list"
    READ = "record.read"
    SEARCH = "search"
    TIMELINE = "timeline"
    TAG = "record.tag"
    ARCHIVE = "record.archive"
    DOWNLOAD = "record.download"
    EXPORT = "record.export"
    IMPORT = "import.run"
    BACKUP = "backup.run"
    JOBS = "jobs.run"
    MANAGE_USERS = "user.manage"
    MANAGE_GROUPS = "group.manage"
    MANAGE_SETTINGS = "settings.change"
    READ_AUDIT = "audit.read"
    READ_INTEGRITY = "integrity.read"
    KEYS_ROTATE = "keys.rotate"
    ROLE_ELEVATE = "role.elevate"
    USER_DELETE = "user.delete"
    HOLD_RELEASE = "hold.release"
    CRYPTO_SHRED = "crypto.shred"
    EVIDENCE_RELEASE = "evidence.release"
    SUPERVISOR_SET = "user.supervisor"
    REQUEST_VIEW = "request.view"
    REQUEST_CREATE = "request.create"
    REQUEST_ATTACH = "request.attach"
    REQUEST_SUBMIT = "request.submit"
    REQUEST_WITHDRAW = "request.withdraw"
    REQUEST_START = "request.start"
    REQUEST_ASK_EXPORT = "request.request-export"
    REQUEST_APPROVE = "request.approve"
    REQUEST_REJECT = "request.reject"
    REQUEST_REVIEW = "request.review"
    REQUEST_RELEASE = "request.release"
    REQUEST_CLOSE = "request.close"


#: Actions that read or mark chat content: only business roles, only inside their scope.
CONTENT_ACTIONS: Final[frozenset[Action]] = frozenset(
    {
        Action.LIST_CONVERSATIONS,
        Action.READ,
        Action.SEARCH,
        Action.TIMELINE,
        Action.TAG,
        Action.ARCHIVE,
        Action.DOWNLOAD,
        Action.EXPORT,
    }
)
_READS: Final = frozenset({Action.LIST_CONVERSATIONS, Action.READ, Action.SEARCH, Action.TIMELINE})
ROLE_ACTIONS: Final[Mapping[Role, frozenset[Action]]] = {
    Role.AGENT: _READS,
    Role.TEAM_LEAD: _READS | {Action.TAG, Action.ARCHIVE},
    Role.LEGAL: _READS
    | {
        Action.TAG,
        Action.ARCHIVE,
        Action.DOWNLOAD,
        Action.EXPORT,
        Action.HOLD_RELEASE,
        Action.EVIDENCE_RELEASE,
    },
    Role.EXECUTIVE: _READS | {Action.TAG, Action.ARCHIVE, Action.DOWNLOAD},
}
#: Calendar window of each role's reads: "week", "month", or None for every record.
ROLE_WINDOW: Final[Mapping[Role, str | None]] = {
    Role.AGENT: "week",
    Role.TEAM_LEAD: "month",
    Role.LEGAL: None,
    Role.EXECUTIVE: None,
}
#: Roles that read every conversation, not only their groups'.
ROLE_ALL_CONVERSATIONS: Final[frozenset[Role]] = frozenset({Role.LEGAL, Role.EXECUTIVE})
TIER_ACTIONS: Final[Mapping[Tier, frozenset[Action]]] = {
    Tier.OPERATOR: frozenset({Action.IMPORT, Action.BACKUP, Action.JOBS}),
    Tier.ADMIN: frozenset(
        {
            Action.MANAGE_USERS,
            Action.MANAGE_GROUPS,
            Action.MANAGE_SETTINGS,
            Action.KEYS_ROTATE,
            Action.ROLE_ELEVATE,
            Action.USER_DELETE,
            Action.CRYPTO_SHRED,
            Action.SUPERVISOR_SET,
        }
    ),
    Tier.AUDITOR: frozenset({Action.READ_AUDIT, Action.READ_INTEGRITY}),
}
#: Actions that wait for a second, different, authorised user's TOTP confirmation.
DUAL_CONTROL: Final[frozenset[Action]] = frozenset(
    {
        Action.KEYS_ROTATE,
        Action.ROLE_ELEVATE,
        Action.USER_DELETE,
        Action.HOLD_RELEASE,
        Action.CRYPTO_SHRED,
        Action.EVIDENCE_RELEASE,
        Action.SUPERVISOR_SET,
    }
)
#: Content actions a retrieval request can grant: its requester's reads while it is approved
#: or in use, and the export of its package (requester or legal) once released. Never a raw
#: download: under a request records leave only as the released evidence package.
REQUEST_ACTIONS: Final[frozenset[Action]] = frozenset(
    {Action.LIST_CONVERSATIONS, Action.READ, Action.SEARCH, Action.TIMELINE, Action.EXPORT}
)
#: Request states in which its requester reads under it (until it expires).
REQUEST_READABLE: Final[frozenset[str]] = frozenset({"approved", "in_use"})
#: The request state in which its package may be exported (until it expires).
REQUEST_EXPORTABLE: Final[str] = "released"
#: The retrieval-request workflow (the value is the audit action of its success event):
#: business roles take part (who may move which request is the service's check on the
#: request's people); system tiers do not; the local admin views every request.
REQUEST_WORKFLOW: Final[frozenset[Action]] = frozenset(
    a for a in Action if a.value.startswith("request.")
)
#: What an API token's scopes cover. Dual-control actions need a person with TOTP: no token.
#: No scope covers filing or moving a retrieval request (a person's session does that);
#: ``read`` covers viewing requests and ``download`` the export of a released one.
TOKEN_SCOPES: Final[Mapping[str, frozenset[Action]]] = {
    "read": frozenset(
        {Action.LIST_CONVERSATIONS, Action.READ, Action.TIMELINE, Action.REQUEST_VIEW}
    ),
    "search": frozenset({Action.SEARCH}),
    "tag": frozenset({Action.TAG, Action.ARCHIVE}),
    "download": frozenset({Action.DOWNLOAD, Action.EXPORT}),
    "audit": frozenset({Action.READ_AUDIT, Action.READ_INTEGRITY}),
    "admin": frozenset({Action.MANAGE_USERS, Action.MANAGE_GROUPS, Action.MANAGE_SETTINGS}),
    "operate": frozenset({Action.IMPORT, Action.BACKUP, Action.JOBS}),
}


@dataclass(frozen=True)
class Scope:
    """What a content action may touch: conversations, a time window and a request's extras.

    ``conversations`` None means every conversation; ``after_ms`` is inclusive and
    ``before_ms`` exclusive (None: unbounded). ``grant`` names what granted it
    (``role:agent``, ``request:ID``), for the audit trail. A retrieval request's frozen
    scope may also name ``participants`` (vault participant ids of senders), message
    ``types`` and an explicit set of ``record_ids`` (keyword matches and their context);
    None leaves that dimension open, an empty set allows nothing.
    """

    conversations: frozenset[int] | None
    after_ms: int | None
    before_ms: int | None
    grant: str
    participants: frozenset[int] | None = None
    types: frozenset[str] | None = None
    record_ids: frozenset[int] | None = None

    def contains(
        self,
        conversation_id: int,
        ts_ms: int | None = None,
        *,
        record_id: int | None = None,
        sender_id: int | None = None,
        type: str | None = None,  # noqa: A002 (the record column's name)
    ) -> bool:
        """Return True when a record (or, without a time, a conversation) is in scope.

        A conversation (no time given) is in scope when some record of it may be; a record
        is judged on every dimension whose fact is given.
        """
        if self.conversations is not None and conversation_id not in self.conversations:
            return False
        if ts_ms is None:
            return True
        checks = (
            (record_id, self.record_ids),
            (sender_id, self.participants),
            (type, self.types),
        )
        if any(fact is not None and allowed is not None and fact not in allowed
               for fact, allowed in checks):  # fmt: skip
            return False
        return (self.after_ms is None or ts_ms >= self.after_ms) and (
            self.before_ms is None or ts_ms < self.before_ms
        )

    @property
    def confined(self) -> bool:
        """Return True when the scope leaves out some record (any dimension is set)."""
        return any(
            v is not None
            for v in (
                self.conversations,
                self.after_ms,
                self.before_ms,
                self.participants,
                self.types,
                self.record_ids,
            )
        )

    def narrow(self, after_ms: int | None, before_ms: int | None) -> Scope:
        """Return this scope intersected with a caller's own time filter."""
        lows = [v for v in (self.after_ms, after_ms) if v is not None]
        highs = [v for v in (self.before_ms, before_ms) if v is not None]
        return replace(
            self,
            after_ms=max(lows) if lows else None,
            before_ms=min(highs) if highs else None,
        )

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form (for audit details and API answers)."""
        out: dict[str, Any] = {
            "grant": self.grant,
            "conversations": None if self.conversations is None else sorted(self.conversations),
            "after_ms": self.after_ms,
            "before_ms": self.before_ms,
        }
        if self.participants is not None:
            out["participants"] = sorted(self.participants)
        if self.types is not None:
            out["types"] = sorted(self.types)
        if self.record_ids is not None:
            out["records"] = len(self.record_ids)
        return out


@dataclass(frozen=True)
class RequestGrant:
    """The facts decide() needs about a retrieval request, loaded before it is asked.

    ``status`` is the request's state, ``expires_ms`` the end of its approval (None before
    approval), ``scope`` its frozen scope (grant ``request:ID``) and ``package`` whether
    its outputs go beyond viewing (an evidence package may be exported once released).
    """

    id: int
    requester_id: int
    requester: str
    status: str
    expires_ms: int | None
    scope: Scope
    package: bool


@dataclass(frozen=True)
class Actor:
    """Someone acting, as decide() sees them, fixed at authentication.

    ``at_ms`` and ``tz`` are the instant and zone the request is judged at (calendar
    windows); ``token_scopes`` is None for a person's session and the token's scopes for an
    API token; ``local`` marks the passphrase holder at the command line.
    """

    name: str
    user_id: int | None
    role: Role | None
    tiers: frozenset[Tier]
    groups: frozenset[int]
    conversations: frozenset[int]
    at_ms: int
    tz: str
    active: bool = True
    token_scopes: frozenset[str] | None = None
    session: str | None = None
    local: bool = False

    def describe(self) -> str:
        """Return ``name (role, tiers)`` for reasons."""
        held = [self.role.value] if self.role else []
        held += sorted(t.value for t in self.tiers)
        return f"{self.name} ({', '.join(held) or 'no role'})"


@dataclass(frozen=True)
class Resource:
    """What an action is on: a record, a conversation, a collection (search), an object.

    Records and conversations carry their clear facts (conversation, time) so decide()
    never decrypts anything (``sender_id`` and ``type`` too, for a request's scope).
    ``request_id`` names a retrieval request the caller acts under and ``request`` carries
    its facts, loaded by the service (decide() reads no database); a request id without
    facts means no such request.
    """

    kind: str
    id: int | str | None = None
    conversation_id: int | None = None
    ts_ms: int | None = None
    request_id: int | None = None
    sender_id: int | None = None
    type: str | None = None
    request: RequestGrant | None = field(default=None, compare=False)

    @classmethod
    def record(cls, record_id: int, conversation_id: int, ts_ms: int) -> Resource:
        """Return a record resource."""
        return cls("record", record_id, conversation_id, ts_ms)

    @classmethod
    def conversation(cls, conversation_id: int) -> Resource:
        """Return a conversation resource."""
        return cls("conversation", conversation_id, conversation_id)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form for audit details (only the fields that are set)."""
        out: dict[str, Any] = {"kind": self.kind}
        for key in ("id", "conversation_id", "ts_ms", "request_id"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


COLLECTION: Final[Resource] = Resource("collection")


@dataclass(frozen=True)
class Decision:
    """decide()'s answer: allowed or not, why, by which rule, and the scope it grants.

    ``hide`` marks a denial about a specific record or conversation outside the actor's
    scope: adapters answer it as "not found" so existence does not leak.
    """

    allowed: bool
    reason: str
    rule: str
    scope: Scope | None = None
    hide: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form copied into audit events."""
        out: dict[str, Any] = {"allowed": self.allowed, "reason": self.reason, "rule": self.rule}
        if self.scope is not None:
            out["scope"] = self.scope.to_json()
        return out
