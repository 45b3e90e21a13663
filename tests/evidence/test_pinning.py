"""The signing key: unpinned verification says so plainly; both manifests are signed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chatcustody.errors import UsageError
from chatcustody.evidence import PackageReport, build_package, verify_package
from chatcustody.evidence._sums import digest_bytes, sums_text
from chatcustody.vault import Vault
from tests.evidence.conftest import make_spec

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # package-only: one backend is enough

_MANIFESTS = ("SHA256SUMS", "SM3SUMS", "SHA256SUMS.sig", "SM3SUMS.sig")


@pytest.fixture
def package(evidence_vault: Vault, tmp_path: Path) -> Path:
    """Return a fresh, valid package directory."""
    pkg = build_package(evidence_vault, make_spec(evidence_vault), tmp_path / "pkg").path
    assert verify_package(pkg).ok
    return pkg


def _check(report: PackageReport, name: str) -> tuple[list[str], list[str]]:
    check = next(c for c in report.checks if c.name == name)
    return check.failures, check.notes


def _forge(pkg: Path) -> str:
    """Re-sign the whole package with a key of the forger's own; return its fingerprint."""
    other = Ed25519PrivateKey.generate()
    pem = other.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    (pkg / "proofs/vault-public.pem").write_bytes(pem)
    fingerprint = hashlib.sha256(
        other.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    ).hexdigest()
    for sig in sorted(pkg.glob("proofs/**/*.sig")):
        head_file = sig.with_suffix(".json")
        head = json.loads(head_file.read_bytes())
        head["key_id"] = fingerprint[:16]
        message = json.dumps(head, sort_keys=True, separators=(",", ":")).encode()
        head_file.write_bytes(message)
        sig.write_bytes(other.sign(message))
    manifest = json.loads((pkg / "manifest.json").read_bytes())
    manifest["head"]["key_id"] = fingerprint[:16]
    manifest["key_fingerprint"] = fingerprint
    text = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    (pkg / "manifest.json").write_text(text, "utf-8")
    names = sorted(
        p.relative_to(pkg).as_posix()
        for p in pkg.rglob("*")
        if p.is_file() and p.name not in _MANIFESTS
    )
    digests = [digest_bytes(n, (pkg / n).read_bytes()) for n in names]
    for name, algorithm in (("SHA256SUMS", "sha256"), ("SM3SUMS", "sm3")):
        data = sums_text(digests, algorithm)
        (pkg / name).write_bytes(data)
        (pkg / f"{name}.sig").write_bytes(other.sign(data))
    return fingerprint


def test_unpinned_key_is_reported_and_pinning_catches_resigning(package: Path) -> None:
    """Without a pin the report says key NOT pinned with the fingerprint; a pin fails a forgery."""
    genuine = verify_package(package)
    vault_fp = genuine.facts["key_fingerprint"]
    assert genuine.ok and genuine.key_pinned is False
    assert genuine.to_json()["key_pinned"] is False
    _, notes = _check(genuine, "tree-head")
    assert any("key NOT pinned" in n and vault_fp in n for n in notes), notes
    pinned = verify_package(package, key_fingerprint=vault_fp.upper())
    assert pinned.ok and pinned.key_pinned and pinned.to_json()["key_pinned"] is True
    assert any("key pinned" in n for n in _check(pinned, "tree-head")[1])
    forger_fp = _forge(package)
    forged = verify_package(package)
    # Internally consistent under the forger's key: it verifies, but visibly unpinned,
    # naming the forger's fingerprint for the reader to compare.
    assert forged.ok and not forged.key_pinned, forged.failures
    assert forged.facts["key_fingerprint"] == forger_fp != vault_fp
    assert any(forger_fp in n and "NOT pinned" in n for n in _check(forged, "tree-head")[1])
    caught = verify_package(package, key_fingerprint=vault_fp)
    assert not caught.ok
    assert any(f"expected {vault_fp}" in f for f in _check(caught, "tree-head")[0])
    with pytest.raises(UsageError, match="not 64 hex digits"):
        verify_package(package, key_fingerprint="5f1c")


def test_cli_pins_the_key_from_the_setting(package: Path) -> None:
    """CHATCUSTODY_EVIDENCE_KEY_FINGERPRINT pins by default; unpinned output says so plainly."""
    vault_fp = verify_package(package).facts["key_fingerprint"]
    _forge(package)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATCUSTODY_")}
    cmd = [sys.executable, "-m", "chatcustody", "verify-package", str(package)]
    loose = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert loose.returncode == 0, loose.stderr
    assert "key NOT pinned" in loose.stderr and "unpinned key" in loose.stdout
    as_json = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True)
    data = json.loads(as_json.stdout)
    assert data["ok"] is True and data["key_pinned"] is False and data["key_pinned_by"] is None
    env["CHATCUSTODY_EVIDENCE_KEY_FINGERPRINT"] = vault_fp
    strict = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True)
    assert strict.returncode == 10, strict.stderr
    data = json.loads(strict.stdout)
    assert data["key_pinned"] is True
    assert data["key_pinned_by"] == "CHATCUSTODY_EVIDENCE_KEY_FINGERPRINT"
    assert data["ok"] is False


def test_sm3sums_is_signed_and_tampering_is_named(package: Path) -> None:
    """SM3SUMS.sig verifies with openssl; a reordered, altered or unsigned SM3SUMS is named."""
    ok = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "proofs/vault-public.pem",
         "-rawin", "-in", "SM3SUMS", "-sigfile", "SM3SUMS.sig"],
        cwd=package, capture_output=True,
    )  # fmt: skip
    assert ok.returncode == 0 and b"Signature Verified Successfully" in ok.stdout, ok.stderr
    sums = package / "SM3SUMS"
    original = sums.read_bytes()
    # Same digests in another order: every file still re-hashes, only the signature notices.
    lines = original.decode().splitlines(keepends=True)
    sums.write_bytes("".join(reversed(lines)).encode())
    report = verify_package(package)
    assert not report.ok
    assert report.failures == ["manifest-signature: SM3SUMS.sig does not verify SM3SUMS under "
                               "proofs/vault-public.pem"]  # fmt: skip
    sums.write_bytes(original)
    (package / "SM3SUMS.sig").unlink()
    failures = _check(verify_package(package), "manifest-signature")[0]
    assert failures == ["SM3SUMS.sig is missing: SM3SUMS is not signed"]
