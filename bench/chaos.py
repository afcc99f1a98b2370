"""Chaos: requests through a real gateway while the upstream fails at a set rate, with and without a fallback.

    .venv/bin/python bench/chaos.py [--requests 2000] [--rate 0.2] [--concurrency 16] [--seed 1] [--json FILE]

Serves the mock upstream and the gateway on 127.0.0.1 (uvicorn, in threads of this process) and sends every
request with a distinct prompt, plain (the ``openai`` SDK, its own retries off) and streaming (raw SSE over httpx).
A share ``rate`` of the requests meets a fault on their first attempt, the eleven kinds equally often: the mock's
429 (with Retry-After), 500, 503, 529, connection reset, read timeout (the upstream stalls), a response cut mid-way,
malformed JSON and a 200 carrying an error body, plus a *connect* timeout (the deployment's address is a socket
whose accept queue is full, so the TCP handshake never completes). Retries meet the same fault rate.

Two set-ups, each run plain and streaming:

- ``fallback``: the failing deployments fall back to a healthy one. Goal: zero client-visible failures. The one
  exception the gateway's contract makes is a stream that breaks after its first chunk reached the client: it
  must end with an OpenAI error event, never a silent switch to another model (docs/GATEWAY.md).
- ``no-fallback``: every failure must be an OpenAI error (429 with Retry-After, 502, 504; ``{"error": {message,
  type, param, code}}``), and the request log must hold one row per request whose ``attempts`` equals the attempts
  the upstream saw.

The same code runs in ``tests/reliability/test_rel_chaos.py`` with 300 requests per set-up.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from wayfare.gateway.testing import GatewayStack
from wayfare.mockllm import FAULT_KINDS

CONNECT_TIMEOUT = "connect_timeout"
ALL_KINDS: tuple[str, ...] = (*FAULT_KINDS, CONNECT_TIMEOUT)
MID_STREAM = ("stream_cut", "malformed")
"""Faults that hit a stream after its first chunk was relayed: the client must get an error event."""

CONFIG = """
models:
  - {{name: primary, model: up-primary, base_url: {url}, timeout: 0.5, input_price: 1, output_price: 2}}
  - {{name: dead, model: up-dead, base_url: "{dead}", timeout: 0.3, input_price: 1, output_price: 2}}
  - {{name: backup, model: up-backup, base_url: {url}, timeout: 5, input_price: 1, output_price: 2}}
  - {{name: solo, model: up-solo, base_url: {url}, timeout: 0.5, input_price: 1, output_price: 2}}
  - {{name: solo-dead, model: up-solo-dead, base_url: "{dead}", timeout: 0.3, input_price: 1, output_price: 2}}
fallbacks:
  primary: [backup]
  dead: [backup]
retry:
  max_retries: 1
  backoff_base: 0.01
  max_retry_after: 1
  deadline: 20
  cooldown_failures: 1000000
database_url: none
"""
"""``primary`` fails at the set rate and falls back to ``backup`` (healthy); ``dead`` cannot be connected to.
``solo`` / ``solo-dead`` are the same without a fallback. Cooldown is off so every request meets the faults."""


class Blackhole:
    """A 127.0.0.1 port where TCP connects time out: a listening socket with backlog 0 that never accepts, its
    accept queue filled by a few connections of our own, so further SYNs are dropped by the kernel."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port: int = self.listener.getsockname()[1]
        self._fillers: list[socket.socket] = []
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            with suppress(BlockingIOError):
                s.connect(("127.0.0.1", self.port))
            self._fillers.append(s)
        time.sleep(0.05)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        for s in self._fillers:
            s.close()
        self.listener.close()


@contextmanager
def chaos_stack(rate: float, seed: int) -> Iterator[GatewayStack]:
    """Mock + gateway with faults armed on ``up-primary`` and ``up-solo`` at the rate the mock's kinds get."""
    hole = Blackhole()
    template = CONFIG.replace("{dead}", hole.base_url)
    try:
        with GatewayStack(template, retry_after_ms=20, hang_s=1.0, keep_requests=1_000_000) as stack:
            mock_rate = rate * len(FAULT_KINDS) / len(ALL_KINDS)
            stack.mock.faults.set_rate("up-primary", mock_rate, FAULT_KINDS, seed)
            stack.mock.faults.set_rate("up-solo", mock_rate, FAULT_KINDS, seed + 1)
            yield stack
    finally:
        hole.close()


