"""Gateway overhead: direct-to-mock vs through Wayfare, concurrency 1 and 32, one worker, routing off and on.

    .venv/bin/python bench/gateway_overhead.py [--seconds 5] [--router random] [--log sqlite|none]

Starts `wayfare mock-upstream` and `wayfare serve` (one worker) as subprocesses on 127.0.0.1, pinned to different
CPUs when the machine has two or more, and drives them with a minimal keep-alive HTTP/1.1 load generator (every
prompt distinct). Reports req/s, p50/p99 latency and the latency added over direct, and the gateway's CPU ms per
request (from /proc utime+stime).
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
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import orjson
from rich.console import Console
from rich.table import Table

console = Console(width=160)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(args: list[str], health: str, cpu: int | None, cwd: str) -> subprocess.Popen[bytes]:
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


async def _one_conn(host: str, port: int, path: str, model: str, stop_at: float, lat: list[float], tag: int) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = 0
    try:
        while time.perf_counter() < stop_at:
            i += 1
            body = orjson.dumps(
                {"model": model, "messages": [{"role": "user", "content": f"prompt {tag}-{i} {time.time_ns()}"}]}
            )
            req = (f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
                   f"content-length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip
            t0 = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"non-200 answer: {head[:40]!r}")
    finally:
        writer.close()


@dataclass
class Result:
    name: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float | None


def run_phase(name: str, port: int, model: str, conc: int, seconds: float, pid: int | None) -> Result:
    async def go(duration: float) -> list[float]:
        lat: list[float] = []
        stop_at = time.perf_counter() + duration
        await asyncio.gather(
            *(_one_conn("127.0.0.1", port, "/v1/chat/completions", model, stop_at, lat, c) for c in range(conc))
        )
        return lat

    asyncio.run(go(min(1.0, seconds / 4)))  # warm-up
    cpu0 = cpu_seconds(pid) if pid else 0.0
    t0 = time.perf_counter()
    lat = asyncio.run(go(seconds))
    wall = time.perf_counter() - t0
    cpu = (cpu_seconds(pid) - cpu0) * 1000 / len(lat) if pid else None
    arr = np.array(lat) * 1000
    return Result(name, conc, len(lat) / wall, float(np.percentile(arr, 50)), float(np.percentile(arr, 99)), cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="measured seconds per phase")
    ap.add_argument("--router", default="random", help="router of route `auto` for the routing-on phases")
    ap.add_argument("--log", choices=["sqlite", "none"], default="sqlite", help="request log of the gateway")
    args = ap.parse_args()
    ncpu = len(os.sched_getaffinity(0))
    gw_cpu, mock_cpu = (0, 1) if ncpu >= 2 else (None, None)
    with tempfile.TemporaryDirectory() as tmp:
        mock_port, gw_port = free_port(), free_port()
        db = "none" if args.log == "none" else f"sqlite:///{tmp}/bench.db"
        up = f"base_url: 'http://127.0.0.1:{mock_port}/v1'"
        Path(tmp, "wayfare.yaml").write_text(
            f"models:\n"
            f"  - {{name: mock-strong, {up}, input_price: 10, output_price: 30}}\n"
            f"  - {{name: mock-weak, {up}, input_price: 0.5, output_price: 1.5}}\n"
            f"routes:\n  - {{name: auto, router: {args.router}, strong: mock-strong, weak: mock-weak}}\n"
            f"database_url: '{db}'\n"
        )
        mock = spawn(["mock-upstream", "--port", str(mock_port)], f"http://127.0.0.1:{mock_port}/health", mock_cpu, tmp)
        gw = None
        try:
            gw = spawn(["serve", "--config", f"{tmp}/wayfare.yaml", "--port", str(gw_port)],
                       f"http://127.0.0.1:{gw_port}/ready", gw_cpu, tmp)  # fmt: skip
            results = []
            for conc in (1, 32):
                results.append(run_phase("direct to mock", mock_port, "mock-weak", conc, args.seconds, None))
                results.append(run_phase("wayfare, routing off", gw_port, "mock-weak", conc, args.seconds, gw.pid))
                results.append(
                    run_phase(f"wayfare, routing on ({args.router})", gw_port, "auto", conc, args.seconds, gw.pid)
                )
        finally:
            for p in (gw, mock):
                if p is not None:
                    p.terminate()
                    p.wait(timeout=30)
    direct = {r.concurrency: r for r in results if r.name == "direct to mock"}
    title = f"Gateway overhead ({ncpu} CPUs visible; gateway pinned to CPU {gw_cpu}, mock to CPU {mock_cpu}; "
    table = Table(title=title + f"log={args.log}; {args.seconds:g} s per phase; load avg {os.getloadavg()[0]:.1f})")
    for col in ("setup", "conc", "req/s", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms", "gateway CPU ms/req"):
        table.add_column(col, justify="right" if col != "setup" else "left")
    for r in results:
        d = direct[r.concurrency]
        added = (f"{r.p50_ms - d.p50_ms:.3f}", f"{r.p99_ms - d.p99_ms:.3f}") if r is not d else ("", "")
        table.add_row(r.name, str(r.concurrency), f"{r.rps:,.0f}", f"{r.p50_ms:.3f}", f"{r.p99_ms:.3f}", *added,
                      f"{r.cpu_ms:.3f}" if r.cpu_ms is not None else "")  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
