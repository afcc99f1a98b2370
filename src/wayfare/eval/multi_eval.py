"""Metrics of one N-model router (and the N-model baselines) on the evaluated prompts, as JSON-ready dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wayfare.eval.bootstrap import aiq_bootstrap, percentile_ci
from wayfare.eval.multi import (
    Hull,
    aiq,
    arena_score,
    cost_to_reach,
    default_lambdas,
    nondecreasing_hull,
    policy_choices,
    quality_at_cost,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class MultiData:
    """The evaluated prompts of an N-model benchmark: true scores and per-call costs (n, m)."""

    models: list[str]
    scores: FloatArray
    costs: FloatArray

    @property
    def single_cost(self) -> FloatArray:
        return np.asarray(self.costs.mean(axis=0), dtype=np.float64)

    @property
    def single_quality(self) -> FloatArray:
        return np.asarray(self.scores.mean(axis=0), dtype=np.float64)

    @property
    def best_single(self) -> int:
        """Index of the highest-quality single model (the cheaper one on a tie)."""
        return int(np.lexsort((self.single_cost, -self.single_quality))[0])

    @property
    def cheapest_single(self) -> int:
        """Index of the cheapest single model (the better one on a tie)."""
        return int(np.lexsort((-self.single_quality, self.single_cost))[0])


@dataclass(frozen=True)
class Frontier:
    """What gets plotted: every policy point and the hull."""

    cost: FloatArray
    quality: FloatArray
    hull: Hull


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _choices_metrics(choice: IntArray, data: MultiData, n_resamples: int, seed: int) -> tuple[dict[str, Any], Frontier]:
    """Metrics of a family of policies, ``choice`` (L, n): the model each policy sends each prompt to."""
    rows = np.arange(data.scores.shape[0])
    chosen_q = data.scores[rows, choice]
    chosen_c = data.costs[rows, choice]
    cost, quality = chosen_c.mean(axis=1), chosen_q.mean(axis=1)
    hull = nondecreasing_hull(cost, quality)
    lo, hi = float(data.single_cost.min()), float(data.single_cost.max())
    best = data.best_single
    best_cost, best_quality = float(data.single_cost[best]), float(data.single_quality[best])
    out: dict[str, Any] = {"aiq": _num(aiq(hull, lo, hi))}
    if n_resamples > 0:
        ci = percentile_ci(aiq_bootstrap(chosen_q, chosen_c, data.costs, n_resamples, seed))
        out["aiq_ci"] = [_num(ci[0]), _num(ci[1])]
    out["quality_at_best_single_cost"] = _num(quality_at_cost(hull, best_cost))
    reach = cost_to_reach(hull, best_quality)
    out["cost_fraction_for_best_single_quality"] = _num(reach / best_cost) if best_cost > 0 else None
    top = int(np.argmax(quality))
    out["max_quality"] = float(quality[top])
    out["cost_per_1k_at_max_quality"] = float(cost[top]) * 1000
    arena = [arena_score(float(q), float(c) * 1000) for q, c in zip(quality, cost, strict=True)]
    out["arena_score"] = arena[0]
    out["arena_score_best"] = max(arena)
    out["n_points"] = int(cost.size)
    return out, Frontier(cost, quality, hull)


def router_metrics(
    predicted: FloatArray, data: MultiData, n_resamples: int, seed: int
) -> tuple[dict[str, Any], Frontier]:
    """Policy sweep of ``argmax(predicted - lambda * cost)``: AIQ (with CI), quality at best single cost, arena."""
    choice = policy_choices(predicted, data.costs, default_lambdas(data.costs))
    out, frontier = _choices_metrics(choice, data, n_resamples, seed)
    return {**out, "arena_score_at": "lambda=0 (the router's best predicted model per prompt)"}, frontier


def baseline_metrics(
    data: MultiData, n_resamples: int, seed: int
) -> tuple[dict[str, dict[str, Any]], dict[str, Frontier]]:
    """oracle (sweep on true scores), random (random mixtures of single models), always-weak / always-strong."""
    metrics: dict[str, dict[str, Any]] = {}
    frontiers: dict[str, Frontier] = {}
    metrics["oracle"], frontiers["oracle"] = router_metrics(data.scores, data, n_resamples, seed)
    n, m = data.scores.shape
    singles = np.repeat(np.arange(m, dtype=np.int64)[:, None], n, axis=1)
    metrics["random"], frontiers["random"] = _choices_metrics(singles, data, n_resamples, seed)
    metrics["random"]["note"] = "random mixtures of the single models: the hull of the single-model points"
    for name, j in (("always-weak", data.cheapest_single), ("always-strong", data.best_single)):
        only = np.full((1, n), j, dtype=np.int64)
        metrics[name], frontiers[name] = _choices_metrics(only, data, n_resamples, seed)
        metrics[name]["model"] = data.models[j]
        metrics[name]["cost_per_1k"] = float(data.single_cost[j]) * 1000
    for entry in metrics.values():
        entry["kind"] = "baseline"
    return metrics, frontiers


def single_models(data: MultiData) -> dict[str, dict[str, float]]:
    return {
        model: {
            "quality": float(data.single_quality[j]),
            "cost_per_1k": float(data.single_cost[j]) * 1000,
            "arena_score": arena_score(float(data.single_quality[j]), float(data.single_cost[j]) * 1000),
        }
        for j, model in enumerate(data.models)
    }
