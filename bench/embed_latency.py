"""Embedding latency and throughput of every built model, on real MMLU prompts.

Prints, per model: load time (fresh process), single-prompt p50/p99 latency at ~16, ~50 and 128 tokens and for a
long prompt that gets truncated to 128, and batch throughput over ~1,000 distinct MMLU prompts; plus how close
minilm-l6-int8 is to minilm-l6-fp32 on those prompts. Run: `.venv/bin/python bench/embed_latency.py`.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from wayfare.embed import CATALOGUE, Embedder, ModelError, load_embedder
from wayfare.embed.tokenize import BudgetTokenizer

SHARED = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
LENGTHS = (16, 50, 128)
LONG = 2000


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


def latencies(emb: Embedder, text: str, repeats: int) -> tuple[float, float, float]:
    """Wall-clock p50 and p99, and CPU-time p50 of this thread, in ms.

    With one onnxruntime thread the work runs in the calling thread, so its CPU time is what the prompt costs on an
    uncontended core; wall time also counts waiting for a core when the machine is busy.
    """
    for _ in range(10):
        emb.embed([text])
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.thread_time()
        emb.embed([text])
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    return (
        float(np.percentile(wall, 50) * 1e3),
        float(np.percentile(wall, 99) * 1e3),
        float(np.percentile(cpu, 50) * 1e3),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated model names (default: every built model)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--n-batch", type=int, default=1000)
    args = parser.parse_args()
    console = Console(width=140)
    load_before = os.getloadavg()
    names = [n for n in args.models.split(",") if n] or list(CATALOGUE)
    prompts = mmlu_prompts(args.n_batch)
    rows, vectors = [], {}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("models", total=len(names))
        for name in names:
            progress.update(task, description=f"{name}: loading")
            try:
                emb = load_embedder(name, threads=args.threads, auto_install=False)
            except ModelError:
                console.print(f"[yellow]skip {name}: not built (`wayfare models install {name}`)[/]")
                progress.advance(task)
                continue
            tok = BudgetTokenizer(_tokenizer_file(name), 10_000)
            load_wall, load_cpu = load_seconds(name, args.threads)
            row = {"model": name, "load": f"{load_wall:.2f} ({load_cpu:.2f})"}
            for length in (*LENGTHS, LONG):
                progress.update(task, description=f"{name}: single prompt, {length} tokens")
                p50, p99, cpu50 = latencies(emb, prompt_of_tokens(tok, prompts[:200], length), args.repeats)
                row[f"{length}"] = f"{p50:.2f} / {p99:.2f} ({cpu50:.2f})"
            progress.update(task, description=f"{name}: batch of {len(prompts)}")
            start, start_cpu = time.perf_counter(), time.process_time()
            vectors[name] = emb.embed(prompts)
            wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
            row["batch"] = f"{len(prompts) / wall:,.0f} ({len(prompts) / cpu:,.0f})"
            rows.append(row)
            progress.advance(task)
    table = Table(
        title=f"Embedding latency, {args.threads} onnxruntime thread(s): wall p50 / p99 ms per single prompt "
        f"(CPU-time p50 in brackets); tokens incl. [CLS]/[SEP], {LONG} is truncated to 128; batch = prompts/s over "
        f"{len(prompts)} MMLU prompts, wall (per CPU-second)"
    )
    table.add_column("model", no_wrap=True)
    for col in ("load s", *(f"{n} tok" for n in LENGTHS), f"{LONG} tok", "batch/s"):
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(row["model"], row["load"], *(row[str(n)] for n in (*LENGTHS, LONG)), row["batch"])
    console.print(table)
    if "minilm-l6-int8" in vectors and "minilm-l6-fp32" in vectors:
        cos = (vectors["minilm-l6-int8"] * vectors["minilm-l6-fp32"]).sum(1)
        console.print(
            f"minilm-l6-int8 vs minilm-l6-fp32 cosine over {len(cos)} MMLU prompts: mean {cos.mean():.4f}, "
            f"p1 {np.percentile(cos, 1):.4f}, min {cos.min():.4f}"
        )
    console.print(
        f"machine: {os.cpu_count()} cores; load average (1/5/15 min) before {_fmt(load_before)}, "
        f"after {_fmt(os.getloadavg())}; onnxruntime sessions with {args.threads} intra-op thread(s)"
    )


def _tokenizer_file(name: str) -> Path:
    from wayfare.embed.catalogue import resolve
    from wayfare.embed.store import model_path

    return model_path(resolve(name).name) / "tokenizer.json"


def _fmt(load: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.2f}" for x in load)


if __name__ == "__main__":
    main()
