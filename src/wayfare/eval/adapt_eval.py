"""Scoring an adapted router on an N-model table its base never saw (``default-n`` on arena-bench-v1).

Repeated random splits: in each, ``calibration_share`` of the prompts (every model graded on them) fit the adapted
router's heads and the per-model-mean baseline; the rest are scored with list-price costs as ``train_n`` scores
``default-n`` (policy sweep, non-decreasing hull, AIQ between the cheapest and dearest single model's mean cost, the
best single model on the scored prompts, the least cost at which the hull reaches that model's mean score). The
policy decides on the cost it can know before calling a model: the prompt's input tokens at the model's input price
plus the model's mean output tokens on the calibration prompts at its output price; the mean cost it reports is
what the chosen answers really cost (their own lengths). Each number is reported as its mean over the splits and
the 2.5-97.5 percentile range of the split values; the adapted-minus-baseline AIQ difference is paired within each
split. ``oracle`` (the true grades as predictions, same policy) is the ceiling per-prompt routing could reach.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wayfare.data import ResultsTable
from wayfare.eval.multi import (
    aiq,
    cost_to_reach,
    default_lambdas,
    nondecreasing_hull,
    policy_choices,
    single_model_points,
)
from wayfare.routers._core import BaseRouter, JSONDict
from wayfare.routers.adapted import AdaptedRouter

N_SPLITS = 20
CALIBRATION_SHARE = 0.3
VARIANTS = {"adapted": True, "per_model_mean": False}
"""Variant name -> ``prompt_features`` of the :class:`AdaptedRouter` it fits."""


def split_rows(n: int, share: float, seed: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(calibration rows, scored rows): a seeded permutation, the first ``round(share * n)`` to calibrate."""
    order = np.random.default_rng(seed).permutation(n).astype(np.int64)
    k = round(share * n)
    return np.sort(order[:k]), np.sort(order[k:])


def expected_costs(table: ResultsTable, calibration: ResultsTable) -> NDArray[np.float64]:
    """Per-call cost known before the call: the prompt's input tokens at each model's input price plus the model's
    mean output tokens on ``calibration`` at its output price (the table's recorded costs if it has no token counts
    or list prices)."""
    prices = table.meta.get("prices_usd_per_1m_tokens")
    assert table.costs is not None
    if table.input_tokens is None or calibration.output_tokens is None or not isinstance(prices, dict):
        return table.costs
    if any(m not in prices for m in table.models):
        return table.costs
    p_in = np.array([prices[m][0] for m in table.models], dtype=np.float64)
    p_out = np.array([prices[m][1] for m in table.models], dtype=np.float64)
    mean_out = np.nan_to_num(np.nanmean(calibration.output_tokens, axis=0))
    return np.asarray((table.input_tokens * p_in + mean_out[None, :] * p_out) / 1e6, dtype=np.float64)


def score_predictions(
    pred: NDArray[np.float64], table: ResultsTable, decide: NDArray[np.float64] | None = None
) -> dict[str, Any]:
    """The N-model numbers of one set of predictions on a table with complete scores and costs; the policy weighs
    ``decide`` (default: the true costs) and is charged the true costs."""
    assert table.costs is not None
    decide = table.costs if decide is None else decide
    choice = policy_choices(pred, decide, default_lambdas(decide))
    rows = np.arange(len(table))
    cost, quality = table.costs[rows, choice].mean(axis=1), table.scores[rows, choice].mean(axis=1)
    single_cost, single_quality = single_model_points(table.scores, table.costs)
    best = int(np.argmax(single_quality))
    hull = nondecreasing_hull(cost, quality)
    reach = cost_to_reach(hull, float(single_quality[best]))
    return {
        "best_single_model": table.models[best],
        "best_single_mean_score": float(single_quality[best]),
        "router_best_mean_score": float(hull.quality[-1]),
        "cost_share_to_match_best_single": float(reach / single_cost[best]),  # NaN when never reached
        "aiq": aiq(hull, float(single_cost.min()), float(single_cost.max())),
    }


