"""Tampering with a package in any way makes verify-package fail and name the cause."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chatcustody.evidence import PackageReport, build_package, verify_package
from chatcustody.vault import Vault
from tests.evidence.conftest import copy_tree, make_spec

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # package-only: one backend is enough


@pytest.fixture
def package(evidence_vault: Vault, tmp_path: Path) -> Path:
    """Return a fresh, valid package directory."""
    pkg = build_package(evidence_vault, make_spec(evidence_vault), tmp_path / "pkg").path
    assert verify_package(pkg).ok
    return pkg


def _resum(pkg: Path) -> None:
    """Recompute SHA256SUMS and SM3SUMS as a forger would (the signature cannot be redone)."""
    from chatcustody.evidence._sums import digest_bytes, sums_text

    names = sorted(
        p.relative_to(pkg).as_posix()
        for p in pkg.rglob("*")
        if p.is_file() and p.name not in ("SHA256SUMS", "SM3SUMS", "SHA256SUMS.sig", "SM3SUMS.sig")
    )
    digests = [digest_bytes(n, (pkg / n).read_bytes()) for n in names]
    (pkg / "SHA256SUMS").write_bytes(sums_text(digests, "sha256"))
    (pkg / "SM3SUMS").write_bytes(sums_text(digests, "sm3"))


def _failures(report: PackageReport, check: str) -> list[str]:
    return next(c.failures for c in report.checks if c.name == check)


def test_changing_any_byte_of_any_file_fails(package: Path, tmp_path: Path) -> None:
    """Flipping one byte anywhere in any file fails verification, naming that file."""
    work = copy_tree(package, tmp_path / "work")
    files = sorted(p for p in work.rglob("*") if p.is_file())
    assert len(files) > 30
    for path in files:
        rel = path.relative_to(work).as_posix()
        original = path.read_bytes()
        variants = [
            original[:pos] + bytes([original[pos] ^ 0x01]) + original[pos + 1 :]
            for pos in {0, len(original) // 2, len(original) - 1}
            if original
        ] or [b"\n"]  # an empty file (no redactions) gains a byte instead
        for pos, changed in enumerate(variants):
            path.write_bytes(changed)
            report = verify_package(work)
            assert not report.ok, f"{rel} byte {pos} changed but the package verifies"
            named = rel if rel not in ("SHA256SUMS", "SM3SUMS") else "SUMS"
            assert any(named in f for f in report.failures), (rel, report.failures[:5])
        path.write_bytes(original)
    assert verify_package(work).ok


def test_dropping_a_record_fails(package: Path) -> None:
    """A record removed from messages.jsonl is reported, even with recomputed sums."""
    lines = (package / "messages.jsonl").read_bytes().splitlines(keepends=True)
    dropped = json.loads(lines[4])
    (package / "messages.jsonl").write_bytes(b"".join(lines[:4] + lines[5:]))
    _resum(package)
    report = verify_package(package)
    assert not report.ok
    items = _failures(report, "items")
    assert any(
        f"a proof for record {dropped['id']}, which is not in the package" in f for f in items
    )
    assert any("manifest.json counts 20 records, the package holds 19" in f for f in items)
    assert _failures(report, "manifest-signature")


def test_adding_a_record_fails(package: Path) -> None:
    """A record added to messages.jsonl has no proof and breaks the count."""
    lines = (package / "messages.jsonl").read_text("utf-8").splitlines()
    forged = json.loads(lines[0])
    forged["id"] = 999
    forged["fields"]["text"] = "伪造的消息"
    (package / "messages.jsonl").write_text("\n".join([*lines, json.dumps(forged)]) + "\n")
    _resum(package)
    items = _failures(verify_package(package), "items")
    assert any("record 999 has no inclusion proof" in f for f in items), items


def test_changed_message_text_fails(package: Path) -> None:
    """An edited message no longer matches its leaf hash."""
    lines = (package / "messages.jsonl").read_text("utf-8").splitlines()
    obj = json.loads(lines[2])
    obj["fields"]["text"] = "改过的内容"
    lines[2] = json.dumps(obj, ensure_ascii=False)
    (package / "messages.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    _resum(package)
    items = _failures(verify_package(package), "items")
    assert any(
        f"messages.jsonl:3: record {obj['id']} content does not match" in f for f in items
    ), items


def _swap_proofs(package: Path, key: str) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """Swap ``key`` between the 2nd and 3rd record proofs, re-sum; return failures and both."""
    proofs_file = package / "proofs/records.jsonl"
    lines = [json.loads(x) for x in proofs_file.read_text().splitlines()]
    a, b = lines[1], lines[2]
    a[key], b[key] = b[key], a[key]
    proofs_file.write_text("".join(json.dumps(x) + "\n" for x in lines))
    _resum(package)
    return _failures(verify_package(package), "items"), a, b


def test_swapping_two_proofs_fails(package: Path) -> None:
    """Two records' whole proofs swapped are caught for each of the two records."""
    items, a, b = _swap_proofs(package, "id")
    for rid in (a["id"], b["id"]):
        assert any(f"record {rid} content does not match its proof" in f for f in items), items


