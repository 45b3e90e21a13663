"""Retrieval requests (电子证据调取申请单): the approval workflow that gates evidence access.

A requester fills in the form (case, legal basis, reason, scope, outputs, attachments),
submits it (the scope is frozen), their direct supervisor approves it with TOTP (it then
expires after ``request_approval_days``), and while it is approved the requester reads
exactly the scoped records under it (``request_id=`` on every read; decide()'s
``grant_request``). Exports go through legal review and a release by a legal-role user
other than the requester, with TOTP — the evidence-release two-person control; the releaser
fixes the recipient and the redaction rules (``ReleaseTerms``) every export applies.

For evidence packages: ``get_request``, ``scoped_record_ids``, ``require_exportable`` and
``mark_exported``.
"""

from __future__ import annotations

from chatcustody.requests._access import (
    EXPIRY_ACTOR,
    expire_due,
    get_request,
    inbox,
    list_requests,
    load_grant,
    mark_exported,
    require_exportable,
)
from chatcustody.requests._model import (
    FINAL,
    LIVE,
    TRANSITIONS,
    Attachment,
    AttachmentKind,
    Form,
    FrozenScope,
    HistoryEntry,
    Output,
    ReleaseTerms,
    RetrievalRequest,
    Status,
    parse_redaction,
    parse_redactions,
)
from chatcustody.requests._scope import freeze, scoped_record_ids
from chatcustody.requests._service import (
    TRANSITION_FUNCTIONS,
    add_attachment,
    approve,
    close,
    create_request,
    reject,
    release,
    request_export,
    review,
    start,
    submit,
    withdraw,
)

__all__ = [
    "EXPIRY_ACTOR",
    "FINAL",
    "LIVE",
    "TRANSITIONS",
    "TRANSITION_FUNCTIONS",
    "Attachment",
    "AttachmentKind",
    "Form",
    "FrozenScope",
    "HistoryEntry",
    "Output",
    "ReleaseTerms",
    "RetrievalRequest",
    "Status",
    "add_attachment",
    "approve",
    "close",
    "create_request",
    "expire_due",
    "freeze",
    "get_request",
    "inbox",
    "list_requests",
    "load_grant",
    "mark_exported",
    "parse_redaction",
    "parse_redactions",
    "reject",
    "release",
    "request_export",
    "require_exportable",
    "review",
    "scoped_record_ids",
    "start",
    "submit",
    "withdraw",
]
