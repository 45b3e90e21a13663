"""Redacted packages: withheld fields keep their proofs and appear nowhere in the package."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from chatcustody.errors import UsageError
from chatcustody.evidence import Redaction, build_package, verify_package
from chatcustody.evidence._redact import MASK, Redactor
from chatcustody.vault import Vault
from tests.evidence.conftest import REDACTIONS, WITHHELD_VALUES, make_spec


def _forms(value: str) -> list[bytes]:
    """Every encoding a value could hide in: UTF-8, JSON-escaped, UTF-16 (PDF CID text)."""
    return [
        value.encode("utf-8"),
        json.dumps(value).strip('"').encode(),
        value.encode("utf-16-be"),
        value.encode("utf-16-le"),
    ]


def test_redacted_package_verifies_and_hides_values(evidence_vault: Vault, tmp_path: Path) -> None:
    """A redacted package verifies, and no withheld value is in any file (PDF text included)."""
    from pdfminer.high_level import extract_text

    spec = make_spec(evidence_vault, include_originals=False, redactions=REDACTIONS)
    result = build_package(evidence_vault, spec, tmp_path / "pkg")
    assert result.withheld_fields >= 5
    report = verify_package(result.path)
    assert report.ok, report.failures
    files = [p for p in result.path.rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes()
        for value in WITHHELD_VALUES:
            for form in _forms(value):
                assert form not in data, f"{value!r} found in {path.name}"
    pdf_text = extract_text(str(result.path / "report.pdf"))
    assert "电子数据提取报告" in pdf_text
    html = (result.path / "transcript.html").read_text("utf-8")
    for value in WITHHELD_VALUES:
        assert value not in pdf_text and value not in html
    assert MASK in html and "masked copy, not covered by the proof" in html
    zipped = build_package(evidence_vault, spec, tmp_path / "pkg.zip").path
    assert verify_package(zipped).ok
    with zipfile.ZipFile(zipped) as z:
        for name in z.namelist():
            data = z.read(name)
            assert not any(form in data for v in WITHHELD_VALUES for form in _forms(v)), name


def test_redactions_are_listed_with_reasons(evidence_vault: Vault, tmp_path: Path) -> None:
    """redactions.jsonl names each withheld field, its rule, its reason and commitment."""
    spec = make_spec(evidence_vault, include_originals=False, redactions=REDACTIONS)
    pkg = build_package(evidence_vault, spec, tmp_path / "pkg").path
    rows = [json.loads(x) for x in (pkg / "redactions.jsonl").read_text("utf-8").splitlines()]
    items = {
        (o["kind"], o["id"]): o
        for o in map(json.loads, (pkg / "messages.jsonl").read_text("utf-8").splitlines())
    }
    assert {r["field"] for r in rows} >= {"text", "raw", "sender_id", "sender_name"}
    for r in rows:
        assert (
            r["reason"] and items[(r["item"], r["id"])]["withheld"][r["field"]] == r["commitment"]
        )
    outsider = [o for o in items.values() if "sender_id" in o["withheld"]]
    assert outsider and all("sender_name" in o["withheld"] for o in outsider)
    assert all(r["pattern"] is None for r in rows if r["kind"] == "value")


def test_withheld_value_cannot_be_confirmed_by_guessing(
    evidence_vault: Vault, tmp_path: Path
) -> None:
    """A commitment does not reveal its value: the plain hash of a guess never matches it."""
    import hashlib

    spec = make_spec(evidence_vault, include_originals=False, redactions=REDACTIONS)
    pkg = build_package(evidence_vault, spec, tmp_path / "pkg").path
    commitments = {
        c
        for line in (pkg / "messages.jsonl").read_text("utf-8").splitlines()
        for c in json.loads(line)["withheld"].values()
    }
    for guess in WITHHELD_VALUES:
        for form in (guess, json.dumps(guess, ensure_ascii=False)):
            assert hashlib.sha256(form.encode()).hexdigest() not in commitments


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (Redaction("pii", "passport", "x"), "unknown PII pattern"),
        (Redaction("secret", "x", "x"), "unknown redaction kind"),
        (Redaction("value", "张三", " "), "say why"),
        (Redaction("value", "  ", "why"), "needs a value"),
    ],
)
def test_malformed_rules_are_refused(rule: Redaction, message: str) -> None:
    """A redaction rule must be a known kind with a value and a reason."""
    with pytest.raises(UsageError, match=message):
        Redactor([rule])


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("phone", "电话 13912345678。"),
        ("phone", "call +86 139-1234-5678"),
        ("id_card", "身份证11010119900307123X号"),
        ("bank_card", "卡号 6222 0212 3456 7890 123"),
        ("email", "mail li.si@example.com now"),
    ],
)
def test_pii_patterns_mask(kind: str, text: str) -> None:
    """Each PII pattern finds its kind of value and the mask removes every digit of it."""
    r = Redactor([Redaction("pii", kind, "third party")])
    assert r.rule_for(text) == 0
    masked = r.mask(text)
    assert MASK in masked and sum(ch.isdigit() for ch in masked) < 3


def test_participant_id_matches_whole_tokens_only() -> None:
    """A short sender id withholds fields naming it, not every number containing it."""
    r = Redactor([Redaction("participant", "7", "not party")])
    assert r.withheld({"sender_id": "7", "text": "hi"})[0].field == "sender_id"
    assert r.withheld({"sender_id": "8", "text": "in 2017 at 17:00"}) == []
    assert r.rule_for("user 7 said") == 0
