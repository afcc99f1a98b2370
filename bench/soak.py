"""Soak: a fixed request rate through a real `wayfare serve` for a long time, with routing, keys and logging on.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 20] [--warmup-s 60] [--window-s 60] [--router default]
        [--stream-share 0.2] [--latency-ms 10] [--json FILE]

Starts `wayfare mock-upstream` and `wayfare serve` (one worker, SQLite request log, `WAYFARE_MASTER_KEY` set, a
virtual key with a budget and an rpm limit that never refuse, route `auto` scored by the learned `default` router)
as subprocesses on 127.0.0.1, then sends `--rate` requests per second, open loop (a request is sent on schedule
whether or not earlier ones finished; latency is measured from the scheduled time, so a stall shows as latency),
every prompt distinct, a share of them streaming. It samples the gateway's RSS every second.

Reports: RSS after warm-up vs at the end (target: < 5% growth), p50/p99 per window (default one minute, windows
start after the warm-up) and the worst window's p99 against the first window's (target: < 2x), errors, and after a
graceful stop (SIGTERM) whether
every answered request has its row in the request log and the database passes `PRAGMA integrity_check`.

`GatewayProcess` and `MockProcess` (bench/processes.py) are reused by tests/reliability (crash and SIGTERM tests).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/processes.py, also when tests import this file
from processes import GatewayProcess, MockProcess

WORDS = [
    *[
        "explain",
        "prove",
        "compute",
        "translate",
        "summarise",
        "compare",
        "list",
        "why",
        "how",
        "what",
        "integral",
        "matrix",
        "poem",
        "contract",
    ],
    *[
        "bug",
        "python",
        "history",
        "physics",
        "recipe",
        "budget",
        "kernel",
        "theorem",
        "probability",
        "essay",
        "market",
        "climate",
        "protein",
    ],
]


def soak_config(mock_url: str, db_path: Path, router: str = "default") -> str:
    return f"""
models:
  - {{name: strong, model: up-strong, base_url: {mock_url}, input_price: 10, output_price: 30, timeout: 10}}
  - {{name: weak, model: up-weak, base_url: {mock_url}, input_price: 0.5, output_price: 1.5, timeout: 10}}
routes:
  - {{name: auto, router: {router}, strong: strong, weak: weak, threshold: 0.5}}
fallbacks:
  weak: [strong]
