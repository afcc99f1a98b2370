"""RouteLLM's pair-routing metrics on a :class:`~wayfare.eval.curves.PairCurve`: CPT, APGR, cost saved.

- CPT(x) = the smallest strong share whose PGR >= x, found by scanning the curve's exact points (not ``np.interp``,
  which assumes a monotone curve).
- APGR = area under PGR vs strong share over [0, 1], trapezoid rule over the exact points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wayfare.eval.curves import PairCurve

FloatArray = NDArray[np.float64]

#: Tolerance for floating-point sums when comparing a point with a target (PGR or quality).
TOL = 1e-9


def trapezoid(y: ArrayLike, x: ArrayLike) -> float:
    """Area under the piecewise-linear curve through (x, y), x ascending."""
    ya = np.asarray(y, dtype=np.float64)
    xa = np.asarray(x, dtype=np.float64)
    if ya.shape != xa.shape or ya.ndim != 1:
        raise ValueError(f"x and y must be 1-D arrays of the same length, got {xa.shape} and {ya.shape}")
    if ya.shape[0] < 2:
        return 0.0
    return float(np.sum(np.diff(xa) * (ya[1:] + ya[:-1]) / 2.0))


def cpt(curve: PairCurve, x: float) -> float:
    """Call-performance threshold: the smallest strong share whose PGR >= ``x`` (NaN if never reached)."""
    hits = np.flatnonzero(curve.pgr >= x - TOL)
    return float(curve.share[hits[0]]) if hits.size else float("nan")


def apgr(curve: PairCurve) -> float:
    """Average performance gap recovered: area under PGR vs strong share, share in [0, 1]."""
    return trapezoid(curve.pgr, curve.share)


@dataclass(frozen=True)
class CostAtQuality:
    """The cheapest sweep point whose quality reaches ``target`` (a fraction of the strong model's quality)."""

    target: float
    share: float
    quality: float
    cost: float
    cost_strong: float
    cost_saved: float  # 1 - cost / cost_strong


def cost_saved_at_quality(curve: PairCurve, target: float = 0.95) -> CostAtQuality | None:
    """Cost saved vs always-strong at the smallest strong share whose quality >= ``target`` * q_strong.

    ``None`` when the curve has no costs. Scans the exact points (the share is a CPT on quality, not on PGR).
    """
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target must be a fraction of the strong model's quality in [0, 1], got {target}")
    if curve.cost is None:
        return None
    goal = target * curve.q_strong
    hits = np.flatnonzero(curve.quality >= goal - TOL)
    i = int(hits[0])  # always exists: the last point is always-strong, quality q_strong >= goal for target <= 1
    cost_strong = float(curve.cost[-1])
    cost = float(curve.cost[i])
    saved = 1.0 - cost / cost_strong if cost_strong > 0 else float("nan")
    return CostAtQuality(
        target=target,
        share=float(curve.share[i]),
        quality=float(curve.quality[i]),
        cost=cost,
        cost_strong=cost_strong,
        cost_saved=saved,
    )
