"""Build an evidence package: a directory or a zip, never half-written.

The package is written into a temporary directory next to the target and renamed into
place only once every file, the manifests and their signature are complete; a zip is
written to a temporary file and renamed likewise. Every record read is authenticated and
its leaf recomputed from its decrypted fields (``rows.open_row``); the proofs come from a
tree whose root equals the signed head's; and the package form of every redacted item, and
of a sample of the others, is recomputed to its ledger leaf and folded to the root, so a
package that would not verify is not handed out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from chatcustody import ledger
from chatcustody._env import environment, now_ms
from chatcustody.audit import record_audit
from chatcustody.crypto import DualDigest
from chatcustody.errors import IntegrityError, UsageError
from chatcustody.evidence._collect import Collected, Opened, collect
from chatcustody.evidence._custody import custody_rows, masked_request
from chatcustody.evidence._items import KIND_DIRS, item_json, item_leaf_hash, proof_file
from chatcustody.evidence._proofs import SELF_CHECK_EVERY, proof_files
from chatcustody.evidence._redact import Redactor, Withheld
from chatcustody.evidence._report import report_pdf
from chatcustody.evidence._spec import PACKAGE_FORMAT, PACKAGE_VERSION, PackageResult, PackageSpec
from chatcustody.evidence._sums import (
    SHA256SUMS,
    SM3_SUMS_SIG,
    SM3SUMS,
    SUMS_SIG,
    UNLISTED,
    FileDigests,
    digest_bytes,
    sums_text,
)
from chatcustody.evidence._transcript import transcript_html
from chatcustody.evidence._tsa import load_roots, request_token
from chatcustody.evidence._verifydoc import verify_md
from chatcustody.model import canonical_json
from chatcustody.store import schema as t
from chatcustody.vault import Vault

TIMESTAMP_DIR: Final[str] = "timestamps"
_SAFE_EXT: Final[re.Pattern[str]] = re.compile(r"\.[A-Za-z0-9]{1,10}")
_TEXT_FIELDS: Final[frozenset[str]] = frozenset({"text"})
_PROOF_LISTS: Final[frozenset[str]] = frozenset(proof_file(k) for k in KIND_DIRS)


def key_fingerprint(vault: Vault) -> str:
    """Return SHA-256 of the raw Ed25519 public key (``key_id`` is its first 16 digits)."""
    return hashlib.sha256(vault.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()


class _Out:
    """Files written under the package root, with their digests."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.digests: dict[str, FileDigests] = {}

    def put(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if rel not in UNLISTED:
            self.digests[rel] = digest_bytes(rel, data)

    def put_stream(self, rel: str, chunks: Iterator[bytes]) -> FileDigests:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        d = DualDigest()
        with path.open("wb") as f:
            for chunk in chunks:
                d.update(chunk)
                f.write(chunk)
        sha, sm3 = d.hexdigests()
        self.digests[rel] = FileDigests(rel, sha, sm3, d.size)
        return self.digests[rel]


def _ext(name: Any) -> str:
    suffix = Path(str(name)).suffix if name else ""
    return suffix.lower() if _SAFE_EXT.fullmatch(suffix) else ""


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(canonical_json(r) + "\n" for r in rows).encode("utf-8")


class _Builder:
    def __init__(self, vault: Vault, spec: PackageSpec, out: _Out) -> None:
        self.vault = vault
        self.spec = spec
        self.out = out
        self.redactor = Redactor(spec.redactions)
        self.redactions: list[dict[str, Any]] = []
        self.leaf_hashes: dict[tuple[str, int], bytes] = {}
        self.count = 0

    def item(self, o: Opened) -> dict[str, Any]:
        names = list(o.fields)
        salts = ledger.field_salts(o.seed, names)
        withheld: list[Withheld] = self.redactor.withheld(o.fields)
        hidden = {w.field for w in withheld}
        # Only withheld fields need their commitment written out.
        commits = {n: ledger.commitment(salts[n], o.fields[n]).hex() for n in hidden}
        display = {
            n: self.redactor.mask(str(o.fields[n]))
            for n in hidden
            if n in _TEXT_FIELDS and isinstance(o.fields[n], str)
        }
        for w in withheld:
            rule = self.redactor.rules[w.rule]
            self.redactions.append(
                {
                    "item": o.kind,
                    "id": o.ref,
                    "field": w.field,
                    "rule": w.rule,
                    "kind": rule.kind,
                    "pattern": rule.to_json()["pattern"],
                    "reason": rule.reason,
                    "commitment": commits[w.field],
                    "masked_copy": w.field in display,
                }
            )
        obj = item_json(o.kind, o.ref, o.leaf_index, o.fields, salts, hidden, commits, display)
        if o.target is not None:
            obj["target"] = o.target
        self.count += 1
        # The package form must recompute to the ledger's leaf: checked for every redacted
        # item and a sample of the rest (a systematic error shows in any of them).
        sampled = hidden or self.count % SELF_CHECK_EVERY == 1
        if sampled and item_leaf_hash(obj) != o.leaf_hash:
            raise IntegrityError(f"{o.kind} {o.ref}: package form does not match its leaf")
        self.leaf_hashes[(o.kind, o.ref)] = o.leaf_hash
        return obj

    def blob_chunks(self, blob_name: str) -> Iterator[bytes]:
        with self.vault.engine.connect() as conn:
            row = conn.execute(select(t.blobs).where(t.blobs.c.name == blob_name)).mappings().one()
        key = self.vault.blob_key(int(row["id"]), int(row["mk_version"]), bytes(row["dek_sealed"]))
        yield from self.vault.blobs.read(key, blob_name)

    def blob_by_id(self, blob_id: int) -> str:
        with self.vault.engine.connect() as conn:
            return str(
                conn.execute(select(t.blobs.c.name).where(t.blobs.c.id == blob_id)).scalar_one()
            )


def _attachments(out: _Out, b: _Builder, items: list[dict[str, Any]]) -> dict[str, str]:
    """Copy every disclosed, acquired attachment; return {sha256: package path}."""
    paths: dict[str, str] = {}
    for obj in items:
        for att in obj["fields"].get("attachments") or []:
            sha, blob = att.get("sha256"), att.get("blob")
            if not sha or not blob or sha in paths:
                continue
            rel = f"attachments/{sha}{_ext(att.get('name'))}"
            got = out.put_stream(rel, b.blob_chunks(str(blob)))
            if got.sha256 != sha:
                raise IntegrityError(f"attachment {sha}: the stored blob re-hashes to {got.sha256}")
            paths[sha] = rel
    return paths


def _originals(out: _Out, b: _Builder, c: Collected, items: dict[int, dict[str, Any]]) -> int:
    """Copy every original whose digest is disclosed, byte-identical; return the count."""
    count = 0
    for o in c.sources:
        fields = items[o.ref]["fields"]
        sha = fields.get("sha256")
        if not sha:
            continue
        rel = f"originals/{sha}{_ext(fields.get('name'))}"
        got = out.put_stream(rel, b.blob_chunks(b.blob_by_id(int(o.row["blob_id"]))))
        if got.sha256 != o.row["sha256"] or got.sm3 != o.row["sm3"]:
            raise IntegrityError(
                f"source {o.ref}: the stored original no longer matches its hashes"
            )
        count += 1
    return count


def _build(
    vault: Vault, spec: PackageSpec, root: Path, vault_check: dict[str, Any]
) -> PackageResult:
    out = _Out(root)
    b = _Builder(vault, spec, out)
    c = collect(vault, spec.record_ids, spec.request.id)
    b.redactor.learn_names(o.fields for o in c.records)
    records = [(o, b.item(o)) for o in c.records]
    amendments = [(o, b.item(o)) for o in c.amendments]
    sources = {o.ref: b.item(o) for o in c.sources}
    created = now_ms()
    env = environment()
    out.put("messages.jsonl", _jsonl([obj for _, obj in records] + [obj for _, obj in amendments]))
    attachment_paths = _attachments(out, b, [obj for _, obj in records])
    originals = _originals(out, b, c, sources) if spec.include_originals else 0
    custody = custody_rows(spec, b.redactor, c, sources, created, env)
    out.put("custody.jsonl", _jsonl(custody))
    all_items = [o for o, _ in records] + [o for o, _ in amendments] + list(c.sources)
    for rel, data in proof_files(c, all_items, b.leaf_hashes).items():
        out.put(rel, data)
    out.put("proofs/vault-public.pem", vault.public_pem())
    fingerprint = key_fingerprint(vault)
    out.put("redactions.jsonl", _jsonl(b.redactions))
    by_target: dict[int, list[dict[str, Any]]] = {}
    for o, obj in amendments:
        assert o.target is not None
        by_target.setdefault(o.target, []).append(obj)
    in_chats = sorted(
        (obj for _, obj in records),
        key=lambda x: (
            str(x["fields"].get("platform")),
            str(x["fields"].get("conversation_id")),
            int(x["fields"].get("timestamp_ms", 0)),
            int(x["id"]),
        ),
    )
    head_line = f"tree size {c.head.size}, root {c.head.root.hex()}"
    request = masked_request(spec, b.redactor)
    recipient = b.redactor.mask(spec.recipient)
    out.put(
        "transcript.html",
        transcript_html(in_chats, by_target, attachment_paths, request["id"], recipient, head_line),
    )
    out.put(
        "VERIFY.md",
        verify_md(request["id"], recipient, c.head.size, c.head.root.hex(), fingerprint),
    )
    counts = {
        "records": len(records),
        "amendments": len(amendments),
        "sources": len(c.sources),
        "originals": originals,
        "attachments": len(attachment_paths),
        "withheld_fields": len(b.redactions),
    }
    head_json = {k: v for k, v in c.head.to_json().items() if k != "signature"}
    time_source = f"system clock of {env['host']} (UTC instants)" + (
        f"; RFC 3161 TSA {spec.tsa_url} over SHA256SUMS and SM3SUMS" if spec.tsa_url else ""
    )
    manifest = {
        "format": PACKAGE_FORMAT,
        "version": PACKAGE_VERSION,
        "created_ms": created,
        "request": request,
        "recipient": recipient,
        "exported_by": spec.actor,
        "include_originals": spec.include_originals,
        "counts": counts,
        "head": head_json,
        "key_fingerprint": fingerprint,
        "environment": env,
        "time_source": time_source,
        "vault_check": vault_check,
        "redaction_rules": [r.to_json() for r in spec.redactions],
        "unlisted": sorted(UNLISTED),
    }
    out.put(
        "manifest.json",
        json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode() + b"\n",
    )
    files = [
        {"path": d.path, "sha256": d.sha256, "size": d.size}
        for d in sorted(out.digests.values(), key=lambda d: d.path)
        if d.path not in _PROOF_LISTS
    ]
    leaves = [
        {
            "id": o.ref,
            "leaf_index": o.leaf_index,
            "leaf_hash": b.leaf_hashes[("record", o.ref)].hex(),
        }
        for o, _ in sorted(records, key=lambda x: x[0].ref)
    ]
    sources_facts = [
        {"id": ref, **{k: v for k, v in obj["fields"].items() if k != "path"}}
        for ref, obj in sources.items()
    ]
    out.put(
        "report.pdf",
        report_pdf(
            {
                "request": request,
                "recipient": recipient,
                "include_originals": spec.include_originals,
                "created_ms": created,
                "counts": counts,
                "head": head_json,
                "key_fingerprint": fingerprint,
                "sources": sources_facts,
                "custody": custody,
                "environment": env,
                "time_source": time_source,
                "vault_check": vault_check,
                "files": files,
                "leaves": leaves,
            }
        ),
    )
    for name, sig, algorithm in ((SHA256SUMS, SUMS_SIG, "sha256"), (SM3SUMS, SM3_SUMS_SIG, "sm3")):
        sums = sums_text(out.digests.values(), algorithm)
        out.put(name, sums)
        out.put(sig, vault.signer.sign(sums))  # raw Ed25519 over the exact bytes
    timestamped = False
    if spec.tsa_url:
        if spec.tsa_ca_file is None:
            raise UsageError("a TSA URL needs its CA certificate file (CHATCUSTODY_TSA_CA_FILE)")
        ca = spec.tsa_ca_file.read_bytes()
        roots = load_roots(ca)
        for name in (SHA256SUMS, SM3SUMS):
            data = (root / name).read_bytes()
            out.put(f"{TIMESTAMP_DIR}/{name}.tsr", request_token(spec.tsa_url, data, roots))
        out.put(f"{TIMESTAMP_DIR}/tsa-ca.pem", ca)
        timestamped = True
    return PackageResult(
        path=root,
        records=len(records),
        amendments=len(amendments),
        originals=originals,
        attachments=len(attachment_paths),
        files=len(out.digests) + 4 + (3 if timestamped else 0),
        tree_size=c.head.size,
        root=c.head.root.hex(),
        withheld_fields=len(b.redactions),
        timestamped=timestamped,
        vault_check=vault_check,
    )


@contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """Yield a fresh directory next to ``target``; removed afterwards whatever happens."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _zip(src: Path, dest: Path) -> None:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            z.write(path, path.relative_to(src).as_posix())


def _vault_check(vault: Vault, actor: str | None) -> dict[str, Any]:
    """Verify the whole vault (its result goes into the report); refuse when it fails."""
    from chatcustody.verify import verify_vault

    report = verify_vault(vault)
    record_audit(
        vault,
        "verify.run",
        {"ok": report.ok, "checked": report.checked, "failures": report.failure_count},
        actor,
    )
    if not report.ok:
        shown = "; ".join(report.failures[:3])
        raise IntegrityError(f"the vault does not verify, refusing to export: {shown}")
    return {"ok": report.ok, "checked": report.checked, "failure_count": report.failure_count}


def build_package(vault: Vault, spec: PackageSpec, out: Path) -> PackageResult:
    """Write the evidence package for ``spec`` to directory ``out`` or to ``out`` as a zip."""
    if out.exists() and (out.is_file() or any(out.iterdir())):
        raise UsageError(f"{out} already exists; choose a new path for the package")
    if not spec.recipient.strip():
        raise UsageError("a package needs a recipient (its watermark names them)")
    if spec.include_originals and spec.redactions:
        # An original is byte-identical evidence: it would carry every withheld value.
        raise UsageError(
            "a redacted package cannot include originals (they are byte-identical and would "
            "disclose what is withheld); export without originals, or without redactions"
        )
    vault_check = _vault_check(vault, spec.actor)
    as_zip = out.suffix.lower() == ".zip"
    with _staging(out) as tmp:
        root = tmp / "package"
        root.mkdir()
        result = _build(vault, spec, root, vault_check)
        if as_zip:
            part = tmp / "package.zip"
            _zip(root, part)
            part.replace(out)
        else:
            if out.exists():
                out.rmdir()
            root.replace(out)
    record_audit(
        vault,
        "evidence.export",
        {
            "request_id": spec.request.id,
            "recipient": spec.recipient,
            "records": result.records,
            "tree_size": result.tree_size,
            "root": result.root,
            "withheld_fields": result.withheld_fields,
            "originals": result.originals,
            "zip": as_zip,
        },
        spec.actor,
    )
    return dataclasses.replace(result, path=out)