database_url: sqlite:///{db_path}
"""


def create_key(gateway_url: str, master: str, **spec: Any) -> dict[str, Any]:
    """``POST /admin/keys``; the answer (with the secret in ``key``)."""
    resp = httpx.post(gateway_url + "/admin/keys", json=spec, headers={"authorization": f"Bearer {master}"})
    resp.raise_for_status()
    data: dict[str, Any] = resp.json()
    return data


def integrity(db_path: Path) -> str:
    with sqlite3.connect(db_path) as con:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])


def logged_ids(db_path: Path) -> set[str]:
    with sqlite3.connect(db_path) as con:
        return {r[0] for r in con.execute("SELECT request_id FROM request_log")}


@dataclass
class Sample:
    scheduled: float  # seconds since the start
    latency_ms: float
    status: int
    request_id: str | None
    stream: bool


@dataclass
class SoakResult:
    seconds: float
    rate: float
    samples: list[Sample]
    rss: list[tuple[float, int]]  # (seconds since start, bytes)
    warmup_s: float
    window_s: float
    probes: list[tuple[float, float, float]] = field(default_factory=list)
    """(seconds since start, 1-minute load average, gateway CPU seconds) every second."""
    windows: list[dict[str, float]] = field(default_factory=list)
    rss_after_warmup_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_growth_pct: float = 0.0
    p99_ratio_worst: float = 0.0
    p99_ratio_last: float = 0.0
    errors: int = 0
    missing_log_rows: int = 0
    integrity: str = ""
    exit_code: int | None = None

    def summarise(self) -> None:
        lat = [(s.scheduled, s.latency_ms) for s in self.samples if s.status == 200]
        # windows start after the warm-up (the first one is the reference), so start-up cost does not flatter it
        n_windows = max(1, int((self.seconds - self.warmup_s) // self.window_s))
        for w in range(n_windows):
            lo = self.warmup_s + w * self.window_s
            hi = lo + self.window_s
            vals = np.array([v for t, v in lat if lo <= t < hi])
            if len(vals) == 0:
                continue
            inside = [p for p in self.probes if lo <= p[0] < hi] or self.probes[-1:]
            cpu_s = inside[-1][2] - inside[0][2] if len(inside) > 1 else float("nan")
            self.windows.append(
                {
                    "start_s": lo,
                    "requests": float(len(vals)),
                    "p50_ms": float(np.percentile(vals, 50)),
                    "p99_ms": float(np.percentile(vals, 99)),
                    "load": float(np.mean([p[1] for p in inside])),
                    "gateway_cpu_ms_per_req": 1000 * cpu_s / len(vals),
                }
            )
        if self.windows:
            first = self.windows[0]["p99_ms"]
            self.p99_ratio_worst = max(w["p99_ms"] for w in self.windows) / first
            self.p99_ratio_last = self.windows[-1]["p99_ms"] / first
        # RSS: median of the 10 s after warm-up vs median of the last 10 s (single samples are noisy)
        after = [b for t, b in self.rss if self.warmup_s <= t < self.warmup_s + 10] or [self.rss[0][1]]
        end = [b for t, b in self.rss if t >= self.rss[-1][0] - 10]
        self.rss_after_warmup_mb = statistics.median(after) / 2**20
        self.rss_end_mb = statistics.median(end) / 2**20
        self.rss_growth_pct = 100 * (self.rss_end_mb - self.rss_after_warmup_mb) / self.rss_after_warmup_mb
        self.errors = sum(s.status != 200 for s in self.samples)

    def row(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "rate": self.rate,
            "requests": len(self.samples),
            "errors": self.errors,
            "rss_after_warmup_mb": round(self.rss_after_warmup_mb, 1),
            "rss_end_mb": round(self.rss_end_mb, 1),
            "rss_growth_pct": round(self.rss_growth_pct, 2),
            "p99_ratio_worst": round(self.p99_ratio_worst, 2),
            "p99_ratio_last": round(self.p99_ratio_last, 2),
            "windows": self.windows,
            "missing_log_rows": self.missing_log_rows,
            "integrity": self.integrity,
            "exit_code": self.exit_code,
        }


async def _one(
    session: aiohttp.ClientSession,
    url: str,
    key: str,
    i: int,
    stream: bool,
    scheduled: float,
    t0: float,
    out: list[Sample],
) -> None:
    rng = random.Random(i)
    prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 40))) + f" #{i}"
    body = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": prompt}], "stream": stream})
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    status, rid = 0, None
    try:
        async with session.post(url, data=body, headers=headers) as resp:
            data = await resp.read()
            status, rid = resp.status, resp.headers.get("x-wayfare-request-id")
            if stream and status == 200 and not data.endswith(b"data: [DONE]\n\n"):
                status = 599  # a broken stream
    except (aiohttp.ClientError, TimeoutError):
        status = 0
    out.append(Sample(scheduled - t0, (time.perf_counter() - scheduled) * 1000, status, rid, stream))


async def drive(
    gateway: GatewayProcess,
    key: str,
    *,
    seconds: float,
    rate: float,
    stream_share: float,
    warmup_s: float,
    window_s: float,
    progress: Progress | None = None,
) -> SoakResult:
    """Send ``rate`` req/s for ``seconds`` (open loop, aiohttp: O(1) connection reuse, so the load generator's
    own CPU stays small) and sample the gateway's RSS every second."""
    samples: list[Sample] = []
    rss: list[tuple[float, int]] = []
    probes: list[tuple[float, float, float]] = []
    url = gateway.base_url + "/chat/completions"
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        t0 = time.perf_counter()
        tasks: set[asyncio.Task[None]] = set()
        task_id = progress.add_task("soak", total=seconds) if progress is not None else None
        next_rss = 0.0
        i = 0
        while True:
            now = time.perf_counter() - t0
            if now >= next_rss:
                rss.append((now, gateway.rss_bytes()))
                probes.append((now, os.getloadavg()[0], gateway.cpu_seconds()))
                next_rss = now + 1.0
                if progress is not None and task_id is not None:
                    progress.update(task_id, completed=min(now, seconds))
            scheduled_rel = i / rate
            if scheduled_rel >= seconds:
                break
            if scheduled_rel > now:
                await asyncio.sleep(min(scheduled_rel, next_rss) - now)
                continue
            stream = random.Random(i * 7919).random() < stream_share
            task = asyncio.create_task(_one(session, url, key, i, stream, t0 + scheduled_rel, t0, samples))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
            if i % 16 == 0:
                await asyncio.sleep(0)  # let the sends start even when behind schedule
        if tasks:
            await asyncio.gather(*tasks)
        rss.append((time.perf_counter() - t0, gateway.rss_bytes()))
    result = SoakResult(seconds, rate, samples, rss, warmup_s, window_s, probes)
    result.summarise()
    return result


