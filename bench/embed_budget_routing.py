"""Routing quality (APGR, 5-fold) per embedding model and token budget: what a smaller budget or model costs.

For each `model:max_tokens` configuration, embeds every prompt of each benchmark (cached on disk under the
Wayfare cache, as `wayfare eval` does) and evaluates the given registry routers with `wayfare.eval`'s runner
(k-fold, never scoring a prompt a router was trained on). Prints APGR with its bootstrap 95% CI, next to the
share of prompts the budget truncates. Latency per budget is `bench/embed_latency.py`'s job.
Run: `.venv/bin/python bench/embed_budget_routing.py --benchmarks gsm8k,mmlu --routers knn,logreg`.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from wayfare.data import load_benchmark
from wayfare.embed import CachedEmbedder, load_embedder
from wayfare.embed.catalogue import resolve
from wayfare.embed.store import cache_root, model_path
from wayfare.embed.tokenize import BudgetTokenizer
from wayfare.eval.routerspecs import resolve_routers
from wayfare.eval.runner import EvalConfig, evaluate

DEFAULT_CONFIGS = "minilm-l6-int8:32,minilm-l6-int8:64,minilm-l6-int8:128,minilm-l3-int8:128,static-256:128"


def truncated_share(model: str, max_tokens: int, prompts: list[str]) -> float:
    """Share of prompts longer than the budget (which counts [CLS] and [SEP] for transformer models)."""
    spec = resolve(model)
    tok = BudgetTokenizer(model_path(spec.name) / "tokenizer.json", 1_000_000, special_tokens=False)
    budget = max_tokens - 2 if spec.kind == "onnx" else max_tokens
    return float(np.mean([len(ids) > budget for ids in tok.encode(prompts)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--benchmarks", default="gsm8k,mmlu")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help="comma-separated model:max_tokens")
    parser.add_argument("--routers", default="knn,logreg", help="registry routers to train per fold")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--n-resamples", type=int, default=300)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="onnxruntime runs in parallel")
    args = parser.parse_args()
    console = Console(width=160)
    configs = [c.rsplit(":", 1) for c in args.configs.split(",") if c]
    routers = [r for r in args.routers.split(",") if r]
    load_before = os.getloadavg()
    results: dict[tuple[str, str], dict[str, str]] = {}
    with Progress(console=console) as progress:
        for bench in args.benchmarks.split(","):
            table = load_benchmark(bench)
            for model, tokens in configs:
                label = f"{model}:{tokens}"
                started = time.perf_counter()
                inner = load_embedder(model, max_tokens=int(tokens), threads=1, workers=args.workers)
                embedder = CachedEmbedder(inner, cache_root() / "embeddings")
                specs, _ = resolve_routers(routers, embedder, seed=0)
                result = evaluate(
                    table, specs, EvalConfig(folds=args.folds, n_resamples=args.n_resamples), embedder=embedder,
                    progress=progress,
                )  # fmt: skip
                row = {"n": str(result.metrics["n_prompts"])}
                for name in routers:
                    m = result.metrics["routers"][name]
                    lo, hi = m["apgr_ci"]
                    row[name] = f"{m['apgr']:.3f} [{lo:.3f}, {hi:.3f}]"
                row["truncated"] = f"{100 * truncated_share(model, int(tokens), list(table.prompts)):.0f}%"
                row["seconds"] = f"{time.perf_counter() - started:.0f}"
                results[(bench, label)] = row
    out = Table(title=f"APGR ({args.folds}-fold, bootstrap 95% CI) per embedding model and token budget")
    for col in ("benchmark", "embedder", "prompts", *routers, "truncated", "s"):
        out.add_column(col, justify="left" if col in ("benchmark", "embedder") else "right")
    for (bench, label), row in results.items():
        out.add_row(bench, label, row["n"], *(row[r] for r in routers), row["truncated"], row["seconds"])
    console.print(out)
    console.print(
        f"load average before {'/'.join(f'{x:.2f}' for x in load_before)}, "
        f"after {'/'.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
