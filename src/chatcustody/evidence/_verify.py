"""Offline verification of an evidence package: no vault, no passphrase, no network.

Checks, each reported by name with every failure naming the file, line or item:

1. ``files`` -- every file listed in SHA256SUMS exists and re-hashes; every file in the
   package is listed (but the manifests, their signature and ``timestamps/``);
2. ``sm3`` -- the same with SM3SUMS;
3. ``manifest-signature`` -- SHA256SUMS.sig and SM3SUMS.sig are the vault key's Ed25519
   signatures of SHA256SUMS and SM3SUMS;
4. ``tree-head`` -- tree-head.sig signs tree-head.json under proofs/vault-public.pem, whose
   key id the head names (and, when given, the pinned fingerprint);
5. ``items`` -- every item of messages.jsonl and every original's ledger entry in
   custody.jsonl: leaf hash recomputed from disclosed fields and withheld commitments,
   equal to its proof's, and the proof folds to the signed root; no proof without an item;
   counts equal the manifest's; redactions.jsonl agrees with the items;
6. ``content`` -- attachments and originals re-hash to the digests the ledger committed to;
7. ``consistency`` -- every older signed head is a prefix of the signed head;
8. ``timestamps`` -- RFC 3161 tokens over SHA256SUMS and SM3SUMS verify (when present).

Every signature is checked against ``proofs/vault-public.pem``, which the package itself
carries: a forger who rebuilds a package and signs it with a key of their own passes all of
the above. Only a pinned fingerprint (``key_fingerprint``, obtained independently of the
package) ties the package to the vault; the report says whether the key was pinned
(``key_pinned``) and, when not, names the fingerprint to compare.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from chatcustody.errors import ProofError, UsageError
from chatcustody.evidence._pkgfiles import Check, PackageFiles, read_json
from chatcustody.evidence._sums import (
    SHA256SUMS,
    SIGNED_MANIFESTS,
    SM3SUMS,
    UNLISTED,
    digest_bytes,
    parse_sums,
)
from chatcustody.evidence._tsa import TimestampError, load_roots, verify_token
from chatcustody.evidence._verify_items import check_content, check_items
from chatcustody.ledger._merkle import verify_consistency

_TS_DIR: Final[str] = "timestamps/"
_FINGERPRINT: Final[re.Pattern[str]] = re.compile(r"[0-9a-f]{64}")
UNPINNED: Final[str] = (
    "key NOT pinned: every signature was checked only against proofs/vault-public.pem, "
    "which the package itself carries (SHA-256 fingerprint {fp}); a forger who re-signs a "
    "package with a key of their own passes. Compare this fingerprint with one obtained "
    "independently from the vault's operator, or pin it (--key-fingerprint, or "
    "CHATCUSTODY_EVIDENCE_KEY_FINGERPRINT)"
)


@dataclass
class PackageReport:
    """The outcome of ``verify_package``."""

    path: str
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    key_pinned: bool = False  # True only when checked against an expected fingerprint

    @property
    def ok(self) -> bool:
        """Return True when every check passed."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[str]:
        """Return every failure, prefixed by its check's name."""
        return [f"{c.name}: {f}" for c in self.checks for f in c.failures]

    def to_json(self) -> dict[str, Any]:
        """Return the ``verify-package --json`` contract."""
        return {
            "ok": self.ok,
            "path": self.path,
            "key_pinned": self.key_pinned,
            "facts": self.facts,
            "checks": [c.to_json() for c in self.checks],
            "failure_count": sum(c.failure_count for c in self.checks),
        }


def _check_sums(files: PackageFiles, name: str, algorithm: str) -> Check:
    check = Check("files" if algorithm == "sha256" else "sm3")
    for problem in files.problems:
        check.fail(problem)
    text = files.read(name)
    if text is None:
        check.fail(f"{name} is missing")
        return check
    listed, problems = parse_sums(text, name)
    for p in problems:
        check.fail(p)
    for path in sorted(listed):
        data = files.read(path)
        if data is None:
            check.fail(f"{path}: listed in {name} but missing from the package")
            continue
        d = digest_bytes(path, data)
        got = d.sha256 if algorithm == "sha256" else d.sm3
        check.checked += 1
        if got != listed[path]:
            check.fail(f"{path}: {algorithm.upper()} is {got}, {name} says {listed[path]}")
    for path in sorted(files.names):
        if path not in listed and path not in UNLISTED:
            check.fail(f"{path}: not listed in {name} (added after the package was made?)")
    return check


