"""Ingest and verify throughput of the vault, with same-run baselines.

Generates N canonical messages (realistic Chinese/English mix), imports them end to end
(acquisition, encryption, ledger, commit) into a fresh vault, then verifies the vault.
Baselines measured in the same run: raw SQLite inserts of rows of the same size, and raw
AES-256-GCM over the same texts. Ratios travel between machines; absolute numbers don't.

    python bench/ingest_bench.py [--n 1000000] [--pg postgresql://postgres@127.0.0.1/test]
                                 [--verify-full]

verify is timed as ``chatcustody verify`` runs it: the search index's re-tokenising check on
a random sample (the printed ``index_check`` says how many, and the seed); ``--verify-full``
also times ``verify --full``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_seconds, peak_rss_mb, synthetic_text, timer, write_results  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

PASSPHRASE = "bench-passphrase"


def generate(path: Path, n: int, seed: int = 0) -> None:
    """Write n canonical messages over 200 conversations, one per line."""
    rng = random.Random(seed)
    start = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            conv = rng.randrange(200)
            sender = rng.randrange(2000)
            obj = {
                "platform": "wecom" if conv % 3 else "slack",
                "conversation_id": f"conv-{conv}",
                "conversation_name": f"值班群{conv}号 / duty group {conv}",
                "conversation_kind": "group",
                "message_id": f"m{i}",
                "sender_id": f"user{sender}",
                "sender_name": f"员工{sender}",
                "timestamp": start + i * 1500,
                "type": "text",
                "text": synthetic_text(rng),
            }
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")


def baseline_sqlite(n: int, payload: int) -> float:
    """Rows/s of plain executemany inserts of (id, int, blob) rows into WAL SQLite."""
    with tempfile.TemporaryDirectory() as d:
        db = sqlite3.connect(Path(d) / "b.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, ts INTEGER, payload BLOB)")
        blob = os.urandom(payload)
        with timer() as t:
            for start in range(0, n, 5000):
                db.execute("BEGIN")
                db.executemany(
                    "INSERT INTO r VALUES (?, ?, ?)",
                    ((i, i, blob) for i in range(start, min(n, start + 5000))),
                )
                db.execute("COMMIT")
        db.close()
    return n / t["s"]


def baseline_aesgcm(texts: list[bytes]) -> float:
    """Messages/s of raw AES-256-GCM encryption of the texts."""
    aead = AESGCM(AESGCM.generate_key(256))
    nonce = os.urandom(12)
    with timer() as t:
        for x in texts:
            aead.encrypt(nonce, x, b"aad")
    return len(texts) / t["s"]


def run(
    n: int, database_url: str | None, workdir: Path, data: Path, verify_full: bool
) -> dict[str, Any]:
    from chatcustody.ingest import import_file
    from chatcustody.settings import Settings
    from chatcustody.vault import Vault
    from chatcustody.verify import verify_vault

    settings = Settings(vault=workdir / f"vault-{uuid.uuid4().hex[:6]}", database_url=database_url)
    vault = Vault.create(settings.vault, settings, PASSPHRASE, "Asia/Shanghai")
    try:
        cpu0 = cpu_seconds()
        with timer() as t_ingest:
            result = import_file(vault, data)
        cpu1 = cpu_seconds()
        assert result.error is None, result.error
        assert result.counts.imported == n, result.counts
        with timer() as t_verify:
            report = verify_vault(vault)
        cpu2 = cpu_seconds()
        assert report.ok, report.failures[:5]
        full: dict[str, Any] = {}
        if verify_full:
            with timer() as t_full:
                assert verify_vault(vault, full_index=True).ok
            cpu3 = cpu_seconds()
            full = {
                "verify_full_s": round(t_full["s"], 2),
                "verify_full_msgs_per_s": round(n / t_full["s"]),
                "verify_full_msgs_per_cpu_s": round(n / (cpu3 - cpu2)),
            }
    finally:
        vault.close()
    return {
        "index_check": report.index_check,
        **full,
        "ingest_s": round(t_ingest["s"], 2),
        "ingest_msgs_per_s": round(n / t_ingest["s"]),
        "ingest_msgs_per_cpu_s": round(n / (cpu1 - cpu0)),
        "verify_s": round(t_verify["s"], 2),
        "verify_msgs_per_s": round(n / t_verify["s"]),
        "verify_msgs_per_cpu_s": round(n / (cpu2 - cpu1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="messages to generate")
    parser.add_argument("--pg", default=None, help="also run on this PostgreSQL server URL")
    parser.add_argument("--keep", type=Path, default=None, help="work directory to keep")
    parser.add_argument(
        "--verify-full",
        action="store_true",
        help="also time verify --full (every record re-tokenised for the index check)",
    )
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="cc-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "messages.jsonl"
    with timer() as t_gen:
        generate(data, args.n)
    texts = [
        json.loads(line)["text"].encode()
        for _, line in zip(range(200_000), data.open(encoding="utf-8"), strict=False)
    ]
    out: dict[str, Any] = {
        "n": args.n,
        "input_mb": round(data.stat().st_size / 2**20, 1),
        "generate_s": round(t_gen["s"], 1),
    }
    out["baseline_sqlite_rows_per_s"] = round(baseline_sqlite(min(args.n, 500_000), 600))
    out["baseline_aesgcm_msgs_per_s"] = round(baseline_aesgcm(texts))
    print(f"n={args.n:,}  input {out['input_mb']} MB", flush=True)
    print(
        f"baseline: raw SQLite inserts {out['baseline_sqlite_rows_per_s']:,} rows/s, raw AES-GCM {out['baseline_aesgcm_msgs_per_s']:,} msgs/s",
        flush=True,
    )
    backends: dict[str, str | None] = {"sqlite": None}
    if args.pg:
        backends["postgresql"] = args.pg
    for name, url in backends.items():
        if url:
            import psycopg

            db = f"cc_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(url, autocommit=True) as c:
                c.execute(f'CREATE DATABASE "{db}"')
            url = url.rsplit("/", 1)[0] + "/" + db
        try:
            r = run(args.n, url, workdir, data, args.verify_full)
        finally:
            if url:
                with psycopg.connect(args.pg, autocommit=True) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        r["ingest_vs_raw_sqlite"] = round(
            r["ingest_msgs_per_s"] / out["baseline_sqlite_rows_per_s"], 4
        )
        r["verify_vs_raw_aesgcm"] = round(
            r["verify_msgs_per_s"] / out["baseline_aesgcm_msgs_per_s"], 4
        )
        out[name] = r
        print(
            f"{name:10s} ingest {r['ingest_msgs_per_s']:>8,} msgs/s ({r['ingest_s']} s, {r['ingest_vs_raw_sqlite']:.3f}× raw SQLite)"
            f"   verify {r['verify_msgs_per_s']:>8,} msgs/s ({r['verify_s']} s, {r['verify_vs_raw_aesgcm']:.3f}× raw AES-GCM)"
            f"\n{'':10s} per CPU-second: ingest {r['ingest_msgs_per_cpu_s']:,}, verify {r['verify_msgs_per_cpu_s']:,}"
            f" (load average {os.getloadavg()[0]:.2f})"
            f"\n{'':10s} verify's index check: {r['index_check']}",
            flush=True,
        )
        if "verify_full_msgs_per_s" in r:
            print(
                f"{'':10s} verify --full {r['verify_full_msgs_per_s']:,} msgs/s "
                f"({r['verify_full_s']} s; per CPU-second {r['verify_full_msgs_per_cpu_s']:,})",
                flush=True,
            )
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(f"peak RSS {out['peak_rss_mb']} MB; results → {write_results('ingest', out)}")


if __name__ == "__main__":
    main()
