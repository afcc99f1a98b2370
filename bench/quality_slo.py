"""Quality targets on replayed traffic: does a certified route keep "≥ 95% of the strong model's quality"?

Offline simulation of issue 14's acceptance (the controller code the gateway will run, on recorded labels): for
each source (bundled RouteLLM MMLU and GSM8K; arena-bench-v1 with its GPT-4 grades as the judge, from
../shared/data when present), ``--seeds`` runs of a stream of ``--length`` prompts drawn with replacement in random
order. Each prompt is served at the route's current threshold by the shipped ``default`` router (strong when the
score ≥ threshold; everything strong in safe mode); a ``--shadow`` share of prompts is labelled (both answers judged:
the recorded strong and weak scores) and fed to the controller. Per run: the realised quality of the traffic served
after the first certificate (served quality / the strong model's quality on the same prompts), the strong share
and cost saved after it, and the labels it took. The same streams are replayed with a point-estimate threshold
(``threshold_for_quality`` re-fitted on the same labels at the same moments) for comparison. A drift run (GSM8K
then chat) shows back-off and recovery, plotted to ``--plot``.

Run: .venv/bin/python bench/quality_slo.py [--seeds 100] [--length 4000] [--shadow 0.5] [--plot quality_slo.png]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from scipy.stats import binomtest

from wayfare.data import ResultsTable, load_benchmark, load_table
from wayfare.data.prices import fill_costs
from wayfare.quality.controller import BACKED_OFF, QualityController, QualityTarget
from wayfare.routers import load_router
from wayfare.routers.policies import threshold_for_quality

GPT4, MIXTRAL = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"
SHARED = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Source:
    name: str
    scores: FloatArray  # the shipped router's score per prompt
    strong: FloatArray
    weak: FloatArray
    strong_cost: FloatArray | None
    weak_cost: FloatArray | None


def source(name: str, table: ResultsTable) -> Source:
    pair = fill_costs(table.pair(GPT4, MIXTRAL).dropna())  # list prices where the source records no cost
    scores = np.asarray(load_router("default").score(pair.prompts), dtype=np.float64)
    costs = pair.costs
    return Source(
        name,
        scores,
        pair.column(GPT4),
        pair.column(MIXTRAL),
        None if costs is None else costs[:, pair.model_index(GPT4)],
        None if costs is None else costs[:, pair.model_index(MIXTRAL)],
    )


@dataclass
class Run:
    violated: bool | None  # None: never certified
    realised: float | None
    strong_share: float | None
    cost_saved: float | None
    labels_to_first: int | None
    backed_off: bool


class PointEstimate:
    """The uncertified alternative: re-fit threshold_for_quality on all labels so far, at the same moments."""

    def __init__(self, target: QualityTarget) -> None:
        self.target = target
        self.r: list[float] = []
        self.s: list[float] = []
        self.w: list[float] = []
        self.threshold: float | None = None
        self.certified = False

    def add(self, r: float, s: float, w: float) -> None:
        self.r.append(r)
        self.s.append(s)
        self.w.append(w)
        n = len(self.r)
        if n >= self.target.min_labels and (n - self.target.min_labels) % self.target.recheck_every == 0:
            self.threshold, _ = threshold_for_quality(self.r, self.s, self.w, self.target.quality_target)
            self.certified = True


def replay(
    src: Source, rows: NDArray[np.int64], labelled: NDArray[np.bool_], target: QualityTarget, point: bool
) -> Run:
    ctl: QualityController | PointEstimate = PointEstimate(target) if point else QualityController(target)
    served = np.zeros(len(rows))
    strong_used = np.zeros(len(rows), dtype=bool)
    after = np.zeros(len(rows), dtype=bool)
    first: int | None = None
    n_labels = 0
    backed = False
    for k, i in enumerate(rows.tolist()):
        if isinstance(ctl, PointEstimate):
            threshold, live = ctl.threshold, ctl.certified
        else:
            threshold, live = ctl.decision.threshold, ctl.decision.certificate_id is not None
            backed |= ctl.decision.state == BACKED_OFF
        use_strong = threshold is None or src.scores[i] >= threshold
        served[k] = src.strong[i] if use_strong else src.weak[i]
        strong_used[k] = use_strong
        if live and first is None:
            first = n_labels
        after[k] = first is not None
        if labelled[k]:
            n_labels += 1
            ctl.add(float(src.scores[i]), float(src.strong[i]), float(src.weak[i]))
    if first is None or not after.any():
        return Run(None, None, None, None, None, backed)
    idx = rows[after]
    realised = float(served[after].sum() / src.strong[idx].sum())
    saved = None
    if src.strong_cost is not None and src.weak_cost is not None:
        cost = np.where(strong_used[after], src.strong_cost[idx], src.weak_cost[idx]).sum()
        saved = float(1.0 - cost / src.strong_cost[idx].sum())
    return Run(realised < target.quality_target, realised, float(strong_used[after].mean()), saved, first, backed)


def summarise(runs: list[Run]) -> dict[str, str]:
    cert = [r for r in runs if r.violated is not None]
    if not cert:
        return {"certified runs": f"0 / {len(runs)}"}
    v = sum(bool(r.violated) for r in cert)
    ci = binomtest(v, len(cert)).proportion_ci(0.95)
    saved = [r.cost_saved for r in cert if r.cost_saved is not None]
    return {
        "certified runs": f"{len(cert)} / {len(runs)}",
        "below target (95% CI)": f"{v / len(cert):.3f} [{ci.low:.3f}, {ci.high:.3f}]",
        "realised quality (median, p5)": f"{np.median([r.realised for r in cert]):.3f}, "
        f"{np.quantile([r.realised for r in cert], 0.05):.3f}",
        "strong share after": f"{np.mean([r.strong_share for r in cert]):.1%}",
        "cost saved vs always-strong": f"{np.mean(saved):.1%}" if saved else "no costs",
        "labels to first threshold (median)": f"{int(np.median([r.labels_to_first for r in cert]))}",
        "runs that backed off": f"{sum(r.backed_off for r in runs)}",
    }


def drift(gsm: Source, chat: Source, target: QualityTarget, length: int, shadow: float, seed: int, plot: Path) -> str:
    """GSM8K traffic, then chat: threshold and state over time, realised quality in windows."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rng = np.random.default_rng(seed)
    half = length // 2
    parts = [(gsm, rng.integers(0, len(gsm.scores), half)), (chat, rng.integers(0, len(chat.scores), half))]
    ctl = QualityController(target, route="drift")
    thresholds, states, served, strong = [], [], [], []
    for src, rows in parts:
        for i in rows.tolist():
            d = ctl.decision
            use = d.threshold is None or src.scores[i] >= d.threshold
            served.append(src.strong[i] if use else src.weak[i])
            strong.append(src.strong[i])
            thresholds.append(np.nan if d.threshold is None else d.threshold)
            states.append(d.state)
            if rng.random() < shadow:
                ctl.add(float(src.scores[i]), float(src.strong[i]), float(src.weak[i]))
    win = 250
    ratio = [np.sum(served[k : k + win]) / np.sum(strong[k : k + win]) for k in range(0, len(served) - win, 25)]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    a1.plot(thresholds, label="threshold in force (gap = safe mode: all strong)")
    a1.axvline(half, color="grey", linestyle="--", label="GSM8K → chat")
    codes = {"learning": 0, "certified": 1, "backed-off": 2}
    a1b = a1.twinx()
    a1b.plot([codes[s] for s in states], color="tab:red", alpha=0.5, linewidth=0.8)
    a1b.set_yticks([0, 1, 2], ["learning", "certified", "backed-off"])
    a1.set_ylabel("threshold")
    a1.legend(fontsize=8, loc="lower left")
    a2.plot(np.arange(0, len(served) - win, 25) + win, ratio, label=f"realised quality / strong ({win}-prompt windows)")
    a2.axhline(target.quality_target, color="black", linestyle=":", label="target")
    a2.axvline(half, color="grey", linestyle="--")
    a2.set_xlabel("prompt")
    a2.legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Quality target {target.quality_target}, risk {target.risk}: drift from GSM8K to chat (seed {seed})")
    fig.tight_layout()
    fig.savefig(plot, dpi=110)
    first_back = next((k for k, s in enumerate(states) if s == BACKED_OFF), None)
    recovered = next((k for k, s in enumerate(states) if k > (first_back or 0) and s == "certified"), None)
    return (
        f"drift: first backed off at prompt {first_back} (change at {half}); certified again at prompt {recovered}; "
        f"last decision: {ctl.decision.reason}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--length", type=int, default=4000, help="prompts per run (drawn with replacement)")
    ap.add_argument("--shadow", type=float, default=0.5, help="share of prompts labelled")
    ap.add_argument("--min-labels", type=int, default=200)
    ap.add_argument("--recheck", type=int, default=100)
    ap.add_argument("--plot", type=Path, default=Path("quality_slo_drift.png"))
    args = ap.parse_args()
    target = QualityTarget(0.95, 0.1, min_labels=args.min_labels, recheck_every=args.recheck)
    sources = [source("mmlu", load_benchmark("mmlu")), source("gsm8k", load_benchmark("gsm8k"))]
    arena = SHARED / "chat" / "arena-bench-v1"
    if arena.is_dir():
        sources.append(source("arena-bench-v1", load_table(arena, "arena-hard")))
    console = Console()
    start = time.perf_counter()
    results: dict[str, dict[str, dict[str, str]]] = {}
    with Progress(console=Console(stderr=True), transient=True) as progress:
        for src in sources:
            task = progress.add_task(src.name, total=args.seeds)
            cert_runs, point_runs = [], []
            for seed in range(args.seeds):
                rng = np.random.default_rng(seed)
                rows = rng.integers(0, len(src.scores), args.length)
                labelled = rng.random(args.length) < args.shadow
                cert_runs.append(replay(src, rows, labelled, target, point=False))
                point_runs.append(replay(src, rows, labelled, target, point=True))
                progress.advance(task)
            results[src.name] = {"certified": summarise(cert_runs), "point estimate": summarise(point_runs)}
    for name, by in results.items():
        table = Table(title=f"{name}: {args.seeds} runs of {args.length} prompts, {args.shadow:.0%} labelled")
        table.add_column("")
        for method in by:
            table.add_column(method)
        for key in by["certified"]:
            table.add_row(key, *(by[m].get(key, "–") for m in by))
        console.print(table)
    if arena.is_dir():
        console.print(drift(sources[1], sources[2], target, 8000, args.shadow, 0, args.plot), soft_wrap=True)
        console.print(f"plot: {args.plot}")
    console.print(
        f"target {target.quality_target}, risk {target.risk}, min_labels {target.min_labels}, recheck every "
        f"{target.recheck_every} labels; shipped default router; {time.perf_counter() - start:.0f} s",
        soft_wrap=True,
    )


if __name__ == "__main__":
    main()
