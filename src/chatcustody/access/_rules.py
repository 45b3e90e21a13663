"""decide(): the one policy function, made of small rules that each return a reason.

A rule takes ``(actor, action, resource)`` and returns a Decision or None (no opinion).

- ``GUARDS`` run first and can only refuse (a disabled account, a token without the scope).
- ``GRANTS`` run next; the first that allows wins. A grant may also return a denial that
  explains itself ("outside this calendar week"); when nothing allows, the first such
  explanation is the answer, else the default denial.

A retrieval request (issue 6) plugs in as one more grant that reads
``resource.request_id`` and returns the request's frozen scope (grant ``request:ID``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chatcustody.access._model import (
    CONTENT_ACTIONS,
    ROLE_ACTIONS,
    ROLE_ALL_CONVERSATIONS,
    ROLE_WINDOW,
    TIER_ACTIONS,
    TOKEN_SCOPES,
    Action,
    Actor,
    Decision,
    Resource,
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


def grant_business_role(actor: Actor, action: Action, resource: Resource) -> Decision | None:
    """Allow a business role its actions on content inside its groups and calendar window."""
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
GRANTS: Sequence[Rule] = (grant_system_tier, grant_business_role)


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
