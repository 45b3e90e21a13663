"""The ``items`` and ``content`` checks of an offline package verification.

Every item of ``messages.jsonl`` and every original's ledger entry in ``custody.jsonl`` has
its leaf recomputed from its disclosed fields and withheld commitments and its inclusion
proof folded to the signed root; attachments and originals re-hash to the digests the
ledger committed to.
"""

from __future__ import annotations

from typing import Any

from chatcustody.errors import ProofError
from chatcustody.evidence._items import KIND_DIRS, ItemError, item_leaf_hash, proof_file
from chatcustody.evidence._pkgfiles import Check, PackageFiles, read_jsonl
from chatcustody.evidence._sums import digest_bytes
from chatcustody.ledger._merkle import verify_inclusion


def check_items(
    files: PackageFiles, head: dict[str, Any] | None, manifest: Any
) -> tuple[Check, list[Any]]:
    check = Check("items")
    items: list[tuple[str, Any]] = []
    for n, obj in read_jsonl(files, "messages.jsonl", check):
        items.append((f"messages.jsonl:{n}", obj))
    for n, obj in read_jsonl(files, "custody.jsonl", check):
        if isinstance(obj, dict) and "leaf" in obj:
            items.append((f"custody.jsonl:{n}", obj["leaf"]))
    proofs = _proofs(files, check)
    seen: set[tuple[str, int]] = set()
    counts = {"record": 0, "amendment": 0, "source": 0}
    root = bytes.fromhex(head["root"]) if head else None
    for where, obj in items:
        try:
            lh = item_leaf_hash(obj)
        except ItemError as exc:
            check.fail(f"{where}: {exc}")
            continue
        kind, ref = obj["kind"], int(obj["id"])
        what = f"{kind} {ref}"
        if (kind, ref) in seen:
            check.fail(f"{where}: {what} appears twice")
            continue
        seen.add((kind, ref))
        counts[kind] += 1
        check.checked += 1
        found = proofs.get((kind, ref))
        if found is None:
            check.fail(f"{where}: {what} has no inclusion proof in {proof_file(kind)}")
            continue
        name, proof = found
        try:
            path = [bytes.fromhex(p) for p in proof["path"]]
            p_index, p_size = int(proof["leaf_index"]), int(proof["tree_size"])
            p_leaf = bytes.fromhex(proof["leaf_hash"])
        except (ValueError, KeyError, TypeError) as exc:
            check.fail(f"{name}: malformed proof ({exc})")
            continue
        if p_leaf != lh:
            check.fail(f"{where}: {what} content does not match its proof's leaf hash ({name})")
            continue
        if p_index != obj.get("leaf_index"):
            check.fail(f"{where}: {what} leaf index {obj.get('leaf_index')} != proof {p_index}")
            continue
        if head is None or root is None:
            continue
        if p_size != int(head["size"]):
            check.fail(f"{name}: proof is to tree size {p_size}, the signed head is {head['size']}")
            continue
        try:
            verify_inclusion(lh, p_index, p_size, path, root)
        except ProofError as exc:
            check.fail(f"{name}: {what}: {exc}")
    for (kind, ref), (name, _) in sorted(proofs.items(), key=lambda x: x[1][0]):
        if (kind, ref) not in seen:
            check.fail(f"{name}: a proof for {kind} {ref}, which is not in the package (dropped?)")
    if isinstance(manifest, dict):
        want = manifest.get("counts", {})
        for kind, key in (
            ("record", "records"),
            ("amendment", "amendments"),
            ("source", "sources"),
        ):
            if want.get(key) != counts[kind]:
                check.fail(
                    f"manifest.json counts {want.get(key)} {key}, the package holds {counts[kind]}"
                )
    _redactions(files, [o for _, o in items if isinstance(o, dict)], check)
    return check, [o for _, o in items]


def _proofs(files: PackageFiles, check: Check) -> dict[tuple[str, int], tuple[str, Any]]:
    """Return every inclusion proof by (kind, id), with the file and line it is on."""
    out: dict[tuple[str, int], tuple[str, Any]] = {}
    for kind in KIND_DIRS:
        name = proof_file(kind)
        if name not in files.names and kind != "record":
            continue  # no amendments or no sources in scope
        for n, proof in read_jsonl(files, name, check):
            where = f"{name}:{n}"
            try:
                key = (str(proof["kind"]), int(proof["id"]))
            except (KeyError, TypeError, ValueError) as exc:
                check.fail(f"{where}: malformed proof ({exc})")
                continue
            if key[0] != kind:
                check.fail(f"{where}: a {key[0]} proof in the {kind} proofs")
            elif key in out:
                check.fail(f"{where}: a second proof for {key[0]} {key[1]}")
            else:
                out[key] = (where, proof)
    return out


def _redactions(files: PackageFiles, items: list[Any], check: Check) -> None:
    by_id = {(o.get("kind"), o.get("id")): o for o in items}
    for n, r in read_jsonl(files, "redactions.jsonl", check):
        try:
            item = by_id.get((r["item"], r["id"]))
            field_name, commitment = r["field"], r["commitment"]
        except (KeyError, TypeError) as exc:
            check.fail(f"redactions.jsonl:{n}: malformed ({exc})")
            continue
        if item is None:
            check.fail(f"redactions.jsonl:{n}: names {r['item']} {r['id']}, not in the package")
        elif item.get("withheld", {}).get(field_name) != commitment:
            check.fail(
                f"redactions.jsonl:{n}: {r['item']} {r['id']} does not withhold {field_name}"
            )


def _by_digest(files: PackageFiles, folder: str) -> dict[str, list[str]]:
    """Index ``folder/<sha256><ext>`` files by the digest their name starts with."""
    out: dict[str, list[str]] = {}
    for name in files.names:
        if name.startswith(folder):
            out.setdefault(name[len(folder) : len(folder) + 64], []).append(name)
    return out


def check_content(files: PackageFiles, items: list[Any], manifest: Any) -> Check:
    check = Check("content")
    attachments = _by_digest(files, "attachments/")
    originals = _by_digest(files, "originals/")
    digests: dict[str, Any] = {}

    def digest(name: str) -> Any:
        if name not in digests:
            digests[name] = digest_bytes(name, files.read(name) or b"")
            check.checked += 1
        return digests[name]

    with_originals = isinstance(manifest, dict) and manifest.get("include_originals")
    for obj in items:
        if not isinstance(obj, dict):
            continue
        fields = obj.get("fields", {})
        if obj.get("kind") == "record":
            for att in fields.get("attachments") or []:
                sha = att.get("sha256") if isinstance(att, dict) else None
                if not sha:
                    continue
                found = attachments.get(sha, [])
                if not found:
                    check.fail(f"record {obj['id']}: attachment {sha} is not in attachments/")
                for name in found:
                    if digest(name).sha256 != sha:
                        check.fail(
                            f"{name}: does not re-hash to the committed SHA-256 "
                            f"(record {obj['id']})"
                        )
        elif obj.get("kind") == "source" and with_originals:
            sha, sm3 = fields.get("sha256"), fields.get("sm3")
            if not sha:
                continue
            found = originals.get(sha, [])
            if len(found) != 1:
                check.fail(f"source {obj['id']}: original {sha} is not in originals/")
                continue
            d = digest(found[0])
            if d.sha256 != sha or (sm3 and d.sm3 != sm3):
                check.fail(
                    f"{found[0]}: not byte-identical to the acquired original (source {obj['id']})"
                )
    return check
