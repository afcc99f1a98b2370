"""Training the routers shipped inside the package (``make train-default``), chosen by how they transfer.

- ``default`` (pair): a ``gated`` router (:mod:`wayfare.routers.gated`): a lexical probe on the chat prompts'
  domain (arena-bench-v1 counted :data:`CHAT_WEIGHT` x :data:`CHAT_DOMAIN_WEIGHT` times beside the benchmarks), a
  lexical probe of the bundled MMLU, GSM8K and LLMRouter alone, and a gate that tells chat from benchmark prompts;
  the difficulty label without LLMRouter's two llama3-chatqa models (their multiple-choice format failures are noise,
  not difficulty), ``static-tl-256:128``. Chosen by the mean leave-one-source-out APGR over the four sources
  (docs/ROUTERS.md "Transfer"), inside the decision-latency budget, then trained on all four. Its card reports the
  leave-one-source-out APGRs, the chat prompts' 5-fold APGR and Spearman with the benchmarks always in training (the
  chat expert's evidence; in-source, so optimistic), and, from the copy trained without arena-bench-v1, the Spearman
  correlation between its score and the chat prompts' difficulty. Its columns are named ``weak`` / ``strong``: the
  gateway maps them to the configured pair. arena-bench-v1 is read from ../shared/data (or ``WAYFARE_SHARED_DATA``);
  it is not bundled.
- ``default-n``: the IRT router over LLMRouter's 9 models, the kind with the best leave-one-category-out AIQ
  (``wayfare eval -b llmrouter --hold-out-categories``; docs/ROUTERS.md); trained on the train split, measured on the
  de-leaked test split and, when the shared arena-bench-v1 is there, on its 14 chat models it never saw, through an
  adapted router (:mod:`wayfare.eval.adapt_eval`: per-model heads on default-n's predictions, fitted on 30% of the
  chat prompts).

Every number stored in an artifact is measured here and says what it was measured on.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import spearmanr

from wayfare.data import load_benchmark
from wayfare.data.labels import parse_label
from wayfare.embed.base import Embedder
from wayfare.eval.transfer import (
    Candidate,
    Source,
    Vectors,
    evaluate_transfer,
    held_entry,
    kfold_with_others,
    score_source,
    training_set,
)
from wayfare.eval.transfer_cli import fitter
from wayfare.eval.transfer_sources import RouterChoice, load_source
from wayfare.routers._core import JSONDict
from wayfare.routers.artifact import save_router
from wayfare.routers.policies import threshold_for_share
from wayfare.routers.registry import DEFAULTS_DIR, make_router
from wayfare.routers.training import embed_with_progress

CHAT_DOMAIN_WEIGHT = 7  # in the chat expert each chat row counts CHAT_WEIGHT x 7 = 70 times (the 70x row of the doc)
PAIR_ROUTER = RouterChoice("gated", {"domain": "arena-bench-v1", "domain_weight": CHAT_DOMAIN_WEIGHT})
PAIR_LABEL = "difficulty:exclude=llama3-chatqa-1.5-70b+llama3-chatqa-1.5-8b"  # their MC format failures are noise
DEFAULT_EMBEDDER = "static-tl-256:128"
N_EMBEDDER = DEFAULT_EMBEDDER
N_ROUTER: dict[str, Any] = {"name": "irt"}  # best held out by category (task: best in-domain only)
TRAIN_SOURCES = ("mmlu", "gsm8k", "llmrouter")
CHAT = "chat/arena-bench-v1"
CHAT_ORIGIN = (
    "arena-bench-v1 from github.com/lmarena/arena-hard-auto commit 4a705dd6963f777aba2ae79259e3013934e6e012 "
    "(Apache-2.0; prompts from LMSYS-Chat-1M under its terms), not bundled"
)
CHAT_WEIGHT = 10  # each chat row counted 10x in every table the transfer evaluation trains on (docs/ROUTERS.md)
CHAT_SKIP = ("gpt-4-1106-preview", "gpt-4-0314")  # the strong pair member and its sibling: not in "difficulty"
CALIBRATION_SHARES = (0.2, 0.3, 0.5)
CALIBRATION_SAMPLE = 3000
N_RESAMPLES = 1000


def shared_data() -> Path:
    """../shared/data next to the checkout, or ``WAYFARE_SHARED_DATA``."""
    default = Path(__file__).resolve().parents[4] / "shared" / "data"
    return Path(os.environ.get("WAYFARE_SHARED_DATA", default))


def chat_source() -> Source:
    path = shared_data() / CHAT
    if not path.is_dir():
        raise SystemExit(
            f"the default router is trained on the arena-bench-v1 chat source too, and {path} is not there: "
            "set WAYFARE_SHARED_DATA to the folder holding chat/arena-bench-v1"
        )
    return replace(load_source(f"arena-hard:{path}", [], []), weight=CHAT_WEIGHT)


def chat_difficulty(source: Source) -> NDArray[np.float64]:
    """1 - mean grade of the judged models other than the two GPT-4s, per prompt."""
    t = source.table
    cols = [j for j, m in enumerate(t.models) if m not in CHAT_SKIP]
    return np.asarray(1.0 - np.nanmean(t.scores[:, cols], axis=1), dtype=np.float64)


def spearman_with_ci(a: NDArray[np.float64], b: NDArray[np.float64], seed: int = 0) -> tuple[float, float, float]:
    rho = float(spearmanr(a, b)[0])
    rng = np.random.default_rng(seed)
    boots = [float(spearmanr(a[i], b[i])[0]) for i in (rng.integers(0, len(a), len(a)) for _ in range(N_RESAMPLES))]
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return rho, float(lo), float(hi)


def calibrate(
    train_scores: list[NDArray[np.float64]], per_source: dict[str, NDArray[np.float64]], described: str
) -> JSONDict:
    """Thresholds sending 20/30/50% of a seed-0 sample of the training prompts strong (the same number of prompts
    from each training source, or all of a smaller one, so no one benchmark sets the threshold), and each source's
    share at the 50% one."""
    rng = np.random.default_rng(0)
    per = CALIBRATION_SAMPLE // len(train_scores)
    sample = np.concatenate([s[rng.choice(len(s), size=min(per, len(s)), replace=False)] for s in train_scores])
    by_share: JSONDict = {}
    for share in CALIBRATION_SHARES:
        t = threshold_for_share(sample, share)
        by_share[f"{share:.2f}"] = {"threshold": round(t, 5), "strong_share": round(float(np.mean(sample >= t)), 4)}
    half = by_share["0.50"]
    return {
        "threshold": half["threshold"],
        "strong_share": half["strong_share"],
        "target": {"strong_share": 0.5},
        "by_strong_share": by_share,
        "measured_on": f"{len(sample)} prompts drawn with seed 0 from {described}, {per} from each (all of a smaller "
        "one; in-sample scores of this router)",
        "strong_share_by_source": {
            name: round(float(np.mean(s >= half["threshold"])), 4) for name, s in per_source.items()
        },
    }


def pair_sources() -> list[Source]:
    """The default's training sources: the bundled benchmarks, then the (weighted) chat source."""
    return [*(load_source(name, [], []) for name in TRAIN_SOURCES), chat_source()]


