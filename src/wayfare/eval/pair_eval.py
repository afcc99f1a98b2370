"""Metrics of one pair router (and the pair baselines) on the evaluated prompts, as JSON-ready dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wayfare.eval.bootstrap import pair_bootstrap, percentile_ci
from wayfare.eval.curves import PairCurve, oracle_scores, pair_curve, random_scores
from wayfare.eval.metrics import apgr, cost_saved_at_quality, cpt

FloatArray = NDArray[np.float64]

CPT_LEVELS = (0.5, 0.8)
QUALITY_TARGET = 0.95


@dataclass(frozen=True)
class PairData:
    """The evaluated prompts of a pair benchmark: each model's score and (optionally) cost per prompt."""

    weak: FloatArray
    strong: FloatArray
    weak_cost: FloatArray | None = None
    strong_cost: FloatArray | None = None

    @property
    def n(self) -> int:
        return int(self.weak.shape[0])


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _ci(samples: FloatArray) -> list[float | None]:
    lo, hi = percentile_ci(samples)
    return [_num(lo), _num(hi)]


def curve_of(scores: FloatArray, data: PairData) -> PairCurve:
    return pair_curve(scores, data.weak, data.strong, data.weak_cost, data.strong_cost)


def router_metrics(scores: FloatArray, data: PairData, n_resamples: int, seed: int) -> tuple[dict[str, Any], PairCurve]:
    """APGR, CPT(50%), CPT(80%) with bootstrap 95% CIs, cost saved at 95% quality, and the curve."""
    curve = curve_of(scores, data)
    out: dict[str, Any] = {"apgr": _num(apgr(curve))}
    for x in CPT_LEVELS:
        out[f"cpt{round(x * 100)}"] = _num(cpt(curve, x))
    if n_resamples > 0:
        boot = pair_bootstrap(scores, data.weak, data.strong, CPT_LEVELS, n_resamples, seed)
        for key, samples in boot.items():
            out[f"{key}_ci"] = _ci(samples)
    out["max_quality"] = float(curve.quality.max())
    out["max_quality_share"] = float(curve.share[int(np.argmax(curve.quality))])
    out.update(_cost_saved(curve))
    out["n_points"] = int(curve.share.size)
    return out, curve


def _cost_saved(curve: PairCurve) -> dict[str, Any]:
    saved = cost_saved_at_quality(curve, QUALITY_TARGET)
    if saved is None:
        return {"cost_saved_at_95": None}
    return {
        "cost_saved_at_95": saved.cost_saved,
        "share_at_95": saved.share,
        "quality_at_95": saved.quality,
        "cost_per_1k_at_95": saved.cost * 1000,
    }


def baseline_metrics(
    data: PairData, n_resamples: int, seed: int
) -> tuple[dict[str, dict[str, Any]], dict[str, PairCurve]]:
    """random (a seeded random router), oracle, always-weak, always-strong."""
    metrics: dict[str, dict[str, Any]] = {}
    curves: dict[str, PairCurve] = {}
    for name, scores in (
        ("random", random_scores(data.n, seed)),
        ("oracle", oracle_scores(data.weak, data.strong)),
    ):
        m, c = router_metrics(scores, data, n_resamples, seed)
        m["kind"] = "baseline"
        metrics[name], curves[name] = m, c
    oracle = curves["oracle"]
    metrics["oracle"]["routes_weak_when_weak_as_good"] = True
    for name, idx in (("always-weak", 0), ("always-strong", -1)):
        point: dict[str, Any] = {
            "kind": "baseline",
            "share": float(oracle.share[idx]),
            "quality": float(oracle.quality[idx]),
            "pgr": float(idx != 0),
        }
        if oracle.cost is not None:
            point["cost_per_1k"] = float(oracle.cost[idx]) * 1000
        metrics[name] = point
    return metrics, curves