def test_swapping_two_audit_paths_fails(package: Path) -> None:
    """Two records' audit paths swapped fail the inclusion proof, naming file, line and record."""
    items, a, _ = _swap_proofs(package, "path")
    assert any(
        f"proofs/records.jsonl:2: record {a['id']}: inclusion proof" in f
        and "does not match the tree root" in f
        for f in items
    ), items


def test_substituted_public_key_fails(package: Path) -> None:
    """Another public key fails both signatures, and a pinned fingerprint catches re-signing."""
    genuine = verify_package(package).facts["key_fingerprint"]
    other = Ed25519PrivateKey.generate()
    pem = other.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    (package / "proofs/vault-public.pem").write_bytes(pem)
    _resum(package)
    report = verify_package(package)
    assert any("does not verify" in f for f in _failures(report, "manifest-signature"))
    assert any(
        "tree-head.json: signature does not verify" in f for f in _failures(report, "tree-head")
    )
    # A forger who re-signs everything with their own key is caught by the pinned fingerprint.
    head = json.loads((package / "proofs/tree-head.json").read_bytes())
    raw = other.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    head["key_id"] = hashlib.sha256(raw).hexdigest()[:16]
    message = json.dumps(head, sort_keys=True, separators=(",", ":")).encode()
    (package / "proofs/tree-head.json").write_bytes(message)
    (package / "proofs/tree-head.sig").write_bytes(other.sign(message))
    _resum(package)
    (package / "SHA256SUMS.sig").write_bytes(other.sign((package / "SHA256SUMS").read_bytes()))
    pinned = verify_package(package, key_fingerprint=genuine)
    assert any("expected " + genuine in f for f in _failures(pinned, "tree-head"))


def test_tampered_consistency_proof_fails(package: Path) -> None:
    """A consistency proof that does not link an older head to the newest is reported."""
    name = sorted((package / "proofs/consistency").iterdir())[0]
    proof = json.loads(name.read_text())
    proof["path"][0] = "00" * 32
    name.write_text(json.dumps(proof))
    _resum(package)
    failures = _failures(verify_package(package), "consistency")
    assert any(name.name in f for f in failures), failures


def test_replaced_attachment_fails(package: Path) -> None:
    """An attachment swapped for other bytes no longer matches the committed SHA-256."""
    att = next((package / "attachments").iterdir())
    att.write_bytes(b"a different picture")
    _resum(package)
    failures = _failures(verify_package(package), "content")
    assert any(att.name in f and "committed SHA-256" in f for f in failures), failures


def test_added_file_fails(package: Path) -> None:
    """A file slipped into the package after it was made is reported as unlisted."""
    (package / "attachments" / "extra.txt").write_text("later addition")
    (package / "timestamps").mkdir()
    (package / "timestamps" / "note.txt").write_text("not a token")
    failures = _failures(verify_package(package), "files")
    assert any("attachments/extra.txt: not listed in SHA256SUMS" in f for f in failures)
    assert any("timestamps/note.txt: not listed in SHA256SUMS" in f for f in failures)
