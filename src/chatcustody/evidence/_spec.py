"""What a package is asked to hold (``PackageSpec``) and what building one produced.

The spec is plain data: the retrieval-request facts are copied in by the caller
(``export_request`` takes them from the request), so a package can be built and tested
without the request workflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

PACKAGE_FORMAT: Final[str] = "chatcustody-evidence-package"
PACKAGE_VERSION: Final[int] = 1
PII_KINDS: Final[tuple[str, ...]] = ("phone", "id_card", "bank_card", "email")


@dataclass(frozen=True)
class Approval:
    """One step of the request's history: who did what, when (UTC ms), and why."""

    actor: str
    action: str
    time_ms: int
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """Return the approval as JSON."""
        return {
            "actor": self.actor,
            "action": self.action,
            "time_ms": self.time_ms,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RequestFacts:
    """The retrieval request a package answers (电子证据调取申请单)."""

    id: str
    requester: str
    case: str
    legal_basis: str
    reason: str
    scope: dict[str, Any] = field(default_factory=dict)
    approvals: tuple[Approval, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the request facts as JSON."""
        return {
            "id": self.id,
            "requester": self.requester,
            "case": self.case,
            "legal_basis": self.legal_basis,
            "reason": self.reason,
            "scope": self.scope,
            "approvals": [a.to_json() for a in self.approvals],
        }


@dataclass(frozen=True)
class Redaction:
    """One rule for withholding fields of people who are not party to the case.

    ``kind`` is ``value`` (a literal: a name, an address, an account), ``participant`` (every
    field naming this sender id, and their name) or ``pii`` (a pattern: ``phone``,
    ``id_card``, ``bank_card``, ``email``). A field that contains a match is withheld whole:
    the package gives its salted commitment instead of its value, so the proof still holds.
    """

    kind: str
    value: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """Return the rule as JSON (a ``value`` rule's literal is never written out)."""
        shown = self.value if self.kind == "pii" else None
        return {"kind": self.kind, "pattern": shown, "reason": self.reason}


@dataclass(frozen=True)
class PackageSpec:
    """Everything ``build_package`` needs besides the vault."""

    record_ids: tuple[int, ...]
    request: RequestFacts
    recipient: str
    include_originals: bool = False
    redactions: tuple[Redaction, ...] = ()
    tsa_url: str | None = None
    tsa_ca_file: Path | None = None
    actor: str | None = None


@dataclass(frozen=True)
class PackageResult:
    """What was written: where, how many records, the head proved to, the file count."""

    path: Path
    records: int
    amendments: int
    originals: int
    attachments: int
    files: int
    tree_size: int
    root: str
    withheld_fields: int
    timestamped: bool
    vault_check: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """Return the ``export --json`` contract."""
        return {
            "path": str(self.path),
            "records": self.records,
            "amendments": self.amendments,
            "originals": self.originals,
            "attachments": self.attachments,
            "files": self.files,
            "tree_size": self.tree_size,
            "root": self.root,
            "withheld_fields": self.withheld_fields,
            "timestamped": self.timestamped,
            "vault_check": self.vault_check,
        }