@dataclass
class Outcome:
    prompt: str
    model: str
    status: int
    ok: bool
    request_id: str | None
    body: Any = None
    error: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    mid_stream_error: bool = False
    content: str = ""
    problem: str | None = None
    """Why this outcome breaks the contract (None: it holds)."""


@dataclass
class ChaosResult:
    setup: str
    stream: bool
    requests: int
    seconds: float
    succeeded: int
    failed_visible: int
    mid_stream_errors: int
    faults: Counter[str]
    attempts_logged: int
    attempts_seen: int
    problems: list[str]
    statuses: Counter[int]

    def row(self) -> dict[str, Any]:
        return {
            "setup": self.setup,
            "stream": self.stream,
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "succeeded": self.succeeded,
            "client_visible_failures": self.failed_visible,
            "mid_stream_error_events": self.mid_stream_errors,
            "faults_injected": sum(self.faults.values()),
            "faults_by_kind": dict(sorted(self.faults.items())),
            "attempts_logged": self.attempts_logged,
            "attempts_seen_upstream": self.attempts_seen,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "problems": self.problems[:20],
            "problem_count": len(self.problems),
        }


def _valid_error(err: Any) -> bool:
    return (
        isinstance(err, dict)
        and isinstance(err.get("message"), str)
        and bool(err["message"])
        and isinstance(err.get("type"), str)
        and "param" in err
        and "code" in err
    )


def _plain(client: openai.OpenAI, model: str, prompt: str) -> Outcome:
    try:
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": prompt}]
        )
    except openai.APIStatusError as exc:
        body = exc.response.json() if exc.response.content else None
        out = Outcome(prompt, model, exc.status_code, False, exc.response.headers.get("x-wayfare-request-id"))
        out.error = body.get("error") if isinstance(body, dict) else None
        out.headers = dict(exc.response.headers)
        if not _valid_error(out.error):
            out.problem = f"{model}: HTTP {exc.status_code} without an OpenAI error body: {exc.response.text[:200]}"
        elif exc.status_code not in (429, 502, 504):
            out.problem = f"{model}: unexpected status {exc.status_code}: {out.error}"
        elif exc.status_code == 429 and "retry-after" not in exc.response.headers:
            out.problem = f"{model}: 429 without Retry-After"
        return out
    except openai.APIError as exc:  # connection-level: the gateway itself failed
        return Outcome(prompt, model, 0, False, None, problem=f"{model}: {type(exc).__name__}: {exc}")
    resp = raw.parse()
    out = Outcome(prompt, model, raw.status_code, True, raw.headers.get("x-wayfare-request-id"))
    out.headers = dict(raw.headers)
    out.content = resp.choices[0].message.content or ""
    answered = raw.headers.get("x-wayfare-model", "")
    if resp.model != answered or not out.content.startswith(f"mock reply from up-{answered}: "):
        out.problem = f"{model}: wrong answer {resp.model!r}/{answered!r}: {out.content[:80]!r}"
    return out