def chat_check(sources: list[Source], vectors: list[Vectors], embedder: Embedder) -> tuple[float, float, float]:
    """Spearman [95% CI] between the chat source's difficulty and the score of the default's configuration trained
    on every source but the chat one (the last), which it never sees."""
    blind = make_router(PAIR_ROUTER.kind, embedder=embedder, **PAIR_ROUTER.params)
    rows = [np.arange(len(s.table), dtype=np.int64) for s in sources[:-1]] + [np.zeros(0, dtype=np.int64)]
    blind.fit_vectors(*training_set(sources, rows, vectors, parse_label(PAIR_LABEL)))
    chat = sources[-1]
    return spearman_with_ci(blind.score_vectors(vectors[-1], chat.table.prompts), chat_difficulty(chat))


def chat_in_source(sources: list[Source], vectors: list[Vectors], cand: Candidate) -> JSONDict:
    """The chat source (the last) scored by 5-fold cross-validation inside it, the benchmarks always in training:
    what training on chat buys on chat prompts not trained on (in-source for chat, so optimistic)."""
    chat = sources[-1]
    scores = kfold_with_others(sources, len(sources) - 1, cand, vectors)
    rows = np.flatnonzero(chat.pair_known).astype(np.int64)
    rho, lo, hi = spearman_with_ci(scores, chat_difficulty(chat))
    return {
        **held_entry(score_source(scores[rows], chat, rows, N_RESAMPLES, 0)),
        "spearman": round(rho, 4),
        "spearman_ci": [round(lo, 4), round(hi, 4)],
        "what": f"{chat.name}: 5-fold cross-validation inside the {len(chat.table)} chat prompts (seed 0), the "
        f"benchmarks always in training; APGR on its {len(rows)} prompts with both grades ({chat.strong} vs "
        f"{chat.weak}), Spearman with its difficulty; in-source for chat, so optimistic",
    }


