"""Decision latency of the ``blend`` router (the best learned pair router, not a serving default).

Fits ``blend`` (default parameters) on a built-in benchmark with cached embeddings, then times ``decide`` (embed the
prompt, embed its answer options, TF-IDF terms, kNN, probe, policy) one prompt at a time with a one-thread
embedder on real prompts of that benchmark, and prints p50 / p99 / max in ms.
Run: .venv/bin/python bench/blend_latency.py [--benchmark mmlu] [--repeats 300] [--embedder minilm-l6-int8:128]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from wayfare.data import load_benchmark
from wayfare.embed import CachedEmbedder, load_embedder
from wayfare.embed.store import cache_root
from wayfare.routers import ThresholdPolicy, decide, make_router


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--benchmark", default="mmlu")
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--embedder", default="minilm-l6-int8:128")
    args = parser.parse_args()
    model, _, tokens = args.embedder.rpartition(":")
    table = load_benchmark(args.benchmark)
    cached = CachedEmbedder(load_embedder(model, max_tokens=int(tokens)), cache_root() / "embeddings")
    router = make_router("blend", embedder=cached)
    t0 = time.perf_counter()
    router.fit_vectors(np.asarray(cached.embed(table.prompts), dtype=np.float32), table)
    print(f"fit on {len(table)} {args.benchmark} prompts: {time.perf_counter() - t0:.1f} s")
    router.embedder = load_embedder(model, max_tokens=int(tokens), threads=1)  # timed path: no cache
    rng = np.random.default_rng(0)
    prompts = [table.prompts[i] for i in rng.choice(len(table), args.repeats, replace=False)]
    policy = ThresholdPolicy(0.5)
    for p in prompts[:10]:
        decide(router, p, policy)  # warm-up
    times = []
    for p in prompts:
        t = time.perf_counter()
        decide(router, p, policy)
        times.append((time.perf_counter() - t) * 1000)
    ms = np.asarray(times)
    print(
        f"blend decide, {args.benchmark} prompts, {args.repeats} distinct: p50 {np.percentile(ms, 50):.2f} ms, "
        f"p99 {np.percentile(ms, 99):.2f} ms, max {ms.max():.2f} ms"
    )


if __name__ == "__main__":
    main()