def _stream(http: httpx.Client, model: str, prompt: str) -> Outcome:
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    try:
        with http.stream("POST", "/chat/completions", json=body) as resp:
            raw = resp.read()
    except httpx.HTTPError as exc:
        return Outcome(prompt, model, 0, False, None, problem=f"{model}: stream transport error {exc!r}")
    rid = resp.headers.get("x-wayfare-request-id")
    if resp.status_code != 200:
        out = Outcome(prompt, model, resp.status_code, False, rid, headers=dict(resp.headers))
        try:
            out.error = orjson.loads(raw).get("error")
        except (orjson.JSONDecodeError, AttributeError):
            out.error = None
        if not _valid_error(out.error):
            out.problem = f"{model}: stream HTTP {resp.status_code} without an OpenAI error body: {raw[:200]!r}"
        elif resp.status_code not in (429, 502, 504):
            out.problem = f"{model}: unexpected stream status {resp.status_code}"
        return out
    events = [e[6:] for e in raw.decode().split("\n\n") if e.startswith("data: ")]
    out = Outcome(prompt, model, 200, False, rid, headers=dict(resp.headers))
    answered = resp.headers.get("x-wayfare-model", "")
    chunks = []
    for data in events:
        if data == "[DONE]":
            continue
        chunk = orjson.loads(data)
        if "error" in chunk:
            out.error = chunk["error"]
            continue
        chunks.append(chunk)
    out.content = "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices"))
    done = bool(events) and events[-1] == "[DONE]"
    if out.error is not None:
        out.mid_stream_error = True
        if done or not _valid_error(out.error) or events[-1] == "[DONE]":
            out.problem = f"{model}: malformed stream error ending: {events[-2:]}"
        elif any(c.get("model") != answered for c in chunks):
            out.problem = f"{model}: stream switched model after bytes were sent"
    elif not done:
        out.problem = f"{model}: stream ended without [DONE] and without an error event"
    else:
        out.ok = True
        if not out.content.startswith(f"mock reply from up-{answered}: ") or any(
            c.get("model") != answered for c in chunks
        ):
            out.problem = f"{model}: wrong streamed answer {answered!r}: {out.content[:80]!r}"
    return out


def _expected_words(prompt: str) -> str:
    return " ".join(prompt.split()[:12])


def run_chaos(
    stack: GatewayStack,
    *,
    setup: str,
    stream: bool,
    requests: int,
    rate: float,
    concurrency: int = 16,
    seed: int = 1,
    progress: Progress | None = None,
) -> ChaosResult:
    """Send ``requests`` requests for ``setup`` (``fallback`` or ``no-fallback``) and check every contract."""
    rng = random.Random(seed)
    dead, live = ("dead", "primary") if setup == "fallback" else ("solo-dead", "solo")
    connect_share = rate / len(ALL_KINDS)
    tag = f"{setup}-{'stream' if stream else 'plain'}-{os.urandom(3).hex()}"
    jobs = [(dead if rng.random() < connect_share else live, f"chaos {tag} request {i} ok") for i in range(requests)]
    client = openai.OpenAI(base_url=stack.base_url, api_key="sk-chaos", max_retries=0, timeout=30)
    http = httpx.Client(base_url=stack.base_url, timeout=30, limits=httpx.Limits(max_connections=concurrency))
    task = progress.add_task(f"{setup} {'stream' if stream else 'plain'}", total=requests) if progress else None

    def one(job: tuple[str, str]) -> Outcome:
        model, prompt = job
        out = _stream(http, model, prompt) if stream else _plain(client, model, prompt)
        if progress is not None and task is not None:
            progress.advance(task)
        return out

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        outcomes = list(pool.map(one, jobs))
    seconds = time.perf_counter() - t0
    client.close()
    http.close()
    time.sleep(0.05)
    return _check(stack, setup, stream, outcomes, tag, seconds)