def _summary(values: Sequence[float], digits: int = 4) -> JSONDict:
    v = np.asarray(values, dtype=np.float64)
    ok = v[~np.isnan(v)]
    out: JSONDict = {"mean": None, "interval": None}
    if ok.size:
        lo, hi = np.quantile(ok, [0.025, 0.975])
        out = {
            "mean": round(float(ok.mean()), digits),
            "interval": [round(float(lo), digits), round(float(hi), digits)],
        }
    if ok.size < v.size:
        out["splits_reached"] = f"{ok.size} of {v.size}"
    return out


def evaluate_adapted(
    bases: Sequence[BaseRouter],
    table: ResultsTable,
    x: NDArray[np.floating[Any]],
    *,
    n_splits: int = N_SPLITS,
    calibration_share: float = CALIBRATION_SHARE,
    progress: Callable[[int], None] | None = None,
) -> JSONDict:
    """Adapted router vs per-model means on ``n_splits`` seeded splits of ``table`` (rows with every model graded
    and a cost; the others are dropped and counted). ``x`` are the prompts' embeddings for the bases."""
    if table.costs is None:
        raise ValueError(f"{table.name} has no costs: {table.meta.get('cost_basis', 'no list prices')}")
    complete = ~np.isnan(table.scores).any(axis=1) & ~np.isnan(table.costs).any(axis=1)
    rows = np.flatnonzero(complete)
    t, xs = table.subset(rows), np.asarray(x)[rows]
    per_split: dict[str, list[dict[str, Any]]] = {name: [] for name in (*VARIANTS, "oracle")}
    alphas: list[str] = []
    for seed in range(n_splits):
        cal, held = split_rows(len(t), calibration_share, seed)
        cal_t, held_t = t.subset(cal), t.subset(held)
        decide = expected_costs(held_t, cal_t)
        for name, features in VARIANTS.items():
            router = AdaptedRouter(prompt_features=features, seed=seed).set_bases(bases)
            router.fit_vectors(xs[cal], cal_t)
            if features:
                alphas.append("inf" if not np.isfinite(router.alpha_) else f"{router.alpha_:g}")
            per_split[name].append(score_predictions(router.predict_vectors(xs[held], held_t.prompts), held_t, decide))
        per_split["oracle"].append(score_predictions(held_t.scores, held_t, decide))  # the true grades: a ceiling
        if progress is not None:
            progress(seed)
    first = per_split["adapted"]
    out: JSONDict = {
        "measured_on": f"{table.name}: {len(t)} prompts with every model graded ({len(table) - len(t)} dropped), "
        f"{len(t.models)} models; {n_splits} seeded random splits (seeds 0-{n_splits - 1}), "
        f"{calibration_share:.0%} of the prompts ({len(split_rows(len(t), calibration_share, 0)[0])}) fit the "
        "heads, the rest are scored; scores are grades (g - 1) / 9; costs from list prices "
        "(wayfare/data/prices.json) of the estimated input and output tokens, the policy deciding on the prompt's "
        "input tokens plus each model's mean output tokens on the calibration prompts; mean over splits and the "
        "2.5-97.5 percentile range of the split values",
        "bases": [f"{b.kind} over {len(b.models_)} models ({', '.join(b.models_[:3])}, ...)" for b in bases],
        "models": list(t.models),
        "best_single_model": dict(Counter(r["best_single_model"] for r in first).most_common()),
        "best_single_mean_score": _summary([r["best_single_mean_score"] for r in first]),
        "alpha_chosen": dict(Counter(alphas).most_common()),
    }
    for name in (*VARIANTS, "oracle"):
        res = per_split[name]
        out[name] = {
            key: _summary([r[key] for r in res])
            for key in ("aiq", "router_best_mean_score", "cost_share_to_match_best_single")
        }
    diff = [a["aiq"] - b["aiq"] for a, b in zip(first, per_split["per_model_mean"], strict=True)]
    out["aiq_adapted_minus_mean"] = _summary(diff)
    return out
