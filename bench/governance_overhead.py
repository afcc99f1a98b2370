"""Governance overhead: the gateway with governance off vs on (virtual key with budget, rpm and tpm, a model rate
limit), on the embedded defaults (SQLite, in-process counters) and on PostgreSQL + Redis; concurrency 1 and 32.
Ratios are against "off" (SQLite log, the gateway bench's routing-off setup); "off, PostgreSQL log" (no governance,
request log on PostgreSQL) shows how much of the PostgreSQL + Redis row is the request log rather than governance.
"PG + Redis, no leases" (``governance.redis_lease_s: 0``) checks every request in Redis (one round trip each); the
default lends busy keys blocks of headroom (docs/GOVERNANCE.md, "Leases").

    .venv/bin/python bench/governance_overhead.py [--seconds 5] [--no-services]

Same harness as bench/gateway_overhead.py: `wayfare mock-upstream` and `wayfare serve` (one worker) as subprocesses,
pinned to different CPUs when possible; every prompt distinct. The limits are set high enough never to refuse, so
every request pays the full check: key lookup (cached), budget reservation + settlement, rpm/tpm windows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import orjson
import psycopg
import redis
from rich.console import Console
from rich.table import Table


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(args: list[str], health: str, cpu: int | None, cwd: str) -> subprocess.Popen[bytes]:
    """``wayfare <args>`` pinned to ``cpu``, once ``health`` answers 200."""

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    proc = subprocess.Popen([sys.executable, "-m", "wayfare.cli", *args], preexec_fn=pin, cwd=cwd)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(health, timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{args[0]} did not start")
        time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


console = Console(width=160)
MASTER = "mk-bench-" + uuid.uuid4().hex
PG = os.environ.get("WAYFARE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("WAYFARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _conn(port: int, key: str | None, stop_at: float, lat: list[float], tag: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    auth = f"authorization: Bearer {key}\r\n" if key else ""
    i = 0
    try:
        while time.perf_counter() < stop_at:
            i += 1
            text = f"prompt {tag}-{i} {time.time_ns()}"
            body = orjson.dumps(
                {"model": "mock-weak", "max_tokens": 64, "messages": [{"role": "user", "content": text}]}
            )
            req = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{auth}"
                   f"content-length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip
            t0 = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(h[15:]) for h in head.split(b"\r\n") if h[:15].lower() == b"content-length:")
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"non-200 answer: {head[:40]!r}")
    finally:
        writer.close()


def _scripts_run() -> int:
    """EVALSHA calls Redis has run since it started (its own count, INFO commandstats)."""
    stats = redis.Redis.from_url(REDIS).info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def phase(
    port: int, key: str | None, conc: int, seconds: float, pid: int, on_redis: bool
) -> tuple[float, float, float, float, float | None]:
    """req/s, p50 ms, p99 ms, gateway CPU ms per request, Redis scripts per request (None when not on Redis)."""

    async def go(duration: float) -> list[float]:
        lat: list[float] = []
        stop_at = time.perf_counter() + duration
        await asyncio.gather(*(_conn(port, key, stop_at, lat, c) for c in range(conc)))
        return lat

    asyncio.run(go(min(1.0, seconds / 4)))
    scripts0 = _scripts_run() if on_redis else 0
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    lat = asyncio.run(go(seconds))
    wall = time.perf_counter() - t0
    per_req = (_scripts_run() - scripts0) / len(lat) if on_redis else None
    arr = np.array(lat) * 1000
    cpu_ms = (cpu_seconds(pid) - cpu0) * 1000 / len(lat)
    return len(lat) / wall, float(np.percentile(arr, 50)), float(np.percentile(arr, 99)), cpu_ms, per_req


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--no-services", action="store_true", help="skip the PostgreSQL + Redis setup")
    args = ap.parse_args()
    ncpu = len(os.sched_getaffinity(0))
    gw_cpu, mock_cpu = (0, 1) if ncpu >= 2 else (None, None)
    schema, prefix = f"wayfare_bench_{uuid.uuid4().hex[:8]}", f"wfbench:{uuid.uuid4().hex[:8]}:"
    setups = [("off (no master key)", "sqlite", False, 0.0), ("on: SQLite + in-process", "sqlite", True, 0.0)]
    if not args.no_services:  # "off, PostgreSQL log" separates the request log's cost from governance's
        setups += [("off, PostgreSQL log", "pg", False, 0.0), ("on: PostgreSQL + Redis", "pg", True, 0.25),
                   ("on: PG + Redis, no leases", "pg", True, 0.0)]  # fmt: skip
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            mock_port = free_port()
            mock = spawn(["mock-upstream", "--port", str(mock_port)], f"http://127.0.0.1:{mock_port}/health",
                         mock_cpu, tmp)  # fmt: skip
            try:
                for name, backend, on, lease_s in setups:
                    db = f"sqlite:///{tmp}/{backend}-{on}.db" if backend == "sqlite" else \
                        f"{PG}?options=-csearch_path%3D{schema}"  # fmt: skip
                    up = f"base_url: 'http://127.0.0.1:{mock_port}/v1'"
                    shared = backend == "pg" and on
                    extra = f"redis_url: '{REDIS}'\ngovernance: {{redis_prefix: '{prefix}', " \
                        f"redis_lease_s: {lease_s}, " if shared else "governance: {"  # fmt: skip
                    extra += "model_limits: {mock-weak: {rpm: 100000000, tpm: 1000000000000}}}\n" if on else "}\n"
                    cfg = Path(tmp, f"{backend}-{on}.yaml")
                    cfg.write_text(f"models:\n  - {{name: mock-weak, {up}, input_price: 0.5, output_price: 1.5}}\n"
                                   f"database_url: '{db}'\n{extra}")  # fmt: skip
                    port = free_port()
                    env_master = MASTER if on else ""
                    os.environ["WAYFARE_MASTER_KEY"] = env_master
                    gw = spawn(["serve", "--config", str(cfg), "--port", str(port)],
                               f"http://127.0.0.1:{port}/ready", gw_cpu, tmp)  # fmt: skip
                    try:
                        key = None
                        if on:
                            resp = httpx.post(f"http://127.0.0.1:{port}/admin/keys",
                                              headers={"authorization": f"Bearer {MASTER}"},
                                              json={"max_budget_usd": 1e9, "budget_period": "daily",
                                                    "rpm": 100_000_000, "tpm": 2_000_000_000})  # fmt: skip
                            resp.raise_for_status()
                            key = resp.json()["key"]
                        for conc in (1, 32):
                            rows.append((name, conc, *phase(port, key, conc, args.seconds, gw.pid, shared)))
                    finally:
                        gw.terminate()
                        gw.wait(timeout=30)
            finally:
                mock.terminate()
                mock.wait(timeout=30)
    finally:
        os.environ.pop("WAYFARE_MASTER_KEY", None)
        if not args.no_services:
            with psycopg.connect(PG, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            client = redis.Redis.from_url(REDIS)
            keys = list(client.scan_iter(match=prefix + "*"))
            if keys:
                client.delete(*keys)
    base = {r[1]: r for r in rows if r[0].startswith("off (")}
    table = Table(title=f"Governance overhead ({ncpu} CPUs; gateway CPU {gw_cpu}, mock CPU {mock_cpu}; "
                        f"{args.seconds:g} s per phase; load avg {os.getloadavg()[0]:.1f})")  # fmt: skip
    cols = ("governance", "conc", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "Redis scripts/req", "req/s vs off",
            "p50 vs off")  # fmt: skip
    for col in cols:
        table.add_column(col, justify="left" if col == "governance" else "right")
    for name, conc, rps, p50, p99, cpu, per_req in rows:
        b = base[conc]
        table.add_row(name, str(conc), f"{rps:,.0f}", f"{p50:.3f}", f"{p99:.3f}", f"{cpu:.3f}",
                      "-" if per_req is None else f"{per_req:.3f}",
                      f"{rps / b[2]:.2f}x", f"{p50 / b[3]:.2f}x")  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
