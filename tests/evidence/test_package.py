"""Evidence packages: built from a vault, verified offline, checked by standard tools."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chatcustody.errors import UsageError
from chatcustody.evidence import build_package, verify_package
from chatcustody.vault import Vault
from tests.evidence.conftest import IMAGE_BYTES, REDACTIONS, make_spec


def test_fresh_package_verifies_offline(evidence_vault: Vault, tmp_path: Path) -> None:
    """A freshly built package passes every offline check, as a directory and as a zip."""
    spec = make_spec(evidence_vault)
    result = build_package(evidence_vault, spec, tmp_path / "pkg")
    assert result.records == len(spec.record_ids) == 20
    assert result.amendments == 1 and result.attachments == 1 and result.originals == 2
    report = verify_package(tmp_path / "pkg")
    assert report.ok, report.failures
    assert {c.name for c in report.checks} >= {"files", "sm3", "items", "consistency"}
    items = next(c for c in report.checks if c.name == "items")
    assert items.checked == 20 + 1 + 2  # records, the edit, both originals' ledger entries
    zipped = build_package(evidence_vault, spec, tmp_path / "pkg.zip")
    assert zipfile.is_zipfile(zipped.path)
    assert verify_package(zipped.path).ok
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_standard_tools_accept_untouched_package(evidence_vault: Vault, tmp_path: Path) -> None:
    """sha256sum -c passes, and openssl accepts the tree-head and manifest signatures."""
    pkg = build_package(evidence_vault, make_spec(evidence_vault), tmp_path / "pkg").path
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=pkg, capture_output=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    assert b"FAILED" not in sums.stdout and sums.stdout.count(b": OK") > 20
    for message, sig in (
        ("proofs/tree-head.json", "proofs/tree-head.sig"),
        ("SHA256SUMS", "SHA256SUMS.sig"),
    ):
        ok = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "proofs/vault-public.pem",
             "-rawin", "-in", message, "-sigfile", sig],
            cwd=pkg, capture_output=True,
        )  # fmt: skip
        assert ok.returncode == 0 and b"Signature Verified Successfully" in ok.stdout, ok.stderr
    fingerprint = verify_package(pkg).facts["key_fingerprint"]
    verify_md = (pkg / "VERIFY.md").read_text("utf-8")
    command = next(x for x in verify_md.split("`") if x.startswith("openssl pkey -pubin"))
    shown = subprocess.run(command, shell=True, cwd=pkg, capture_output=True, text=True)
    assert shown.stdout.split()[0] == fingerprint and fingerprint in verify_md
    for line in (pkg / "SM3SUMS").read_text().splitlines()[:3]:
        digest, name = line.split("  ", 1)
        dgst = subprocess.run(["openssl", "dgst", "-sm3", name], cwd=pkg, capture_output=True)
        assert dgst.stdout.decode().strip().endswith(digest)


def test_package_contents(evidence_vault: Vault, tmp_path: Path) -> None:
    """Files are as the issue lists; attachments and originals are byte-identical."""
    pkg = build_package(evidence_vault, make_spec(evidence_vault), tmp_path / "pkg").path
    for name in (
        "messages.jsonl", "transcript.html", "report.pdf", "SHA256SUMS", "SM3SUMS",
        "custody.jsonl", "redactions.jsonl", "VERIFY.md", "proofs/tree-head.json",
        "proofs/tree-head.sig", "proofs/vault-public.pem", "manifest.json",
    ):  # fmt: skip
        assert (pkg / name).is_file(), name
    assert [p.read_bytes() for p in (pkg / "attachments").iterdir()] == [IMAGE_BYTES]
    originals = {p.read_bytes() for p in (pkg / "originals").iterdir()}
    exports = {p.read_bytes() for p in (tmp_path / "exports").glob("*.jsonl")}
    assert originals == exports
    proofs = [json.loads(x) for x in (pkg / "proofs/records.jsonl").read_text().splitlines()]
    assert sorted(p["id"] for p in proofs) == list(range(1, 21))
    proof = proofs[0]
    assert set(proof) >= {"leaf_index", "tree_size", "leaf_hash", "path"}
    head = json.loads((pkg / "proofs/tree-head.json").read_text())
    assert proof["tree_size"] == head["size"]
    assert list((pkg / "proofs/consistency").iterdir())
    events = [json.loads(x)["event"] for x in (pkg / "custody.jsonl").read_text().splitlines()]
    assert {"acquired", "stored", "verified", "exported"} <= set(events)
    verify_md = (pkg / "VERIFY.md").read_text("utf-8")
    assert "sha256sum -c SHA256SUMS" in verify_md and "核验" in verify_md


def test_transcript_and_report(evidence_vault: Vault, tmp_path: Path) -> None:
    """Transcript and report are bilingual, watermarked, and mark recalls and edits."""
    from pdfminer.high_level import extract_text

    pkg = build_package(evidence_vault, make_spec(evidence_vault), tmp_path / "pkg").path
    html = (pkg / "transcript.html").read_text("utf-8")
    assert "REQ-2026-0007" in html and "北京某律师事务所" in html
    assert "撤回 recalled" in html and "另一导出版本 re-exported variant" in html
    assert "第3条消息（已修改）" in html and "+08:00" in html
    assert 'href="attachments/' in html and "http" not in html.split("<main>", 1)[1]
    from chatcustody.evidence._report import font_name

    assert font_name() == "CJK", "scripts/setup installs fonts-wqy-microhei for the report"
    assert b"/FontFile2" in (pkg / "report.pdf").read_bytes()  # the CJK font is embedded
    text = extract_text(str(pkg / "report.pdf"))
    for expected in ("电子数据提取报告", "REQ-2026-0007", "北京某律师事务所", "lead_wang",
                     "保管链", "环境说明", "通过 OK"):  # fmt: skip
        assert expected in text, expected


def test_refuses_existing_target_and_originals_with_redactions(
    evidence_vault: Vault, tmp_path: Path
) -> None:
    """A package never overwrites a path, and a redacted package never carries originals."""
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    with pytest.raises(UsageError, match="already exists"):
        build_package(evidence_vault, make_spec(evidence_vault), tmp_path / "taken")
    with pytest.raises(UsageError, match="cannot include originals"):
        build_package(
            evidence_vault, make_spec(evidence_vault, redactions=REDACTIONS), tmp_path / "p"
        )
    assert not (tmp_path / "p").exists()


def test_cli_verify_package_needs_no_vault(evidence_vault: Vault, tmp_path: Path) -> None:
    """verify-package runs with no vault or passphrase; exit 0 when intact, 10 when not."""
    pkg = build_package(evidence_vault, make_spec(evidence_vault), tmp_path / "pkg.zip").path
    env = {"PATH": "/usr/bin:/bin", "CHATCUSTODY_VAULT": str(tmp_path / "no-vault-here")}
    cmd = [sys.executable, "-m", "chatcustody", "verify-package", str(pkg), "--json"]
    ok = subprocess.run(cmd, env=env, capture_output=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True
    data = bytearray(pkg.read_bytes())
    with zipfile.ZipFile(pkg) as z:
        info = z.getinfo("VERIFY.md")
    data[info.header_offset + 40] ^= 0xFF  # inside the stored name/data of a member
    pkg.write_bytes(bytes(data))
    bad = subprocess.run(cmd, env=env, capture_output=True)
    assert bad.returncode == 10, (bad.stdout, bad.stderr)


def test_tampered_vault_is_not_exported(evidence_vault: Vault, tmp_path: Path) -> None:
    """A vault that fails verification exports nothing, and the refusal names the record."""
    from sqlalchemy import select, update

    from chatcustody.errors import IntegrityError
    from chatcustody.store import schema as t

    with evidence_vault.begin() as conn:
        payload = conn.execute(select(t.records.c.payload).where(t.records.c.id == 3)).scalar_one()
        changed = bytearray(payload)
        changed[-1] ^= 1
        conn.execute(update(t.records).where(t.records.c.id == 3).values(payload=bytes(changed)))
    with pytest.raises(IntegrityError, match="record 3"):
        build_package(evidence_vault, make_spec(evidence_vault), tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_offline_verifier_loads_no_vault_code() -> None:
    """Importing the verifier loads neither the vault, the writer nor ingest (offline use)."""
    code = (
        "import sys, chatcustody.evidence as e; e.verify_package; "
        "print(sorted(m for m in sys.modules if m.startswith('chatcustody')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout
    for heavy in ("chatcustody.vault", "chatcustody.evidence._writer", "chatcustody.ingest"):
        assert f"'{heavy}'" not in loaded, loaded
