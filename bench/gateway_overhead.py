"""Gateway overhead: direct-to-mock vs through Wayfare (and LiteLLM's proxy), concurrency 1 and 32, one worker.

    .venv/bin/python bench/gateway_overhead.py [--seconds 5] [--router default] [--log sqlite|none]
        [--vs-litellm [--litellm-venv DIR] [--litellm-version 1.108.7]] [--markdown FILE]

Starts `wayfare mock-upstream` and `wayfare serve` (one worker) as subprocesses on 127.0.0.1, the gateway pinned to
CPU 0 and the mock to CPU 1 when the machine has two or more, and drives them with a minimal keep-alive HTTP/1.1
load generator (uvloop; every prompt distinct, so no cache helps). Phases: direct to the mock, through Wayfare with
routing off (a model name) and on (route `auto` scored by `--router`, the shipped learned `default` unless told), and
`POST /v1/messages` (Anthropic's API in front) and `POST /v1/responses` (OpenAI's Responses API, `store: false`),
routing off, beside chat completions, a model with two deployments (both on the mock, `weighted` choice), and
with `--log sqlite` the same router on route `auto-q` with a quality target whose controller replays 3,000 labelled
pairs every second in the background (its request path adds one dictionary lookup).
With `--vs-litellm`, LiteLLM's proxy (installed into its own venv on first use, pinned version) is measured in the
same run on the same CPU with the same mock and load. Reports req/s, p50/p99 latency, the latency added over
direct, the proxy's CPU ms per request (from /proc utime+stime of its process tree) and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
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
import uvloop
from rich.console import Console
from rich.table import Table

console = Console(width=170)
LITELLM_VERSION = "1.108.7"
SERVER_EXTRAS = ("uvloop", "httptools")
"""Installed beside LiteLLM so its uvicorn runs on the same event loop and HTTP parser as Wayfare's (its best case)."""
KEY = "sk-bench-" + os.urandom(16).hex()
"""Sent by the load generator to every target; LiteLLM's proxy refuses to start without a master key."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(
    cmd: list[str], health: str, cpu: int | None, cwd: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    proc = subprocess.Popen(cmd, preexec_fn=pin, cwd=cwd, env=env)
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(health, timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{' '.join(cmd[:3])} did not start")
        time.sleep(0.2)


def wayfare(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "wayfare.cli", *args]


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (LiteLLM may fork)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


SC_QUESTION = "What is the capital of France and why did it become the capital?"


def _recased(text: str, rng: random.Random) -> str:
    """``text`` with random letters upper-cased: a new string (the vector memo misses, so the cache embeds it) whose
    vector is the same (the embedders' tokenizers are uncased), so the semantic cache answers it."""
    return "".join(c.upper() if rng.random() < 0.3 else c for c in text)


async def _one_conn(
    host: str, port: int, model: str, stop_at: float, lat: list[float], tag: int, path: str = "/v1/chat/completions",
    semantic: str | None = None,
) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection(host, port)
    i = 0
    rng = random.Random(time.time_ns() + tag)  # new texts in every phase: nothing is remembered from the last
    try:
        while time.perf_counter() < stop_at:
            i += 1
            request: dict[str, object] = {
                "model": model, "messages": [{"role": "user", "content": f"prompt {tag}-{i} {time.time_ns()}"}]
            }  # fmt: skip
            if semantic is not None:  # "miss": distinct prompts; "hit": one question, re-cased each time
                text = _recased(SC_QUESTION, rng) if semantic == "hit" else f"prompt {tag}-{i} {time.time_ns()}"
                request = {"model": model, "messages": [{"role": "user", "content": text}], "temperature": 0}
            if path == "/v1/messages":
                request["max_tokens"] = 64
            elif path == "/v1/responses":
                request = {"model": model, "input": f"prompt {tag}-{i} {time.time_ns()}", "store": False}
            body = orjson.dumps(request)
            req = (f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
                   f"authorization: Bearer {KEY}\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip
            t0 = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            payload = await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"non-200 answer: {head[:40]!r} {payload[:200]!r}")
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
    load: float


def run_phase(
    name: str,
    port: int,
    model: str,
    conc: int,
    seconds: float,
    pid: int | None,
    warmup: float = 1.0,
    path: str = "/v1/chat/completions",
    semantic: str | None = None,
) -> Result:
    async def go(duration: float) -> list[float]:
        lat: list[float] = []
        stop_at = time.perf_counter() + duration
        await asyncio.gather(
            *(_one_conn("127.0.0.1", port, model, stop_at, lat, c, path, semantic) for c in range(conc))
        )
        return lat

    uvloop.run(go(min(warmup, seconds / 2)))  # warm-up (LiteLLM imports modules lazily on its first requests)
    cpu0 = cpu_seconds(pid) if pid else 0.0
    t0 = time.perf_counter()
    lat = uvloop.run(go(seconds))
    wall = time.perf_counter() - t0
    cpu = (cpu_seconds(pid) - cpu0) * 1000 / len(lat) if pid else None
    arr = np.array(lat) * 1000
    r = Result(
        name, conc, len(lat) / wall, float(np.percentile(arr, 50)), float(np.percentile(arr, 99)), cpu,
        os.getloadavg()[0],
    )  # fmt: skip
    console.print(f"  {name:<36} c={conc:<3} {r.rps:>8,.0f} req/s  p50 {r.p50_ms:.3f} ms  load {r.load:.1f}")
    return r


def ensure_litellm(venv: Path, version: str) -> Path:
    """LiteLLM's proxy in its own venv (never in Wayfare's): installed on first use, pinned."""
    exe = venv / "bin" / "litellm"
    pip = venv / "bin" / "pip"
    if exe.exists():
        out = subprocess.run([str(pip), "show", "litellm"], capture_output=True, text=True).stdout
        if f"Version: {version}" in out and (venv / "bin" / "uvicorn").exists():
            return exe
    with console.status(f"installing litellm[proxy]=={version} into {venv} (one time)"):
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(pip), "install", "-q", f"litellm[proxy]=={version}", *SERVER_EXTRAS],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return exe


