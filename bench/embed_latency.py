"""Embedding latency and throughput of every built model, on real MMLU prompts.

Prints, per model and onnxruntime thread count: load time (fresh process), single-prompt p50/p99 latency for real
MMLU text cut to several token counts and for a long prompt that gets truncated to the 128-token budget, and batch
throughput over ~1,000 distinct MMLU prompts; plus how close minilm-l6-int8 is to minilm-l6-fp32.
Each (model, threads) runs in its own process pinned to `threads` cores (os.sched_setaffinity), so idle
onnxruntime threads of one configuration never run during another's measurement.
Run: `.venv/bin/python bench/embed_latency.py [--models minilm-l6-int8] [--threads 1,2] [--spin]`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from wayfare.embed import CATALOGUE, Embedder, ModelError, load_embedder
from wayfare.embed.tokenize import BudgetTokenizer

SHARED = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
LENGTHS = (16, 32, 50, 64, 128)
LONG = 2000
BUDGET = 128


def mmlu_prompts(n: int) -> list[str]:
    folder = SHARED / "routellm" / "mmlu" / "responses"
    prompts: dict[str, None] = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="") as fh:
            prompts.update((row["prompt"], None) for row in csv.DictReader(fh))
    if not prompts:
        sys.exit(f"error: no MMLU prompts under {folder} (set WAYFARE_SHARED_DATA)")
    ordered = list(prompts)
    random.Random(0).shuffle(ordered)
    return ordered[:n]


def prompt_of_tokens(tok: BudgetTokenizer, corpus: list[str], tokens: int) -> str:
    """Real text cut to `tokens` tokens including [CLS] and [SEP]."""
    pieces = tok.tokenizer.encode(" ".join(corpus), add_special_tokens=False).ids[: tokens - 2]
    text = tok.tokenizer.decode(pieces)
    return text


def pin(threads: int) -> list[int]:
    """Restrict this process to `threads` cores (the last core for one thread): what `taskset` does."""
    cores = sorted(os.sched_getaffinity(0))
    chosen = cores[-threads:] if threads <= len(cores) else cores
    os.sched_setaffinity(0, chosen)
    return chosen


def load_seconds(name: str, threads: int) -> tuple[float, float]:
    """Import + load in a fresh process (median of 3): wall seconds and CPU seconds of that process."""
    code = (
        "import time; t = time.perf_counter(); c = time.process_time()\n"
        "from wayfare.embed import load_embedder\n"
        f"e = load_embedder({name!r}, threads={threads}, auto_install=False)\n"
        "print(time.perf_counter() - t, time.process_time() - c)"
    )
    runs = [
        tuple(
            map(
                float,
                subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(),
            )
        )
        for _ in range(3)
    ]
    return float(np.median([r[0] for r in runs])), float(np.median([r[1] for r in runs]))


def latencies(emb: Embedder, text: str, repeats: int) -> dict[str, float]:
    """Wall-clock p50 and p99 and CPU-time p50 of the whole process per call, in ms.

    The process is pinned to as many cores as onnxruntime has threads, so its CPU time per call is what a prompt
    costs on uncontended cores (spinning threads included); wall time also counts waiting for a core.
    """
    for _ in range(10):
        emb.embed([text])
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        emb.embed([text])
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {
        "p50": float(np.percentile(wall, 50) * 1e3),
        "p99": float(np.percentile(wall, 99) * 1e3),
        "cpu50": float(np.percentile(cpu, 50) * 1e3),
    }


def worker(name: str, threads: int, spinning: bool, repeats: int, n_batch: int) -> dict[str, Any]:
    """Measure one (model, threads) configuration in this (pinned) process."""
    cores = pin(threads)
    emb = load_embedder(name, threads=threads, spinning=spinning, auto_install=False)
    prompts = mmlu_prompts(max(n_batch, 200))
    tok = BudgetTokenizer(_tokenizer_file(name), 10_000)
    result: dict[str, Any] = {"cores": cores, "single": {}}
    for length in (*LENGTHS, LONG):
        result["single"][str(length)] = latencies(emb, prompt_of_tokens(tok, prompts[:200], length), repeats)
    if n_batch:
        start, start_cpu = time.perf_counter(), time.process_time()
        emb.embed(prompts[:n_batch])
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        result["batch"] = {"n": n_batch, "per_s": n_batch / wall, "per_cpu_s": n_batch / cpu}
    return result


def measure(name: str, threads: int, spinning: bool, repeats: int, n_batch: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", name, "--threads", str(threads), "--repeats", str(repeats)]
    cmd += ["--n-batch", str(n_batch)] + (["--spin"] if spinning else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"error: measuring {name} with {threads} thread(s) failed:\n{proc.stderr.strip()}")
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def fidelity(n: int) -> str | None:
    """Cosine of minilm-l6-int8 to minilm-l6-fp32 on n MMLU prompts (both with the 128-token budget)."""
    try:
        int8 = load_embedder("minilm-l6-int8", threads=1, auto_install=False)
        fp32 = load_embedder("minilm-l6-fp32", threads=1, auto_install=False)
    except ModelError:
        return None
    prompts = mmlu_prompts(n)
    cos = (int8.embed(prompts) * fp32.embed(prompts)).sum(1)
    return (
        f"minilm-l6-int8 vs minilm-l6-fp32 cosine over {len(cos)} MMLU prompts: mean {cos.mean():.4f}, "
        f"p1 {np.percentile(cos, 1):.4f}, min {cos.min():.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated model names (default: every built model)")
    parser.add_argument("--threads", default="1", help="comma-separated onnxruntime thread counts, e.g. 1,2")
    parser.add_argument("--spin", action="store_true", help="idle onnxruntime threads busy-wait (default: sleep)")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--n-batch", type=int, default=1000, help="prompts for the batch measurement (0: skip)")
    parser.add_argument("--n-fidelity", type=int, default=300, help="prompts for the int8 vs fp32 check (0: skip)")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    spinning = args.spin
    if args.worker:
        print(json.dumps(worker(args.worker, int(args.threads), spinning, args.repeats, args.n_batch)))
        return
    console = Console(width=170)
    load_before = os.getloadavg()
    names = [n for n in args.models.split(",") if n] or list(CATALOGUE)
    thread_counts = [int(t) for t in args.threads.split(",") if t]
    rows = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("models", total=len(names) * len(thread_counts))
        for name in names:
            if not (_tokenizer_file(name).parent / "manifest.json").exists():
                console.print(f"[yellow]skip {name}: not built (`wayfare models install {name}`)[/]")
                progress.advance(task, len(thread_counts))
                continue
            for threads in thread_counts:
                progress.update(task, description=f"{name}, {threads} thread(s): load time")
                load_wall, load_cpu = load_seconds(name, threads)
                progress.update(task, description=f"{name}, {threads} thread(s): latency and batch")
                data = measure(name, threads, spinning, args.repeats, args.n_batch)
                row = [name, str(threads), f"{load_wall:.2f} ({load_cpu:.2f})"]
                for length in (*LENGTHS, LONG):
                    s = data["single"][str(length)]
                    row.append(f"{s['p50']:.2f} / {s['p99']:.2f} ({s['cpu50']:.2f})")
                batch = data.get("batch")
                row.append(f"{batch['per_s']:,.0f} ({batch['per_cpu_s']:,.0f})" if batch else "-")
                rows.append(row)
                progress.advance(task)
    table = Table(
        title=f"Embedding latency: wall p50 / p99 ms per single prompt (process CPU-time p50 in brackets), process "
        f"pinned to as many cores as onnxruntime threads, spinning {'on' if spinning else 'off'}; tokens incl. "
        f"[CLS]/[SEP], {LONG} is truncated to {BUDGET}; batch = prompts/s over {args.n_batch} MMLU prompts, wall "
        f"(per CPU-second)"
    )
    table.add_column("model", no_wrap=True)
    for col in ("threads", "load s", *(f"{n} tok" for n in LENGTHS), f"{LONG} tok", "batch/s"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(*r)
    console.print(table)
    if args.n_fidelity and (line := fidelity(args.n_fidelity)):
        console.print(line)
    console.print(
        f"machine: {os.cpu_count()} cores; load average (1/5/15 min) before {_fmt(load_before)}, "
        f"after {_fmt(os.getloadavg())}"
    )


def _tokenizer_file(name: str) -> Path:
    from wayfare.embed.catalogue import resolve
    from wayfare.embed.store import model_path

    return model_path(resolve(name).name) / "tokenizer.json"


def _fmt(load: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.2f}" for x in load)


if __name__ == "__main__":
    main()