def _check(
    stack: GatewayStack, setup: str, stream: bool, outcomes: list[Outcome], tag: str, seconds: float
) -> ChaosResult:
    problems = [o.problem for o in outcomes if o.problem]
    seen: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    for entry in list(stack.mock.mock.requests):
        msgs = entry["body"].get("messages") or []
        text = msgs[-1].get("content", "") if msgs and isinstance(msgs[-1], dict) else ""
        if isinstance(text, str) and tag in text:
            seen[text] += 1
            if entry.get("fault") and entry["body"].get("model") in ("up-primary", "up-solo"):
                faults[entry["fault"]] += 1
    records = {r.request_id: r for r in list(stack.sink.records)}
    logged = 0
    for o in outcomes:
        dead_first = o.model in ("dead", "solo-dead")
        if dead_first:
            faults[CONNECT_TIMEOUT] += 1
        if o.request_id is None:
            problems.append(f"{o.model}: no x-wayfare-request-id")
            continue
        rec = records.get(o.request_id)
        if rec is None:
            problems.append(f"{o.request_id}: no request-log row")
            continue
        logged += rec.attempts
        expected_status = 502 if o.mid_stream_error else o.status
        if rec.status != expected_status:
            problems.append(f"{o.request_id}: log status {rec.status}, client saw {expected_status}")
        # attempts the upstream saw: mock requests with this prompt, plus connect attempts to the blackhole
        upstream = seen.get(o.prompt, 0) + (rec.attempts - seen.get(o.prompt, 0) if dead_first else 0)
        if dead_first and rec.attempts - seen.get(o.prompt, 0) != 2:  # max_retries 1: two connect attempts
            problems.append(f"{o.request_id}: {rec.attempts} attempts logged, {seen.get(o.prompt, 0)} reached the mock")
        elif not dead_first and rec.attempts != upstream:
            problems.append(f"{o.request_id}: log says {rec.attempts} attempts, the upstream saw {upstream}")
        if o.ok and rec.fallback_used != (o.headers.get("x-wayfare-model") == "backup"):
            problems.append(f"{o.request_id}: fallback_used={rec.fallback_used} but answered by a different model")
    attempts_seen = sum(seen.values()) + 2 * sum(o.model in ("dead", "solo-dead") for o in outcomes)
    visible = sum(not o.ok for o in outcomes)
    return ChaosResult(
        setup=setup,
        stream=stream,
        requests=len(outcomes),
        seconds=seconds,
        succeeded=sum(o.ok for o in outcomes),
        failed_visible=visible,
        mid_stream_errors=sum(o.mid_stream_error for o in outcomes),
        faults=faults,
        attempts_logged=logged,
        attempts_seen=attempts_seen,
        problems=problems,
        statuses=Counter(o.status for o in outcomes),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per set-up and mode")
    parser.add_argument("--rate", type=float, default=0.2, help="share of attempts that meet a fault")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    console = Console(width=170)
    results: list[ChaosResult] = []
    with (
        chaos_stack(args.rate, args.seed) as stack,
        Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
        ) as progress,
    ):
        for setup in ("fallback", "no-fallback"):
            for stream in (False, True):
                result = run_chaos(
                    stack,
                    setup=setup,
                    stream=stream,
                    requests=args.requests,
                    rate=args.rate,
                    concurrency=args.concurrency,
                    seed=args.seed,
                    progress=progress,
                )
                results.append(result)
    table = Table(title=f"chaos: {args.requests} requests per row, {args.rate:.0%} of attempts faulted")
    for col in (
        "set-up",
        "mode",
        "req/s",
        "ok",
        "client-visible failures",
        "mid-stream error events",
        "faults",
        "attempts logged / seen",
        "contract violations",
    ):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.setup,
            "stream" if r.stream else "plain",
            f"{r.requests / r.seconds:.0f}",
            str(r.succeeded),
            str(r.failed_visible),
            str(r.mid_stream_errors),
            str(sum(r.faults.values())),
            f"{r.attempts_logged} / {r.attempts_seen}",
            str(len(r.problems)),
        )
    console.print(table)
    for r in results:
        console.print(f"{r.setup} {'stream' if r.stream else 'plain'} faults: {dict(sorted(r.faults.items()))}")
        console.print(f"  statuses: {dict(sorted(r.statuses.items()))}")
        for p in r.problems[:10]:
            console.print(f"  [red]violation[/red] {p}", highlight=False)
    load = os.getloadavg()
    console.print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load[0]:.1f}; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )
    if args.json:
        with open(args.json, "wb") as fh:
            fh.write(orjson.dumps([r.row() for r in results], option=orjson.OPT_INDENT_2))
    if any(r.problems for r in results) or any(
        r.setup == "fallback" and r.failed_visible != r.mid_stream_errors for r in results
    ):
        sys.exit(1)


if __name__ == "__main__":
    main()