def train_pair(embedder: Embedder, out: Path) -> JSONDict:
    label = parse_label(PAIR_LABEL)
    sources = pair_sources()
    chat = sources[-1]
    vectors = [embed_with_progress(embedder, s.table.prompts, label=f"embedding {s.name}") for s in sources]
    cand = Candidate(PAIR_ROUTER.name, label, fitter(PAIR_ROUTER, embedder, 0), PAIR_ROUTER.params)
    loso = evaluate_transfer(sources, [cand], vectors, n_resamples=N_RESAMPLES, in_source=False)["candidates"][
        cand.name
    ]

    every = [np.arange(len(s.table), dtype=np.int64) for s in sources]
    router = make_router(PAIR_ROUTER.kind, embedder=embedder, **PAIR_ROUTER.params)
    router.fit_vectors(*training_set(sources, every, vectors, label))
    per_source = {s.name: router.score_vectors(v, s.table.prompts) for s, v in zip(sources, vectors, strict=True)}
    router.calibration_ = calibrate(list(per_source.values()), per_source, " + ".join(per_source))
    router.training_["label"] = label.name
    router.training_["labels_used"] = loso["labels_used"]
    router.training_["sources"] = {
        s.name: f"{CHAT_ORIGIN if s is chat else s.table.meta.get('source', s.name)}: {len(s.table)} prompts, label "
        f"{loso['labels_used'][s.name]} (pair {s.strong} vs {s.weak})"
        + (
            f", each row counted {s.weight}x in the training table and {s.weight * CHAT_DOMAIN_WEIGHT}x in the chat "
            "expert; the benchmark expert never sees it"
            if s is chat
            else ""
        )
        for s in sources
    }
    rho, lo, hi = chat_check(sources, vectors, embedder)  # issue 13: ordering chat it never saw, by difficulty
    chat_kfold = chat_in_source(sources, vectors, cand)
    gate = getattr(router, "gate", None)
    if gate is not None:  # the gated router: how often it calls each source's prompts chat (in-sample)
        router.training_["gate_share"] = {
            s.name: round(float(np.mean(gate(v, s.table.prompts) >= 0.5)), 4)
            for s, v in zip(sources, vectors, strict=True)
        }
    metrics: JSONDict = {
        "transfer": loso["transfer"],
        "transfer_mean": loso["transfer_mean"],
        "measured_on": "leave-one-source-out: a router of this configuration trained on the other sources (training "
        "rows sharing an 8-word shingle with the held-out source dropped; arena-bench-v1 rows counted "
        f"{CHAT_WEIGHT}x when trained on), scored on the held-out source's real pair (mmlu, gsm8k: GPT-4-1106 vs "
        f"Mixtral-8x7B; llmrouter: {sources[2].strong} vs {sources[2].weak}; arena-bench-v1: GPT-4-1106 vs "
        f"Mixtral-8x7B, GPT-4 grades 1-10); 95% CIs from {N_RESAMPLES} bootstrap resamples "
        "(wayfare.eval.train_defaults)",
        "chat_difficulty": {
            "spearman": round(rho, 4),
            "spearman_ci": [round(lo, 4), round(hi, 4)],
            "what": f"arena-bench-v1 difficulty (1 - mean GPT-4 grade of the {len(chat.table.models) - 2} judged "
            f"models other than the two GPT-4s) on {len(chat.table)} chat prompts, scored by this configuration "
            f"trained on {', '.join(TRAIN_SOURCES)} only (the shipped router was also trained on these prompts)",
        },
        "chat_kfold": chat_kfold,
    }
    save_router(router, out, metrics=metrics)
    return metrics


