"""Concurrent authenticated searches over the REST API: latency and errors under load.

Builds (or reuses) a vault of N synthetic messages, adds users, starts ``chatcustody serve``
in a subprocess (a real HTTP server), logs in, and drives C concurrent clients issuing
searches for D seconds. Every request is authenticated, decided by access control, run
through the keyed index and audited. Reports requests, errors (anything but HTTP 200),
throughput and p50/p95/p99 latency. The load generator shares the machine with the server:
on a small machine, read the numbers as a floor.

    python bench/api_bench.py [--n 1000000] [--vault DIR] [--concurrency 50] [--duration 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import _EN, _ZH, write_results  # noqa: E402
from ingest_bench import generate  # noqa: E402

PASSPHRASE = "bench-passphrase"
PASSWORD = "bench-password-1"
USERS = {"legal": "legal", "executive": "executive", "lead": "team_lead"}


def build(vault_dir: Path, n: int, pg: str | None) -> dict[str, str]:
    """Create the vault with n messages (unless it exists); (re)enrol users; return secrets."""
    from chatcustody.access import Role, local_actor
    from chatcustody.identity import create_user, reset_otp, user_exists
    from chatcustody.ingest import import_file
    from chatcustody.settings import Settings
    from chatcustody.vault import VAULT_FILE, Vault

    settings = Settings(vault=vault_dir, database_url=pg)
    if (vault_dir / VAULT_FILE).exists():
        vault = Vault.open(vault_dir, settings, PASSPHRASE)
    else:
        vault = Vault.create(vault_dir, settings, PASSPHRASE, "Asia/Shanghai")
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "bench.jsonl"
            t0 = time.perf_counter()
            generate(path, n)
            result = import_file(vault, path)
            assert result.error is None, result.error
            print(f"built {n} messages in {time.perf_counter() - t0:.0f} s", flush=True)
    secrets = {}
    admin = local_actor(vault)
    for name, role in USERS.items():
        if user_exists(vault, name):
            secrets[name] = reset_otp(vault, admin, name).totp_secret
        else:
            secrets[name] = create_user(
                vault, admin, name, Role(role), password=PASSWORD
            ).totp_secret
    vault.close()
    return secrets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def queries(rng: random.Random, k: int) -> list[str]:
    """Return k queries: Chinese words and pairs, English words, mixed, some rare numbers."""
    out = []
    for _ in range(k):
        roll = rng.random()
        if roll < 0.4:
            out.append(rng.choice(_ZH))
        elif roll < 0.6:
            out.append(rng.choice(_ZH) + rng.choice(_ZH))
        elif roll < 0.8:
            out.append(rng.choice(_EN))
        elif roll < 0.9:
            out.append(f"{rng.choice(_ZH)} {rng.choice(_EN)}")
        else:
            out.append(f"#{rng.randint(1, 99999)}")
    return out


async def drive(base: str, tokens: list[str], concurrency: int, duration: float) -> dict[str, Any]:
    import httpx2 as httpx

    rng = random.Random(1)
    pool = queries(rng, 500)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker(i: int) -> None:
            local = random.Random(i)
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
            while time.perf_counter() < deadline:
                q = local.choice(pool)
                t0 = time.perf_counter()
                try:
                    r = await client.get("/api/v1/search", params={"q": q}, headers=headers)
                    ok = r.status_code == 200
                    key = str(r.status_code)
                except httpx.HTTPError as exc:
                    ok, key = False, type(exc).__name__
                latencies.append((time.perf_counter() - t0) * 1000)
                if not ok:
                    errors[key] = errors.get(key, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    return {
        "requests": len(latencies),
        "errors": errors,
        "error_count": sum(errors.values()),
        "elapsed_s": round(elapsed, 1),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="messages in a new vault")
    parser.add_argument("--vault", type=Path, help="reuse (or build) this vault directory")
    parser.add_argument("--pg", help="PostgreSQL URL for a new vault's tables")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--build-only", action="store_true", help="build the vault and stop")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    args = parser.parse_args()
    import httpx2 as httpx
    import pyotp

    vault_dir = args.vault or Path(tempfile.mkdtemp(prefix="api-bench-")) / "vault"
    secrets = build(vault_dir, args.n, args.pg)
    if args.build_only:
        return
    port = free_port()
    env = dict(os.environ, CHATCUSTODY_PASSPHRASE=PASSPHRASE, CHATCUSTODY_VAULT=str(vault_dir))
    if args.pg:
        env["CHATCUSTODY_DATABASE_URL"] = args.pg
    env["CHATCUSTODY_LOGIN_RATE_PER_MINUTE"] = "1000"
    server = subprocess.Popen(
        [sys.executable, "-m", "chatcustody", "serve", "--port", str(port)]
        + ["--workers", str(args.workers)],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        tokens = []
        for name, secret in secrets.items():
            r = httpx.post(
                f"{base}/api/v1/auth/login",
                json={"username": name, "password": PASSWORD, "otp": pyotp.TOTP(secret).now()},
            )
            r.raise_for_status()
            tokens.append(r.json()["token"])
        warm = asyncio.run(drive(base, tokens, args.concurrency, 3))
        numbers = asyncio.run(drive(base, tokens, args.concurrency, args.duration))
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {
        "n": args.n,
        "backend": "postgresql" if args.pg else "sqlite",
        "concurrency": args.concurrency,
        "workers": args.workers,
        "duration_s": args.duration,
        "warmup_requests": warm["requests"],
        **numbers,
    }
    print(result)
    print(f"written to {write_results('api_bench', result)}")


if __name__ == "__main__":
    main()
