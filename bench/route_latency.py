"""End-to-end routing decision latency: embed + score + policy for one prompt, and batch throughput.

Prints p50 / p99 / max per prompt length (~50, 128 and 1,000 tokens of real benchmark text) for the shipped default
pair router (ThresholdPolicy) and the N-model router (TradeoffPolicy), and decisions/s in batch on distinct prompts.
Run: .venv/bin/python bench/route_latency.py [--repeats 300] [--threads 1] [--pair FOLDER] [--n FOLDER]
(``--pair`` / ``--n``: a trained router folder to bench instead of the shipped ``default`` / ``default-n``.)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from wayfare.data import load_benchmark
from wayfare.embed import load_embedder
from wayfare.embed.base import Embedder
from wayfare.routers import ThresholdPolicy, TradeoffPolicy, decide, load_router
from wayfare.routers.artifact import read_meta
from wayfare.routers.registry import SHIPPED, shipped_router_path


def prompts_of_length(texts: list[str], words: int, n: int) -> list[str]:
    """n distinct prompts of about ``words`` words (≈ 1.3 tokens each), cut from or glued together from texts."""
    out: list[str] = []
    pool = " ".join(texts).split()
    step = max(words // 2, 1)
    for i in range(n):
        start = (i * step) % max(len(pool) - words, 1)
        out.append(" ".join(pool[start : start + words]))
    return out


def artifact_embedder(name: str, threads: int) -> Embedder:
    """The embedder (``<model>:<max_tokens>``) router ``name`` (shipped name or folder) was trained on."""
    label = str(read_meta(shipped_router_path(name) if name in SHIPPED else name)["embedder"]["name"])
    model, _, tokens = label.rpartition(":")
    return load_embedder(model, max_tokens=int(tokens), threads=threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1, help="embedder intra-op threads (1 = one core)")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--pair", default="default", help="pair router: 'default' or a router folder")
    parser.add_argument("--n", default="default-n", help="N-model router: 'default-n' or a router folder")
    args = parser.parse_args()

    t0 = time.perf_counter()
    embedder = artifact_embedder(args.pair, args.threads)
    pair = load_router(args.pair, embedder=embedder)
    n_embedder = artifact_embedder(args.n, args.threads)
    multi = load_router(args.n, embedder=n_embedder)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    load_router(args.pair, embedder=embedder)
    router_load_s = time.perf_counter() - t0
    texts = load_benchmark("mmlu").prompts
    prices = dict.fromkeys(multi.models_, 0.2)
    policy_pair, policy_n = ThresholdPolicy(0.5), TradeoffPolicy(0.5)

    console = Console()
    table = Table(
        title=f"routing decision latency, embedders {embedder.name} ({args.pair}) / {n_embedder.name} ({args.n}), "
        f"{args.threads} thread(s)"
    )
    for col in ("router", "prompt", "p50 ms", "p99 ms", "max ms", "score+policy p50 ms"):
        table.add_column(col)
    for label, words in (("~50 tok", 38), ("~128 tok", 98), ("~1000 tok", 770)):
        prompts = prompts_of_length(texts, words, args.repeats)
        for name, router, policy, emb in (
            (args.pair, pair, policy_pair, embedder),
            (args.n, multi, policy_n, n_embedder),
        ):
            for p in prompts[:10]:
                decide(router, p, policy, prices)  # warm up
            times = []
            for p in prompts:
                start = time.perf_counter()
                decide(router, p, policy, prices)
                times.append((time.perf_counter() - start) * 1000)
            arr = np.asarray(times)
            vectors = emb.embed(prompts[:50])
            head = []
            for i in range(len(vectors)):
                start = time.perf_counter()
                if isinstance(policy, ThresholdPolicy):
                    policy.choose(
                        float(router.score_vectors(vectors[i : i + 1], prompts[i : i + 1])[0]),
                        router.strong_,
                        router.weak_,
                    )
                else:
                    policy.choose(
                        router.predict_vectors(vectors[i : i + 1], prompts[i : i + 1]), router.models_, prices
                    )
                head.append((time.perf_counter() - start) * 1000)
            table.add_row(
                name,
                label,
                f"{np.percentile(arr, 50):.2f}",
                f"{np.percentile(arr, 99):.2f}",
                f"{arr.max():.2f}",
                f"{np.percentile(head, 50):.3f}",
            )
    console.print(table)

    prompts = prompts_of_length(texts, 38, args.batch)
    start = time.perf_counter()
    scores = pair.score(prompts)
    policy_pair.strong_mask(scores)
    elapsed = time.perf_counter() - start
    console.print(
        f"batch: {len(prompts)} distinct ~50-token prompts in {elapsed:.2f} s = {len(prompts) / elapsed:.0f} "
        f"decisions/s ({args.pair} pair router)"
    )
    console.print(f"load: embedder + both routers {load_s:.3f} s; one router artifact alone {router_load_s:.3f} s")


if __name__ == "__main__":
    main()