def _public_key(files: PackageFiles, check: Check) -> Ed25519PublicKey | None:
    pem = files.read("proofs/vault-public.pem")
    if pem is None:
        check.fail("proofs/vault-public.pem is missing")
        return None
    try:
        key = load_pem_public_key(pem)
    except ValueError as exc:
        check.fail(f"proofs/vault-public.pem: not a public key ({exc})")
        return None
    if not isinstance(key, Ed25519PublicKey):
        check.fail("proofs/vault-public.pem: not an Ed25519 key")
        return None
    return key


def _fingerprint(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()


def _signed(key: Ed25519PublicKey, sig: bytes | None, message: bytes | None) -> bool:
    if sig is None or message is None:
        return False
    try:
        key.verify(sig, message)
    except InvalidSignature:
        return False
    return True


def _head(
    files: PackageFiles, key: Ed25519PublicKey | None, name: str, check: Check
) -> dict[str, Any] | None:
    """Return a signed head's JSON after checking its signature, or None."""
    data = files.read(name)
    sig = files.read(name[: -len(".json")] + ".sig")
    if data is None:
        check.fail(f"{name} is missing")
        return None
    try:
        head = json.loads(data)
        size, root = int(head["size"]), bytes.fromhex(head["root"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        check.fail(f"{name}: malformed tree head ({exc})")
        return None
    if key is not None:
        check.checked += 1
        if not _signed(key, sig, data):
            check.fail(f"{name}: signature does not verify under proofs/vault-public.pem")
        elif head.get("key_id") != _fingerprint(key)[:16]:
            check.fail(f"{name}: names key {head.get('key_id')}, not the package's public key")
    if len(root) != 32 or size < 0:
        check.fail(f"{name}: root or size out of range")
        return None
    return dict(head)


def _consistency(
    files: PackageFiles, key: Ed25519PublicKey | None, head: dict[str, Any] | None
) -> Check:
    check = Check("consistency")
    if head is None:
        check.fail("no signed tree head to check against")
        return check
    new_size, new_root = int(head["size"]), bytes.fromhex(head["root"])
    for name in sorted(
        n for n in files.names if n.startswith("proofs/heads/") and n.endswith(".json")
    ):
        old = _head(files, key, name, check)
        if old is None:
            continue
        cname = f"proofs/consistency/{old['size']}-{new_size}.json"
        proof = read_json(files, cname, check)
        if proof is None:
            continue
        try:
            path = [bytes.fromhex(p) for p in proof["path"]]
            verify_consistency(
                int(old["size"]), new_size, bytes.fromhex(old["root"]), new_root, path
            )
        except (ValueError, KeyError, TypeError) as exc:
            check.fail(f"{cname}: malformed ({exc})")
        except ProofError as exc:
            check.fail(f"{cname}: {exc}")
    return check


def _timestamps(files: PackageFiles, tsa_ca: bytes | None) -> Check:
    check = Check("timestamps")
    tokens = sorted(n for n in files.names if n.startswith(_TS_DIR) and n.endswith(".tsr"))
    if not tokens:
        check.notes.append("no RFC 3161 timestamp in this package")
        return check
    ca = tsa_ca if tsa_ca is not None else files.read(f"{_TS_DIR}tsa-ca.pem")
    if tsa_ca is None:
        check.notes.append(
            "TSA CA taken from the package: compare its fingerprint with one you trust"
        )
    try:
        roots = load_roots(ca or b"")
    except TimestampError as exc:
        check.fail(str(exc))
        return check
    for cert in roots:
        fp = cert.fingerprint(hashes.SHA256()).hex()
        check.notes.append(f"TSA CA {cert.subject.rfc4514_string()} SHA-256 {fp}")
    for name in tokens:
        target = name[len(_TS_DIR) : -len(".tsr")]
        data = files.read(target)
        token = files.read(name) or b""
        if data is None or target not in (SHA256SUMS, SM3SUMS):
            check.fail(f"{name}: timestamps no manifest of this package")
            continue
        check.checked += 1
        try:
            when = verify_token(token, data, roots)
        except TimestampError as exc:
            check.fail(f"{name}: {exc}")
            continue
        check.notes.append(f"{target} timestamped at {when}")
    return check


def expected_fingerprint(value: str) -> str:
    """Return a fingerprint to pin (64 hex digits; colons and case ignored), or raise."""
    fp = value.strip().lower().replace(":", "")
    if not _FINGERPRINT.fullmatch(fp):
        raise UsageError(
            f"key fingerprint {value!r} is not 64 hex digits (the SHA-256 of the vault's raw "
            "32-byte Ed25519 public key)"
        )
    return fp


def _check_key(
    report: PackageReport, key: Ed25519PublicKey, pinned: str | None, check: Check
) -> None:
    fp = _fingerprint(key)
    report.facts["key_fingerprint"] = fp
    if pinned is None:
        check.notes.append(UNPINNED.format(fp=fp))
    elif fp != pinned:
        check.fail(f"proofs/vault-public.pem has fingerprint {fp}, expected {pinned}")
    else:
        check.notes.append(f"key pinned: proofs/vault-public.pem has the expected fingerprint {fp}")


def _check_manifest_signatures(files: PackageFiles, key: Ed25519PublicKey, check: Check) -> None:
    for name, sig_name in SIGNED_MANIFESTS:
        check.checked += 1
        sig = files.read(sig_name)
        if sig is None:
            check.fail(f"{sig_name} is missing: {name} is not signed")
        elif not _signed(key, sig, files.read(name)):
            check.fail(f"{sig_name} does not verify {name} under proofs/vault-public.pem")


def verify_package(
    path: Path, key_fingerprint: str | None = None, tsa_ca: Path | None = None
) -> PackageReport:
    """Verify a package directory or zip offline; return the report of every check.

    ``key_fingerprint`` pins the signing key: without it the package is only checked against
    the public key it carries itself, and the report says so (``key_pinned`` false).
    """
    if not path.exists():
        raise UsageError(f"no package at {path}")
    pinned = None if key_fingerprint is None else expected_fingerprint(key_fingerprint)
    files = PackageFiles(path)
    report = PackageReport(str(path), key_pinned=pinned is not None)
    try:
        report.checks.append(_check_sums(files, SHA256SUMS, "sha256"))
        report.checks.append(_check_sums(files, SM3SUMS, "sm3"))
        sig_check = Check("manifest-signature")
        head_check = Check("tree-head")
        key = _public_key(files, head_check)
        if key is not None:
            _check_key(report, key, pinned, head_check)
            _check_manifest_signatures(files, key, sig_check)
        else:
            sig_check.fail("no usable public key (proofs/vault-public.pem)")
        head = _head(files, key, "proofs/tree-head.json", head_check)
        manifest = read_json(files, "manifest.json", head_check)
        if head is not None:
            report.facts["tree_size"] = head["size"]
            report.facts["root"] = head["root"]
            if isinstance(manifest, dict):
                signed = {k: v for k, v in head.items() if k != "v"}
                named = {k: v for k, v in manifest.get("head", {}).items() if k in signed}
                if named != signed:
                    head_check.fail(
                        "manifest.json names another tree head than proofs/tree-head.json"
                    )
        if isinstance(manifest, dict):
            report.facts["request_id"] = manifest.get("request", {}).get("id")
            report.facts["recipient"] = manifest.get("recipient")
            report.facts["counts"] = manifest.get("counts")
        report.checks += [sig_check, head_check]
        items_check, items = check_items(files, head, manifest)
        report.checks.append(items_check)
        report.checks.append(check_content(files, items, manifest))
        report.checks.append(_consistency(files, key, head))
        report.checks.append(_timestamps(files, tsa_ca.read_bytes() if tsa_ca else None))
        if files.unreadable:
            damaged = Check("archive")
            for name, reason in sorted(files.unreadable.items()):
                damaged.fail(f"{name}: cannot be read from the zip ({reason})")
            report.checks.append(damaged)
    finally:
        files.close()
    return report
