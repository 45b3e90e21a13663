"""RFC 3161 timestamps from a local openssl TSA: requested at export, checked by openssl too."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from chatcustody.errors import UsageError
from chatcustody.evidence import build_package, verify_package
from chatcustody.vault import Vault
from tests.evidence.conftest import LocalTsa, make_spec

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def test_timestamped_package_verifies_with_openssl(
    evidence_vault: Vault, local_tsa: LocalTsa, tmp_path: Path
) -> None:
    """Tokens over SHA256SUMS and SM3SUMS verify in verify-package and in openssl ts -verify."""
    spec = make_spec(evidence_vault, tsa_url=local_tsa.url, tsa_ca_file=local_tsa.ca_file)
    result = build_package(evidence_vault, spec, tmp_path / "pkg")
    assert result.timestamped and len(local_tsa.requests) == 2
    pkg = result.path
    report = verify_package(pkg)
    assert report.ok, report.failures
    ts = next(c for c in report.checks if c.name == "timestamps")
    assert ts.checked == 2 and any("SHA256SUMS timestamped at" in n for n in ts.notes)
    assert any("TSA CA CN=chatcustody test CA SHA-256" in n for n in ts.notes)
    for manifest in ("SHA256SUMS", "SM3SUMS"):
        out = subprocess.run(
            ["openssl", "ts", "-verify", "-data", manifest, "-in", f"timestamps/{manifest}.tsr",
             "-CAfile", "timestamps/tsa-ca.pem"],
            cwd=pkg, capture_output=True,
        )  # fmt: skip
        assert out.returncode == 0 and b"Verification: OK" in out.stdout, out.stderr
    assert verify_package(pkg, tsa_ca=local_tsa.ca_file).ok


def test_token_for_other_data_or_untrusted_ca_fails(
    evidence_vault: Vault, local_tsa: LocalTsa, tmp_path: Path
) -> None:
    """A token moved onto another manifest, or checked against another CA, fails by name."""
    spec = make_spec(evidence_vault, tsa_url=local_tsa.url, tsa_ca_file=local_tsa.ca_file)
    pkg = build_package(evidence_vault, spec, tmp_path / "pkg").path
    sha, sm3 = pkg / "timestamps/SHA256SUMS.tsr", pkg / "timestamps/SM3SUMS.tsr"
    a, b = sha.read_bytes(), sm3.read_bytes()
    sha.write_bytes(b)
    sm3.write_bytes(a)
    report = verify_package(pkg)
    failures = next(c.failures for c in report.checks if c.name == "timestamps")
    assert any("SHA256SUMS.tsr" in f and "message imprint" in f for f in failures), failures
    sha.write_bytes(a)
    sm3.write_bytes(b)
    assert verify_package(pkg).ok
    other_ca = Path(local_tsa.ca_file).parent / "other.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "/dev/null",
         "-out", str(other_ca), "-subj", "/CN=someone else", "-days", "1"],
        check=True, capture_output=True,
    )  # fmt: skip
    report = verify_package(pkg, tsa_ca=other_ca)
    assert not report.ok
    failures = next(c.failures for c in report.checks if c.name == "timestamps")
    assert any("does not verify" in f for f in failures), failures


def test_unreachable_tsa_leaves_no_package(
    evidence_vault: Vault, local_tsa: LocalTsa, tmp_path: Path
) -> None:
    """When the TSA cannot be reached the export fails and leaves nothing behind."""
    spec = make_spec(
        evidence_vault, tsa_url="http://127.0.0.1:9/tsa", tsa_ca_file=local_tsa.ca_file
    )
    with pytest.raises(UsageError, match="did not answer"):
        build_package(evidence_vault, spec, tmp_path / "out" / "pkg.zip")
    assert list((tmp_path / "out").iterdir()) == []
