"""decide(): the one policy function, made of small rules that each return a reason.

A rule takes ``(actor, action, resource)`` and returns a Decision or None (no opinion).

- ``GUARDS`` run first and can only refuse (a disabled account, a token without the scope).
- ``GRANTS`` run next; the first that allows wins. A grant may also return a denial that
  explains itself ("outside this calendar week"); when nothing allows, the first such
  explanation is the answer, else the default denial.

A retrieval request plugs in as one more grant, ``grant_request``: when the resource names
a request (``resource.request_id``), only that request decides — the business role's own
scope does not apply — and it answers with the request's frozen scope (grant
``request:ID``), using the facts the service loaded into ``resource.request``: its
requester's reads while approved, the export of its package once released, never a raw
download. ``grant_request_workflow`` lets business roles file and move requests (the
``request.*`` actions; no token scope covers them but ``request.view``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chatcustody.access._model import (
    CONTENT_ACTIONS,
    REQUEST_ACTIONS,
    REQUEST_EXPORTABLE,
    REQUEST_READABLE,
    REQUEST_WORKFLOW,
    ROLE_ACTIONS,
    ROLE_ALL_CONVERSATIONS,
    ROLE_WINDOW,
    TIER_ACTIONS,
    TOKEN_SCOPES,
    Action,
    Actor,
    Decision,
    RequestGrant,
    Resource,
    Role,
    Scope,
)
from chatcustody.access._windows import window
from chatcustody.model import iso

Rule = Callable[[Actor, Action, Resource], Decision | None]


def _deny(reason: str, rule: str, hide: bool = False) -> Decision:
    return Decision(False, reason, rule, hide=hide)


def guard_active(actor: Actor, action: Action, resource: Resource) -> Decision | None:
    """Refuse everything to a disabled or deleted account."""
    if not actor.active:
        return _deny(f"{actor.name} is disabled", "active")
    return None


def guard_token_scope(actor: Actor, action: Action, resource: Resource) -> Decision | None:
    """Refuse an API token any action its scopes do not cover."""
    if actor.token_scopes is None:
        return None
    if any(action in TOKEN_SCOPES.get(s, frozenset()) for s in actor.token_scopes):
        return None
    return _deny(
        f"the API token's scopes ({', '.join(sorted(actor.token_scopes)) or 'none'}) "
        f"do not cover {action.value}",
        "token_scope",
    )


def grant_system_tier(actor: Actor, action: Action, resource: Resource) -> Decision | None:
    """Allow a system tier its own duties (never content: no tier lists a content action)."""
    for tier in sorted(actor.tiers):
        if action in TIER_ACTIONS[tier]:
            return Decision(True, f"tier {tier.value} may {action.value}", "system_tier")
    return None


def role_scope(actor: Actor) -> Scope | None:
    """Return what the actor's business role lets them read now, or None without a role."""
    if actor.role is None:
        return None
    conversations = None if actor.role in ROLE_ALL_CONVERSATIONS else actor.conversations
    kind = ROLE_WINDOW[actor.role]
    after, before = window(kind, actor.at_ms, actor.tz) if kind else (None, None)
    return Scope(conversations, after, before, f"role:{actor.role.value}")


def _outside(actor: Actor, scope: Scope, resource: Resource) -> str | None:
    """Return why a record or conversation is outside the scope, or None when inside."""
    cid = resource.conversation_id
    if cid is not None and scope.conversations is not None and cid not in scope.conversations:
        return f"conversation {cid} is not in {actor.name}'s groups"
    ts = resource.ts_ms
    if ts is None:
        return None
    if (scope.after_ms is not None and ts < scope.after_ms) or (
        scope.before_ms is not None and ts >= scope.before_ms
    ):
        period = ROLE_WINDOW[actor.role] if actor.role else None
        lo = iso(scope.after_ms, 0) if scope.after_ms is not None else "the start"
        hi = iso(scope.before_ms, 0) if scope.before_ms is not None else "now"
        return (
            f"{resource.kind} {resource.id} at {iso(ts, 0)} is outside {actor.name}'s "
            f"calendar {period or 'window'} ({lo} to {hi}; {actor.tz})"
        )
    return None


def _outside_request(scope: Scope, resource: Resource) -> str | None:
    """Return why a record or conversation is outside a request's scope, or None."""
    cid = resource.conversation_id
    if cid is None:
        return None
    rid = resource.id if resource.kind == "record" and isinstance(resource.id, int) else None
    inside = scope.contains(
        cid, resource.ts_ms, record_id=rid, sender_id=resource.sender_id, type=resource.type
    )
    if inside:
        return None
    what = f"{resource.kind} {resource.id}"
    if resource.ts_ms is not None:
        what += f" at {iso(resource.ts_ms, 0)}"
    return f"{what} is outside the frozen scope of {scope.grant.replace(':', ' ')}"


