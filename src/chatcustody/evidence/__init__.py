"""Evidence packages: a court-ready export anyone can verify with standard tools.

``build_package`` writes a directory or zip holding the scoped records (``messages.jsonl``),
a reading view (``transcript.html``), the extraction report (``report.pdf``), attachments
and originals, per-item RFC 9162 inclusion proofs to a signed tree head, consistency
proofs, the chain of custody, redactions, ``SHA256SUMS`` / ``SM3SUMS`` (signed), optional
RFC 3161 timestamps and ``VERIFY.md``; ``export_request`` does so for a released retrieval
request. ``verify_package`` checks all of it offline: importing it (``_verify``,
``_verify_items``, ``_pkgfiles``) loads nothing that opens a vault -- the writer is loaded
only when ``build_package`` or ``export_request`` is first used. See docs/evidence.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatcustody.evidence._pkgfiles import Check
from chatcustody.evidence._spec import (
    PACKAGE_FORMAT,
    PII_KINDS,
    Approval,
    PackageResult,
    PackageSpec,
    Redaction,
    RequestFacts,
)
from chatcustody.evidence._verify import PackageReport, verify_package

if TYPE_CHECKING:
    from chatcustody.evidence._export import export_request
    from chatcustody.evidence._writer import build_package

__all__ = [
    "PACKAGE_FORMAT",
    "PII_KINDS",
    "Approval",
    "Check",
    "PackageReport",
    "PackageResult",
    "PackageSpec",
    "Redaction",
    "RequestFacts",
    "build_package",
    "export_request",
    "verify_package",
]


def __getattr__(name: str) -> Any:
    """Load the package writer (which works on an open vault) on first use."""
    if name == "build_package":
        from chatcustody.evidence._writer import build_package

        return build_package
    if name == "export_request":
        from chatcustody.evidence._export import export_request

        return export_request
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
