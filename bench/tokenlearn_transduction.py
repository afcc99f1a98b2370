"""Does the tokenlearn fit (static-tl-*) route better only because its corpus holds the evaluated prompts?

The shipped static-tl tables are fitted on a sample of the bundled prompts, which include the MMLU and GSM8K prompts
`wayfare eval` scores (unsupervised: only the teacher's vectors of them, no labels). This script rebuilds the
table in memory with the same recipe three ways per benchmark and reports APGR (k-fold, `wayfare.eval`) on it:
the distilled prior alone (what static-256 is), the corpus as shipped, and the corpus without any prompt of that
benchmark (LLMRouter's verbatim copies included).
Run: `.venv/bin/python bench/tokenlearn_transduction.py --benchmarks mmlu,gsm8k [--lam 0.01] [--dims 256]`.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from rich.console import Console
from rich.table import Table

from wayfare.data import load_benchmark
from wayfare.embed import CachedEmbedder, load_embedder
from wayfare.embed.build import minilm_l6_encoder
from wayfare.embed.distill import fit_pca, token_vectors, weighted_table
from wayfare.embed.static_embedder import StaticEmbedder
from wayfare.embed.store import cache_root, wheels_dir
from wayfare.embed.tokenlearn import (
    CORPUS_SEED,
    CORPUS_SIZE,
    LAMBDA,
    TEACHER,
    corpus_prompts,
    learn_table,
    sample_corpus,
)
from wayfare.eval.routerspecs import resolve_routers
from wayfare.eval.runner import EvalConfig, evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--benchmarks", default="mmlu,gsm8k")
    parser.add_argument("--routers", default="knn,logreg")
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--lam", type=float, default=LAMBDA)
    parser.add_argument("--corpus-size", type=int, default=CORPUS_SIZE)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--n-resamples", type=int, default=300)
    args = parser.parse_args()
    console = Console(width=160)
    routers = [r for r in args.routers.split(",") if r]
    load_before = os.getloadavg()
    teacher = CachedEmbedder(
        load_embedder(TEACHER, max_tokens=128, threads=1, workers=os.cpu_count() or 1), cache_root() / "embeddings"
    )
    model, tokenizer = minilm_l6_encoder(wheels_dir())
    out = Table(title=f"APGR ({args.folds}-fold) of the static table, dims {args.dims}, lambda {args.lam}")
    for col in ("benchmark", "table", "corpus prompts", *routers, "fit s"):
        out.add_column(col, justify="left" if col in ("benchmark", "table") else "right")
    with tempfile.TemporaryDirectory() as tmp:
        tok_file = Path(tmp) / "tokenizer.json"
        tok_file.write_bytes(tokenizer)
        buf = io.BytesIO()
        onnx.save(model, buf)
        raw = token_vectors(buf.getvalue(), tok_file)
        prior = weighted_table(raw, fit_pca(raw, args.dims))
        for bench in args.benchmarks.split(","):
            table = load_benchmark(bench)
            size = args.corpus_size
            variants: list[tuple[str, list[str] | None]] = [
                ("prior (= static-256 recipe)", None),
                ("fitted, corpus as shipped", sample_corpus(corpus_prompts(), size, CORPUS_SEED)),
                (f"fitted, corpus without {bench}", sample_corpus(corpus_prompts((bench,)), size, CORPUS_SEED)),
            ]
            for label, corpus in variants:
                started = time.perf_counter()
                if corpus is None:
                    vectors, n = prior, 0
                else:
                    vectors, info = learn_table(raw, args.dims, teacher, tok_file, corpus, lam=args.lam)
                    n = int(info["prompts"])
                fit_s = time.perf_counter() - started
                np.save(Path(tmp) / "vectors.npy", vectors.astype(np.float16))
                emb = StaticEmbedder(Path(tmp) / "vectors.npy", tok_file, name=f"tl-{bench}-{len(label)}:128")
                specs, _ = resolve_routers(routers, emb, seed=0)
                result = evaluate(
                    table, specs, EvalConfig(folds=args.folds, n_resamples=args.n_resamples), embedder=emb
                )
                cells = []
                for name in routers:
                    m = result.metrics["routers"][name]
                    cells.append(f"{m['apgr']:.3f} [{m['apgr_ci'][0]:.3f}, {m['apgr_ci'][1]:.3f}]")
                out.add_row(bench, label, f"{n:,}", *cells, f"{fit_s:.0f}")
                console.print(f"{bench} / {label}: {' '.join(cells)}")
    console.print(out)
    console.print(
        f"load average before {'/'.join(f'{x:.2f}' for x in load_before)}, "
        f"after {'/'.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
