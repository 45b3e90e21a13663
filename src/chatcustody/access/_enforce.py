"""Enforcement: decide, audit every denial with its reason, raise the matching error.

Services call ``enforce()`` before touching anything; allowed actions are audited by the
service itself (after it knows what it did, e.g. a result count), with
``decision_details()`` copying the decision's reason into the event.
"""

from __future__ import annotations

from typing import Any

from chatcustody._env import now_ms
from chatcustody.access._model import Action, Actor, Decision, Resource, Tier
from chatcustody.access._rules import decide
from chatcustody.audit import record_audit, system_actor
from chatcustody.errors import AccessDeniedError, NotFoundError
from chatcustody.vault import Vault


def local_actor(vault: Vault) -> Actor:
    """Return the passphrase holder at the command line: every system tier, no content."""
    return Actor(
        name=system_actor(),
        user_id=None,
        role=None,
        tiers=frozenset(Tier),
        groups=frozenset(),
        conversations=frozenset(),
        at_ms=now_ms(),
        tz=vault.default_tz,
        local=True,
    )


def decision_details(actor: Actor, decision: Decision, **details: Any) -> dict[str, Any]:
    """Return audit details carrying the decision (reason, rule, scope) and the session."""
    out: dict[str, Any] = dict(details)
    out["decision"] = decision.to_json()
    if actor.session:
        out["session"] = actor.session
    return out


def enforce(
    vault: Vault,
    actor: Actor,
    action: Action,
    resource: Resource,
    not_found: str | None = None,
    **details: Any,
) -> Decision:
    """Return the allowing decision, or audit the denial and raise.

    A denial about a specific record or conversation outside the actor's scope raises
    NotFoundError with ``not_found`` (the same text a missing object gets); others raise
    AccessDeniedError with the reason.
    """
    decision = decide(actor, action, resource)
    if decision.allowed:
        return decision
    record_audit(
        vault,
        "access.denied",
        decision_details(
            actor, decision, action=action.value, resource=resource.to_json(), **details
        ),
        actor.name,
    )
    if decision.hide and not_found is not None:
        raise NotFoundError(not_found)
    raise AccessDeniedError(decision.reason)