def litellm_config(tmp: str, mock_port: int) -> Path:
    path = Path(tmp, "litellm.yaml")
    path.write_text(
        "model_list:\n"
        "  - model_name: mock-weak\n"
        "    litellm_params:\n"
        "      model: openai/mock-weak\n"
        f"      api_base: http://127.0.0.1:{mock_port}/v1\n"
        "      api_key: sk-unused\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )
    return path


def check_route(gw_port: int, router: str) -> None:
    """Routing-on numbers only count if the route's router really loaded (else its strong model answers)."""
    routes = httpx.get(f"http://127.0.0.1:{gw_port}/ready", timeout=5).json().get("routes", {})
    if routes.get("auto") != "ok":
        raise SystemExit(f"error: router {router!r} did not load, so routing-on would not route: {routes.get('auto')}")


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.node()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="measured seconds per phase")
    ap.add_argument("--router", default="default", help="router of route `auto` for the routing-on phases")
    ap.add_argument("--log", choices=["sqlite", "none"], default="sqlite", help="request log of the gateway")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--vs-litellm", action="store_true", help="also measure LiteLLM's proxy in the same run")
    ap.add_argument("--litellm-venv", type=Path, default=Path(tempfile.gettempdir()) / "wayfare-bench-litellm")
    ap.add_argument("--litellm-version", default=LITELLM_VERSION)
    ap.add_argument("--markdown", type=Path, help="also write the table as Markdown to this file")
    ap.add_argument(
        "--semantic-cache",
        action="store_true",
        help="also measure the semantic cache (misses, hits; on a model and on route `auto`)",
    )
    ap.add_argument(
        "--semantic-embedder",
        default="minilm-l6-int8",
        help="its embedder (static-tl-256: the shipped router's, so a routed prompt is embedded once)",
    )
    args = ap.parse_args()
    ncpu = len(os.sched_getaffinity(0))
    gw_cpu, mock_cpu = (0, 1) if ncpu >= 2 else (None, None)
    litellm_exe = ensure_litellm(args.litellm_venv, args.litellm_version) if args.vs_litellm else None
    started = dt.datetime.now(dt.UTC)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        mock_port, gw_port = free_port(), free_port()
        db = "none" if args.log == "none" else f"sqlite:///{tmp}/bench.db"
        up = f"base_url: 'http://127.0.0.1:{mock_port}/v1'"
        sc = args.semantic_cache
        Path(tmp, "wayfare.yaml").write_text(
            f"models:\n"
            f"  - {{name: mock-strong, {up}, input_price: 10, output_price: 30}}\n"
            f"  - {{name: mock-weak, {up}, input_price: 0.5, output_price: 1.5}}\n"
            f"  - {{name: mock-pair, model: mock-weak, id: pair-a, {up}, input_price: 0.5, output_price: 1.5}}\n"
            f"  - {{name: mock-pair, model: mock-weak, id: pair-b, {up}, input_price: 0.5, output_price: 1.5}}\n"
            + (
                f"  - {{name: mock-weak-sc, model: mock-weak, {up}, input_price: 0.5, output_price: 1.5}}\n"
                if sc
                else ""
            )
            + f"routes:\n  - {{name: auto, router: {args.router}, strong: mock-strong, weak: mock-weak}}\n"
            f"  - {{name: auto-q, router: {args.router}, strong: mock-strong, weak: mock-weak, shadow: {{sample: 0}},\n"
            f"     quality: {{min_labels: 200, recheck_every: 50, period_seconds: 1}}}}\n"
            + (f"  - {{name: auto-sc, router: {args.router}, strong: mock-strong, weak: mock-weak}}\n" if sc else "")
            + f"database_url: '{db}'\n"
            + (semantic_config(args) if sc else "")
        )
        if args.log == "sqlite":  # the quality route's controller replays 3,000 labelled pairs every second
            from wayfare.quality.testing import seed_labels

            seed_labels(db, 3000, route="auto-q")
        mock = spawn(wayfare(["mock-upstream", "--port", str(mock_port)]), f"http://127.0.0.1:{mock_port}/health",
                     mock_cpu, tmp)  # fmt: skip
        proxy = None
        try:
            proxy = spawn(wayfare(["serve", "--config", f"{tmp}/wayfare.yaml", "--port", str(gw_port)]),
                          f"http://127.0.0.1:{gw_port}/ready", gw_cpu, tmp)  # fmt: skip
            check_route(gw_port, args.router)
            for conc in args.concurrency:
                results.append(run_phase("direct to mock", mock_port, "mock-weak", conc, args.seconds, None))
                results.append(run_phase("wayfare, routing off", gw_port, "mock-weak", conc, args.seconds, proxy.pid))
                name = "wayfare, two deployments (weighted)"
                results.append(run_phase(name, gw_port, "mock-pair", conc, args.seconds, proxy.pid))
                for api in ("messages", "responses"):
                    results.append(
                        run_phase(f"wayfare /v1/{api}, routing off", gw_port, "mock-weak", conc, args.seconds,
                                  proxy.pid, path=f"/v1/{api}")
                    )  # fmt: skip
                results.append(
                    run_phase(f"wayfare, routing on ({args.router})", gw_port, "auto", conc, args.seconds, proxy.pid)
                )
                if args.log == "sqlite":
                    name = f"wayfare, routing on ({args.router}) + quality target"
                    results.append(run_phase(name, gw_port, "auto-q", conc, args.seconds, proxy.pid))
                if args.semantic_cache:
                    emb = args.semantic_embedder
                    for model, what in (("mock-weak-sc", "routing off"), ("auto-sc", f"routing on ({args.router})")):
                        for result in ("miss", "hit"):
                            name = f"wayfare, {what}, semantic cache {result} ({emb})"
                            results.append(run_phase(name, gw_port, model, conc, args.seconds, proxy.pid,
                                                     semantic=result))  # fmt: skip
            stop(proxy)
            if litellm_exe is not None:
                port = free_port()
                env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
                env["LITELLM_MASTER_KEY"] = KEY
                env.pop("DATABASE_URL", None)
                cmd = [str(litellm_exe), "--config", str(litellm_config(tmp, mock_port)), "--host",
                       "127.0.0.1", "--port", str(port), "--num_workers", "1", "--telemetry", "False"]  # fmt: skip
                with console.status("starting LiteLLM's proxy"):
                    proxy = spawn(cmd, f"http://127.0.0.1:{port}/health/liveliness", gw_cpu, tmp, env)
                for conc in args.concurrency:
                    name = f"litellm {args.litellm_version}"
                    results.append(run_phase(name, port, "mock-weak", conc, args.seconds, proxy.pid, warmup=3.0))
        finally:
            stop(proxy)
            stop(mock)
    render(results, args, ncpu, gw_cpu, mock_cpu, started)


