"""Access control: roles and tiers, groups, calendar windows and the one policy function.

Every service asks ``decide(actor, action, resource)`` (through ``enforce``) before it
touches anything, and copies the decision's reason into its audit event.
"""

from __future__ import annotations

from chatcustody.access._enforce import decision_details, enforce, local_actor
from chatcustody.access._groups import Group, add_to_group, create_group, list_groups, load_grants
from chatcustody.access._model import (
    COLLECTION,
    CONTENT_ACTIONS,
    DUAL_CONTROL,
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
    Tier,
)
from chatcustody.access._rules import (
    GRANTS,
    GUARDS,
    Rule,
    decide,
    grant_request,
    grant_request_workflow,
    role_scope,
)
from chatcustody.access._sealing import (
    blind_name,
    check_mac,
    normalise_name,
    open_value,
    row_mac,
    seal_value,
)
from chatcustody.access._sql import ids_in, scope_conditions
from chatcustody.access._windows import (
    add_months,
    month_window,
    months_before,
    shift_months,
    week_window,
)

__all__ = [
    "COLLECTION",
    "CONTENT_ACTIONS",
    "DUAL_CONTROL",
    "GRANTS",
    "GUARDS",
    "REQUEST_ACTIONS",
    "REQUEST_EXPORTABLE",
    "REQUEST_READABLE",
    "REQUEST_WORKFLOW",
    "ROLE_ACTIONS",
    "ROLE_ALL_CONVERSATIONS",
    "ROLE_WINDOW",
    "TIER_ACTIONS",
    "TOKEN_SCOPES",
    "Action",
    "Actor",
    "Decision",
    "Group",
    "RequestGrant",
    "Resource",
    "Role",
    "Rule",
    "Scope",
    "Tier",
    "add_months",
    "add_to_group",
    "blind_name",
    "check_mac",
    "create_group",
    "decide",
    "decision_details",
    "enforce",
    "grant_request",
    "grant_request_workflow",
    "ids_in",
    "list_groups",
    "load_grants",
    "local_actor",
    "month_window",
    "months_before",
    "normalise_name",
    "open_value",
    "role_scope",
    "row_mac",
    "scope_conditions",
    "seal_value",
    "shift_months",
    "week_window",
]
