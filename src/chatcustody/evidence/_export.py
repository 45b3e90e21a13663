"""The export use case: a released retrieval request becomes an evidence package.

Only a request that its legal review released (a legal-role user other than the requester,
with TOTP), unexpired, and asking for a package may be exported, by its requester or by
legal (``requests.require_exportable``). The scope is the request's frozen scope; originals
are included only when the request asked for them. The recipient and the redactions are
the release terms legal fixed when releasing (``requests.release``): an export that names
another recipient or other rules is refused, so whoever exports gets exactly what legal
released. A request released before release terms existed has none: only a legal-role user
may export it, naming the recipient. The export is written to the request's history and
the audit trail (``request.exported``, ``evidence.export``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chatcustody.access import Actor, Role
from chatcustody.errors import AccessDeniedError, UsageError
from chatcustody.evidence._spec import Approval, PackageResult, PackageSpec, Redaction, RequestFacts
from chatcustody.evidence._writer import build_package
from chatcustody.vault import Vault

if TYPE_CHECKING:
    from chatcustody.requests import RetrievalRequest


def export_request(
    vault: Vault,
    actor: Actor,
    request_id: int,
    out: Path,
    recipient: str | None = None,
    redactions: Sequence[Redaction] | None = None,
    tsa_url: str | None = None,
    tsa_ca_file: Path | None = None,
) -> PackageResult:
    """Export the records of a released request as a package at ``out`` (a dir or .zip).

    ``recipient`` and ``redactions`` default to the release terms; given, they must equal
    them (UsageError otherwise).
    """
    from chatcustody.requests import (
        Output,
        mark_exported,
        require_exportable,
        scoped_record_ids,
    )

    request = require_exportable(vault, actor, request_id)
    recipient, rules = _terms(request, actor, recipient, redactions)
    ids = scoped_record_ids(vault, request)
    if not ids:
        raise UsageError(f"retrieval request {request_id} has no records in its scope")
    form = request.form
    facts = RequestFacts(
        id=str(request.id),
        requester=request.requester,
        case=form.case_ref,
        legal_basis=form.legal_basis,
        reason=form.reason,
        scope=request.scope.to_json() if request.scope is not None else {},
        approvals=tuple(
            Approval(h.actor, h.transition, h.ts_ms, h.reason or "") for h in request.history
        ),
    )
    settings = vault.settings
    spec = PackageSpec(
        record_ids=tuple(ids),
        request=facts,
        recipient=recipient,
        include_originals=Output.ORIGINALS in request.outputs,
        redactions=rules,
        tsa_url=tsa_url or settings.tsa_url,
        tsa_ca_file=tsa_ca_file or settings.tsa_ca_file,
        actor=actor.name,
    )
    result = build_package(vault, spec, out)
    mark_exported(
        vault,
        actor,
        request_id,
        {
            "package": out.name,
            "recipient": recipient,
            "records": result.records,
            "tree_size": result.tree_size,
            "root": result.root,
            "withheld_fields": result.withheld_fields,
            "originals": result.originals,
            "timestamped": result.timestamped,
        },
    )
    return result


def _terms(
    request: RetrievalRequest,
    actor: Actor,
    recipient: str | None,
    redactions: Sequence[Redaction] | None,
) -> tuple[str, tuple[Redaction, ...]]:
    """Return the recipient and rules of the release terms, refusing an export that differs."""
    rid = request.id
    terms = request.terms
    if terms is None:
        if actor.role is not Role.LEGAL:
            raise AccessDeniedError(
                f"retrieval request {rid} was released without release terms: "
                "only a legal-role user may export it, naming the recipient"
            )
        if not recipient or not recipient.strip():
            raise UsageError(f"retrieval request {rid} has no release terms: name the recipient")
        return recipient.strip(), tuple(redactions or ())
    rules = terms.rules()
    if recipient is not None and recipient.strip() != terms.recipient:
        raise UsageError(
            f"retrieval request {rid} was released for recipient {terms.recipient!r}, "
            f"not {recipient.strip()!r}: omit the recipient, or ask legal for a new release"
        )
    if redactions is not None and tuple(redactions) != rules:
        raise UsageError(
            f"retrieval request {rid} was released with {len(rules)} redaction rule(s) "
            "that this export does not match: omit the redactions to apply the released "
            "ones, or ask legal for a new release"
        )
    return terms.recipient, rules