def run_soak(
    *,
    minutes: float,
    rate: float,
    warmup_s: float,
    window_s: float,
    stream_share: float = 0.2,
    latency_ms: float = 10.0,
    router: str = "default",
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> SoakResult:
    with tempfile.TemporaryDirectory(prefix="wayfare-soak-") as tmp:
        cwd = workdir or Path(tmp)
        master = "sk-master-" + os.urandom(12).hex()
        db = cwd / "soak.db"
        with MockProcess(cwd, latency_ms=latency_ms) as mock:
            gateway = GatewayProcess(soak_config(mock.base_url, db, router), cwd, env={"WAYFARE_MASTER_KEY": master})
            gateway.start()
            try:
                key = create_key(
                    gateway.url,
                    master,
                    max_budget_usd=1e6,
                    budget_period="total",
                    rpm=1_000_000,
                    metadata={"team": "soak"},
                )["key"]
                result = asyncio.run(
                    drive(
                        gateway,
                        key,
                        seconds=minutes * 60,
                        rate=rate,
                        stream_share=stream_share,
                        warmup_s=warmup_s,
                        window_s=window_s,
                        progress=progress,
                    )
                )
            finally:
                result_exit = gateway.stop()
            result.exit_code = result_exit
            answered = {s.request_id for s in result.samples if s.status == 200 and s.request_id}
            result.missing_log_rows = len(answered - logged_ids(db))
            result.integrity = integrity(db)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second (open loop)")
    parser.add_argument("--warmup-s", type=float, default=60.0)
    parser.add_argument("--window-s", type=float, default=60.0, help="latency window (the first one is the reference)")
    parser.add_argument("--stream-share", type=float, default=0.2)
    parser.add_argument("--latency-ms", type=float, default=10.0, help="the mock upstream's latency")
    parser.add_argument("--router", default="default")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    console = Console(width=150)
    load_before = os.getloadavg()
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        r = run_soak(
            minutes=args.minutes,
            rate=args.rate,
            warmup_s=args.warmup_s,
            window_s=args.window_s,
            stream_share=args.stream_share,
            latency_ms=args.latency_ms,
            router=args.router,
            progress=progress,
        )
    table = Table(title=f"soak: {args.rate:g} req/s for {args.minutes:g} min, route auto ({args.router}), keys + log")
    for col in ("window from", "requests", "p50 ms", "p99 ms", "p99 / first", "gateway CPU ms/req", "load avg"):
        table.add_column(col, justify="right")
    for w in r.windows:
        table.add_row(
            f"{w['start_s']:.0f} s",
            f"{w['requests']:.0f}",
            f"{w['p50_ms']:.1f}",
            f"{w['p99_ms']:.1f}",
            f"{w['p99_ms'] / r.windows[0]['p99_ms']:.2f}",
            f"{w['gateway_cpu_ms_per_req']:.2f}",
            f"{w['load']:.1f}",
        )
    console.print(table)
    load_after = os.getloadavg()
    verdict_rss = "ok" if r.rss_growth_pct < 5 else "ABOVE TARGET"
    verdict_p99 = "ok" if r.p99_ratio_worst < 2 else "ABOVE TARGET"
    console.print(
        f"RSS after {args.warmup_s:g} s warm-up {r.rss_after_warmup_mb:.1f} MB, at the end {r.rss_end_mb:.1f} MB: "
        f"{r.rss_growth_pct:+.2f}% ({verdict_rss}, target < 5%)\n"
        f"p99 worst window / first: {r.p99_ratio_worst:.2f}x, last / first: {r.p99_ratio_last:.2f}x "
        f"({verdict_p99}, target < 2x)\n"
        f"requests {len(r.samples)}, errors {r.errors}, answered but missing from the log after SIGTERM: "
        f"{r.missing_log_rows}, integrity_check: {r.integrity}, gateway exit code {r.exit_code}\n"
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, {platform.platform()}, Python "
        f"{platform.python_version()}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        highlight=False,
    )
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(r.row(), option=orjson.OPT_INDENT_2))
    if r.errors or r.missing_log_rows or r.integrity != "ok":
        sys.exit(1)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