def train_n(embedder: Embedder, out: Path) -> JSONDict:
    from wayfare.eval.multi import aiq, cost_to_reach, nondecreasing_hull, policy_points, single_model_points

    llm = load_benchmark("llmrouter")
    train = llm.subset(np.asarray(llm.meta["train_rows"], dtype=np.int64))
    test = llm.subset(np.asarray(llm.meta["test_rows"], dtype=np.int64))
    x_train = embed_with_progress(embedder, train.prompts, label="embedding llmrouter train")
    x_test = embed_with_progress(embedder, test.prompts, label="embedding llmrouter test")
    router = make_router(N_ROUTER["name"], embedder=embedder, **{k: v for k, v in N_ROUTER.items() if k != "name"})
    router.fit_vectors(x_train, train)
    pred = router.predict_vectors(x_test, test.prompts)
    assert test.costs is not None
    scores = np.nan_to_num(test.scores)
    cost, quality = policy_points(pred, scores, test.costs)
    single_cost, single_quality = single_model_points(scores, test.costs)
    best = int(np.argmax(single_quality))
    hull = nondecreasing_hull(cost, quality)
    reach = cost_to_reach(hull, float(single_quality[best]))
    metrics: JSONDict = {
        "measured_on": f"LLMRouter test split after de-leaking ({len(test)} prompts), list-price input-token costs",
        "best_single_model": test.models[best],
        "best_single_mean_score": round(float(single_quality[best]), 4),
        "router_best_mean_score": round(float(hull.quality[-1]), 4),
        "cost_share_to_match_best_single": None if np.isnan(reach) else round(float(reach / single_cost[best]), 4),
        "aiq": round(aiq(hull, float(single_cost.min()), float(single_cost.max())), 4),
    }
    router.training_["sources"] = {"llmrouter-train": "LLMRouter train split (no GPQA), 9 models"}
    arena = shared_data() / CHAT
    if arena.is_dir():
        metrics["arena_bench_v1"] = arena_adapted(router, embedder, arena)
    save_router(router, out, metrics=metrics)
    return metrics


def arena_adapted(router: Any, embedder: Embedder, path: Path) -> JSONDict:
    """default-n adapted to arena-bench-v1's judged models on repeated calibration splits (never trained on them;
    default-n itself is unchanged)."""
    from wayfare.data.arena_hard import load_arena_hard
    from wayfare.eval.adapt_eval import evaluate_adapted

    table = load_arena_hard(path)
    x = embed_with_progress(embedder, table.prompts, label="embedding arena-bench-v1")
    result = evaluate_adapted([router], table, x)
    result["command"] = "python -m wayfare.eval.train_defaults [--only n | --only n-arena] (wayfare.eval.adapt_eval)"
    return result


def card_n_arena(folder: Path, cache: str | None) -> JSONDict:
    """Measure the saved default-n on arena-bench-v1 and store it in its card (``metrics.arena_bench_v1``); the
    router's arrays and its other metrics are left as they are."""
    from wayfare.routers.artifact import load_artifact, read_meta, write_meta

    arena = shared_data() / CHAT
    if not arena.is_dir():
        raise SystemExit(f"arena-bench-v1 is not at {arena} (set WAYFARE_SHARED_DATA)")
    meta = read_meta(folder)
    router = load_artifact(folder, embedder=_open(str(meta["embedder"]["name"]), cache))
    assert router.embedder is not None
    result = arena_adapted(router, router.embedder, arena)
    meta["metrics"]["arena_bench_v1"] = result
    write_meta(folder, meta)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the routers shipped in wayfare/routers/defaults/.")
    parser.add_argument("--output", type=Path, default=DEFAULTS_DIR)
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER, help="<model>:<max_tokens>, e.g. minilm-l6-int8:128")
    parser.add_argument("--n-embedder", default=N_EMBEDDER, help="embedder of default-n, same form")
    parser.add_argument(
        "--only",
        choices=("pair", "n", "n-arena"),
        help="train only this one (n-arena: score the saved default-n on arena-bench-v1 into its card, no training)",
    )
    parser.add_argument("--cache", default=os.environ.get("WAYFARE_EMBED_CACHE"), help="embedding cache folder")
    args = parser.parse_args(argv)
    if args.only == "n-arena":
        print("n arena-bench-v1:", card_n_arena(args.output / "n", args.cache))
        return
    if args.only != "n":
        print("pair:", train_pair(_open(args.embedder, args.cache), args.output / "pair"))
    if args.only != "pair":
        print("n:", train_n(_open(args.n_embedder, args.cache), args.output / "n"))


def _open(label: str, cache: str | None) -> Embedder:
    from wayfare.embed import CachedEmbedder, load_embedder

    model, _, tokens = label.partition(":")
    embedder: Embedder = load_embedder(model, max_tokens=int(tokens or 128), threads=1)
    return CachedEmbedder(embedder, path=cache) if cache else embedder


if __name__ == "__main__":
    main()
