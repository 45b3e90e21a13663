"""Import throughput per source format, and flat memory on big exports.

For every generator in bench/formats/ (one per importer), writes N messages of realistic data,
then measures (1) parse alone and (2) the full import into a fresh SQLite vault (acquisition,
validation, encryption, ledger, commit). The baseline, measured in the same run, is the
canonical chatcustody-jsonl format through the same pipeline: ratios to it travel between
machines.

    python bench/import_formats_bench.py [--n 20000] [--formats wecom,whatsapp]
    python bench/import_formats_bench.py --big-mb 1024 --formats whatsapp,wecom   # memory check
    python bench/import_formats_bench.py --big-mb 1024 --formats whatsapp,wecom --big-import

--big-mb writes an export of about that size and parses it in a child process, printing its
peak RSS next to the peak RSS for a file 1/16 as large: flat memory means the two are close.
--big-import also imports each of them into a fresh vault and prints the peak RSS of the
importing process and of its producer process.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import cpu_seconds, write_results  # noqa: E402

PASSPHRASE = "bench-passphrase"
# generator module → importer name (where they differ) and extra generators
IMPORTER_OF = {"csv": "csv", "wechat": "wechat"}
EXTRA = {"wechat-chatlog": ("wechat", "generate_chatlog")}


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"bench_formats_{name}", HERE / "formats" / f"{name}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generators() -> dict[str, tuple[ModuleType, str]]:
    out = {p.stem: (load(p.stem), "generate") for p in sorted((HERE / "formats").glob("*.py"))}
    for fmt, (module, func) in EXTRA.items():
        out[fmt] = (out[module][0], func)
    return out


def options_for(module: ModuleType, path: Path) -> dict[str, str] | None:
    return module.options(path) if hasattr(module, "options") else None


def parse_rate(fmt: str, path: Path, options: dict[str, str] | None) -> tuple[int, float]:
    from zoneinfo import ZoneInfo

    from chatcustody.importers import REGISTRY, SourceInput

    source = SourceInput(path, ZoneInfo("Asia/Shanghai"), options)
    start = time.perf_counter()
    count = sum(1 for _ in REGISTRY[fmt].parse(source))
    source.close()
    return count, time.perf_counter() - start


def import_rate(fmt: str, path: Path, options: dict[str, str] | None, work: Path) -> dict[str, Any]:
    from chatcustody.ingest import import_file
    from chatcustody.settings import Settings
    from chatcustody.vault import Vault

    settings = Settings(vault=work / f"vault-{fmt}", kdf_memory_kib=8192)
    vault = Vault.create(settings.vault, settings, PASSPHRASE, "Asia/Shanghai")
    try:
        cpu = cpu_seconds()
        start = time.perf_counter()
        result = import_file(vault, path, fmt, options=options)
        wall = time.perf_counter() - start
        cpu = cpu_seconds() - cpu
    finally:
        vault.close()
    if result.error is not None:
        raise SystemExit(f"{fmt}: import failed: {result.error}")
    c = result.counts
    items = c.imported + c.amendments + c.events
    return {
        "items": items,
        "import_s": round(wall, 2),
        "import_per_s": round(items / wall),
        "import_per_cpu_s": round(items / cpu),
    }


def measure(args: argparse.Namespace) -> None:
    gens = generators()
    chosen = args.formats.split(",") if args.formats else list(gens)
    if "jsonl-canonical" not in chosen:
        chosen.insert(0, "jsonl-canonical")
    work = Path(tempfile.mkdtemp(prefix="cc-formats-"))
    rows: dict[str, Any] = {}
    for name in chosen:
        if name == "jsonl-canonical":
            from ingest_bench import generate as canonical

            path = work / "canonical.jsonl"
            canonical(path, args.n)
            fmt, opts = "chatcustody-jsonl", None
        else:
            module, func = gens[name]
            dest = work / name
            dest.mkdir()
            path = getattr(module, func)(dest, args.n)
            fmt = IMPORTER_OF.get(name, name)
            opts = options_for(module, path)
        count, parse_s = parse_rate(fmt, path, opts)
        row = {"format": fmt, "parsed": count, "parse_per_s": round(count / parse_s)}
        row.update(import_rate(fmt, path, opts, work))
        rows[name] = row
        base = rows["jsonl-canonical"]["import_per_s"]
        print(
            f"{name:16s} parse {row['parse_per_s']:>8,}/s   import {row['import_per_s']:>7,}/s "
            f"({row['import_per_cpu_s']:,}/CPU-s, {row['import_per_s'] / base:.2f}× canonical jsonl)",
            flush=True,
        )
    write_results("import_formats", {"n": args.n, "formats": rows})


def child_parse(fmt: str, path: str, options: str) -> None:
    """Run in a child process: parse a file, print items and peak RSS (MiB) as JSON."""
    count, seconds = parse_rate(fmt, Path(path), json.loads(options) or None)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"items": count, "seconds": seconds, "peak_rss_mb": rss}))


def child_import(fmt: str, path: str, options: str, work: str) -> None:
    """Run in a child process: import a file into a fresh vault, print rates and peak RSS
    (MiB) of this process and of its producer process as JSON."""
    r = import_rate(fmt, Path(path), json.loads(options) or None, Path(work))
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    r["producer_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(r))


def _run_child(mode: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, mode, *args], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def big(args: argparse.Namespace) -> None:
    gens = generators()
    work = Path(tempfile.mkdtemp(prefix="cc-big-"))
    results: dict[str, Any] = {}
    for name in args.formats.split(","):
        module, func = gens[name]
        fmt = IMPORTER_OF.get(name, name)
        per_msg = _bytes_per_message(module, func, work / f"probe-{name}")
        for label, mb in (("small", args.big_mb / 16), ("big", args.big_mb)):
            dest = work / f"{name}-{label}"
            dest.mkdir()
            path = getattr(module, func)(dest, int(mb * 2**20 / per_msg))
            size = sum(
                p.stat().st_size
                for p in ([path] if path.is_file() else path.rglob("*"))
                if p.is_file()
            )
            opts = json.dumps(options_for(module, path) or {})
            r = _run_child("--child", fmt, str(path), opts)
            r["size_mb"] = round(size / 2**20)
            results[f"{name}-{label}"] = r
            print(
                f"{name:10s} {label:5s} {r['size_mb']:>6} MB  {r['items']:>10,} items  {r['items'] / r['seconds']:>8,.0f}/s  peak RSS {r['peak_rss_mb']:.0f} MiB (parse)",
                flush=True,
            )
            if args.big_import:
                vaults = work / f"vaults-{name}-{label}"
                vaults.mkdir()
                r = _run_child("--child-import", fmt, str(path), opts, str(vaults))
                r["size_mb"] = round(size / 2**20)
                results[f"{name}-{label}-import"] = r
                print(
                    f"{name:10s} {label:5s} {r['size_mb']:>6} MB  {r['items']:>10,} items  {r['import_per_s']:>8,}/s  peak RSS {r['peak_rss_mb']:.0f} MiB, producer {r['producer_peak_rss_mb']:.0f} MiB (full import)",
                    flush=True,
                )
                shutil.rmtree(vaults)
            path.unlink() if path.is_file() else shutil.rmtree(path)
    write_results("import_formats_big", {"big_mb": args.big_mb, "formats": results})


def _bytes_per_message(module: ModuleType, func: str, dest: Path) -> float:
    dest.mkdir()
    path = getattr(module, func)(dest, 20_000)
    size = sum(
        p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file()
    )
    return size / 20_000


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_parse(*sys.argv[2:5])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child-import":
        child_import(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="messages per format")
    parser.add_argument(
        "--formats", default="", help="comma-separated generator names (default: all)"
    )
    parser.add_argument(
        "--big-mb", type=int, default=0, help="memory check on exports of this size"
    )
    parser.add_argument(
        "--big-import",
        action="store_true",
        help="with --big-mb, also import each export into a fresh vault (peak RSS of both processes)",
    )
    args = parser.parse_args()
    big(args) if args.big_mb else measure(args)


if __name__ == "__main__":
    main()