def semantic_config(args: argparse.Namespace) -> str:
    """The semantic cache on model `mock-weak-sc` and route `auto-sc` (copies of `mock-weak` and `auto`; the other
    phases' names stay uncached). static-tl-256 has no measured default threshold: 0.95 is set for it."""
    threshold = "" if args.semantic_embedder == "minilm-l6-int8" else ", threshold: 0.95"
    return (
        f"governance:\n  cache:\n    semantic: {{routes: [mock-weak-sc, auto-sc], embedder: {args.semantic_embedder}"
        f"{threshold}, ttl_s: 3600, max_entries: 10000}}\n"
    )


def render(
    results: list[Result], args: argparse.Namespace, ncpu: int, gw_cpu: int | None, mock_cpu: int | None,
    started: dt.datetime,
) -> None:  # fmt: skip
    direct = {r.concurrency: r for r in results if r.name == "direct to mock"}
    litellm = {r.concurrency: r for r in results if r.name.startswith("litellm")}
    cols = ["setup", "conc", "req/s", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms", "CPU ms/req",
            "1000/CPU ms", "load"]  # fmt: skip
    if litellm:
        cols.append("× LiteLLM req/s")
    rows = []
    for r in results:
        d = direct[r.concurrency]
        added = (f"{r.p50_ms - d.p50_ms:.3f}", f"{r.p99_ms - d.p99_ms:.3f}") if r is not d else ("", "")
        row = [r.name, str(r.concurrency), f"{r.rps:,.0f}", f"{r.p50_ms:.3f}", f"{r.p99_ms:.3f}", *added,
               f"{r.cpu_ms:.3f}" if r.cpu_ms is not None else "",
               f"{1000 / r.cpu_ms:,.0f}" if r.cpu_ms else "", f"{r.load:.1f}"]  # fmt: skip
        if litellm:
            ll = litellm.get(r.concurrency)
            row.append(f"{r.rps / ll.rps:.1f}×" if ll is not None and r.name.startswith("wayfare") else "")
        rows.append(row)
    title = (
        f"Gateway overhead, {started:%Y-%m-%d %H:%M} UTC ({ncpu} CPUs visible; proxy pinned to CPU {gw_cpu}, "
        f"mock to CPU {mock_cpu}; log={args.log}; {args.seconds:g} s per phase; 1000/CPU ms = req/s one dedicated "
        "core would sustain at the measured CPU cost; load = 1-min load average)"
    )
    table = Table(title=title)
    for col in cols:
        table.add_column(col, justify="left" if col == "setup" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if args.markdown:
        cmd = "python bench/gateway_overhead.py " + " ".join(sys.argv[1:])
        lines = [f"{title}", "", f"Machine: {machine()}", "", f"Command: `{cmd}`", ""]
        lines += ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        args.markdown.write_text("\n".join(lines) + "\n")
        console.print(f"written to {args.markdown}")


if __name__ == "__main__":
    main()
