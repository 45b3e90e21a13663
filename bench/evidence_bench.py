"""Evidence package export and offline verification at 100,000 scoped messages.

Imports N synthetic messages into a fresh SQLite vault (not timed as part of the result),
then times ``build_package`` over all of them (including its full vault verification) and
``verify_package`` over the result. Baseline measured in the same run: what
``sha256sum -c SHA256SUMS`` and an SM3 pass do -- read and hash every byte of the finished
package -- so the ratios say how much the proofs, the PDF and the HTML cost on top.

    python bench/evidence_bench.py [--n 100000] [--zip]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_seconds, peak_rss_mb, timer, write_results  # noqa: E402
from ingest_bench import PASSPHRASE, generate  # noqa: E402

LIMIT_S = 60.0


def baseline_hash(pkg: Path) -> tuple[float, int]:
    """Seconds to read and SHA-256 + SM3 every byte of the package, and the byte count."""
    from chatcustody.crypto import DualDigest

    total = 0
    with timer() as t:
        for path in sorted(p for p in pkg.rglob("*") if p.is_file()):
            d = DualDigest()
            data = path.read_bytes()
            d.update(data)
            d.hexdigests()
            total += len(data)
    return t["s"], total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="scoped messages to export")
    parser.add_argument("--zip", action="store_true", help="also export and verify a .zip")
    parser.add_argument("--keep", type=Path, default=None, help="work directory to keep")
    args = parser.parse_args()

    from sqlalchemy import select

    from chatcustody.evidence import (
        Approval,
        PackageSpec,
        RequestFacts,
        build_package,
        verify_package,
    )
    from chatcustody.ingest import import_file
    from chatcustody.settings import Settings
    from chatcustody.store import schema as t
    from chatcustody.vault import Vault

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="cc-evidence-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "messages.jsonl"
    generate(data, args.n)
    settings = Settings(vault=workdir / "vault")
    vault = Vault.create(settings.vault, settings, PASSPHRASE, "Asia/Shanghai")
    out: dict[str, Any] = {"n": args.n, "backend": "sqlite", "limit_s": LIMIT_S}
    try:
        with timer() as t_import:
            result = import_file(vault, data)
        assert result.error is None, result.error
        out["import_s"] = round(t_import["s"], 1)
        with vault.engine.connect() as conn:
            ids = tuple(int(i) for (i,) in conn.execute(select(t.records.c.id)))
        assert len(ids) == args.n
        spec = PackageSpec(
            record_ids=ids,
            request=RequestFacts(
                "BENCH-1",
                "agent_li",
                "bench case",
                "bench basis",
                "bench",
                {"all": True},
                (Approval("lead_wang", "approve", 1_767_225_600_000, "ok"),),
            ),  # fmt: skip
            recipient="bench recipient",
            include_originals=True,
            actor="legal_zhou",
        )
        targets = [("dir", workdir / "pkg")] + ([("zip", workdir / "pkg.zip")] if args.zip else [])
        for label, target in targets:
            cpu0 = cpu_seconds()
            with timer() as t_export:
                built = build_package(vault, spec, target)
            cpu1 = cpu_seconds()
            with timer() as t_verify:
                report = verify_package(target)
            cpu2 = cpu_seconds()
            assert report.ok, report.failures[:5]
            r: dict[str, Any] = {
                "export_s": round(t_export["s"], 2),
                "export_cpu_s": round(cpu1 - cpu0, 2),
                "verify_s": round(t_verify["s"], 2),
                "verify_cpu_s": round(cpu2 - cpu1, 2),
                "files": built.files,
                "export_within_limit": t_export["s"] <= LIMIT_S,
                "verify_within_limit": t_verify["s"] <= LIMIT_S,
            }
            if label == "dir":
                base_s, size = baseline_hash(target)
                r["package_mb"] = round(size / 2**20, 1)
                r["baseline_hash_s"] = round(base_s, 2)
                r["export_vs_hash"] = round(t_export["s"] / base_s, 1)
                r["verify_vs_hash"] = round(t_verify["s"] / base_s, 1)
            else:
                r["package_mb"] = round(target.stat().st_size / 2**20, 1)
            out[label] = r
            print(
                f"{label}: export {r['export_s']} s, verify {r['verify_s']} s "
                f"({built.files} files, {r['package_mb']} MB; limit {LIMIT_S:.0f} s each)"
                + (
                    f"\n     baseline: read + SHA-256 + SM3 of every package byte "
                    f"{r['baseline_hash_s']} s → export {r['export_vs_hash']}×, "
                    f"verify {r['verify_vs_hash']}× the baseline"
                    if "baseline_hash_s" in r
                    else ""
                )
                + f" (load average {os.getloadavg()[0]:.2f})",
                flush=True,
            )
    finally:
        vault.close()
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(f"peak RSS {out['peak_rss_mb']} MB; results → {write_results('evidence', out)}")


if __name__ == "__main__":
    main()