def _grant_export(actor: Actor, grant: RequestGrant) -> Decision:
    """Allow the export of a released, unexpired request asking for a package."""
    rid, rule = grant.id, "request"
    own = actor.user_id is not None and actor.user_id == grant.requester_id
    if not (actor.local or own or actor.role is Role.LEGAL):
        return _deny(f"retrieval request {rid} is exported only by its requester or legal", rule)
    if not grant.package:
        return _deny(f"retrieval request {rid} asks to view only: no evidence package", rule)
    if grant.expires_ms is not None and actor.at_ms >= grant.expires_ms:
        return _deny(
            f"retrieval request {rid} expired at {iso(grant.expires_ms, 0)}: ask for a new request",
            rule,
        )
    if grant.status != REQUEST_EXPORTABLE:
        return _deny(
            f"retrieval request {rid} is {grant.status.replace('_', ' ')}: only a released "
            "request is exported",
            rule,
        )
    return Decision(True, f"retrieval request {rid} was released", rule, grant.scope)


def grant_request(actor: Actor, action: Action, resource: Resource) -> Decision | None:
    """Allow a request's requester reads inside its frozen scope while approved and unexpired.

    Also the export of its package, by the requester or legal, once released and unexpired;
    never a raw download (records leave a request only as its evidence package).
    """
    rid = resource.request_id
    if rid is None:
        return None
    rule = "request"
    if action not in REQUEST_ACTIONS:
        if action is Action.DOWNLOAD:
            return _deny(
                f"retrieval request {rid} grants no downloads: its records leave only as its "
                "evidence package, once legal released it",
                rule,
            )
        if action in CONTENT_ACTIONS:
            return _deny(f"retrieval request {rid} grants reads, not {action.value}", rule)
        return None
    grant = resource.request
    if grant is None or grant.id != rid:
        return _deny(f"retrieval request {rid} not found", rule)
    if action is Action.EXPORT:
        return _grant_export(actor, grant)
    if actor.user_id is None or actor.user_id != grant.requester_id:
        # The same answer as for a request that does not exist: reading under someone
        # else's request must not reveal that it exists, nor who filed it.
        return _deny(f"retrieval request {rid} not found", rule)
    if actor.role is None:
        return _deny(f"{actor.describe()} reads no chat content", rule)
    if grant.expires_ms is not None and actor.at_ms >= grant.expires_ms:
        return _deny(
            f"retrieval request {rid} expired at {iso(grant.expires_ms, 0)}: ask for a new request",
            rule,
        )
    if grant.status not in REQUEST_READABLE:
        return _deny(
            f"retrieval request {rid} is {grant.status.replace('_', ' ')}: reads need it "
            "approved (or in use)",
            rule,
        )
    why = _outside_request(grant.scope, resource)
    if why is not None:
        return _deny(why, rule, hide=True)
    return Decision(
        True,
        f"retrieval request {rid} approved for {grant.requester} until "
        f"{iso(grant.expires_ms, 0) if grant.expires_ms is not None else 'closed'}",
        rule,
        grant.scope,
    )


def grant_request_workflow(actor: Actor, action: Action, resource: Resource) -> Decision | None:
    """Allow business roles the retrieval-request workflow, the local admin viewing it.

    Which request a user may see or move (requester, direct supervisor, legal) is decided
    by the request service on the request's people, after this.
    """
    if action not in REQUEST_WORKFLOW:
        return None
    if actor.local and action is Action.REQUEST_VIEW:
        return Decision(True, "the local admin views every retrieval request", "request_workflow")
    if actor.role is None or actor.user_id is None:
        return _deny(
            f"{actor.describe()} reads no chat content: no retrieval requests", "request_workflow"
        )
    return Decision(
        True, f"role {actor.role.value} takes part in retrieval requests", "request_workflow"
    )


def grant_business_role(actor: Actor, action: Action, resource: Resource) -> Decision | None:
    """Allow a business role its actions on content inside its groups and calendar window."""
    if resource.request_id is not None and action in CONTENT_ACTIONS:
        return None  # under a retrieval request, only the request decides
    scope = role_scope(actor)
    if scope is None or actor.role is None:
        return None
    if action not in ROLE_ACTIONS[actor.role]:
        if action in CONTENT_ACTIONS:
            return _deny(f"role {actor.role.value} may not {action.value}", "business_role")
        return None
    if action not in CONTENT_ACTIONS:  # releases: not about one record
        return Decision(True, f"role {actor.role.value} may {action.value}", "business_role")
    why = _outside(actor, scope, resource)
    if why is not None:
        return _deny(why, "business_role", hide=True)
    return Decision(
        True, f"role {actor.role.value} may {action.value} within its scope", "business_role", scope
    )


GUARDS: Sequence[Rule] = (guard_active, guard_token_scope)
GRANTS: Sequence[Rule] = (
    grant_system_tier,
    grant_request,
    grant_request_workflow,
    grant_business_role,
)


def decide(actor: Actor, action: Action, resource: Resource) -> Decision:
    """Return whether ``actor`` may do ``action`` on ``resource``, and why."""
    for guard in GUARDS:
        refusal = guard(actor, action, resource)
        if refusal is not None and not refusal.allowed:
            return refusal
    explanations: list[Decision] = []
    for grant in GRANTS:
        answer = grant(actor, action, resource)
        if answer is None:
            continue
        if answer.allowed:
            return answer
        explanations.append(answer)
    if explanations:
        return explanations[0]
    if action in CONTENT_ACTIONS and actor.role is None:
        return _deny(f"{actor.describe()} reads no chat content", "default")
    return _deny(f"no rule lets {actor.describe()} {action.value}", "default")
