"""N-model routing metrics: policy sweep, non-decreasing convex hull, AIQ (RouterBench), arena score (RouterArena).

A router predicts each model's score on each prompt (``predicted``, shape (n, m)). For a cost weight ``lam`` its
policy picks ``argmax_j(predicted[i, j] - lam * cost[i, j])``; sweeping ``lam`` from 0 (quality only) to large
(cheapest model) traces (mean cost, mean true quality) points. Mixing two policies at random reaches every point of
the segment between them, so a router is judged by the non-decreasing upper convex hull of its points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: RouterArena's cost range, USD per 1,000 queries (clipped to it).
ARENA_COST_MIN = 0.0044
ARENA_COST_MAX = 200.0
ARENA_BETA = 0.1


def _matrix(name: str, values: ArrayLike) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (prompts x models) array, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    return arr


def default_lambdas(costs: ArrayLike, num: int = 200) -> FloatArray:
    """Cost weights for a policy sweep: 0, then ``num`` log-spaced values scaled to the cost magnitude.

    The largest makes any cost difference outweigh any score difference in [0, 1], so the sweep ends at the
    cheapest model.
    """
    c = _matrix("costs", costs)
    scale = float(np.max(np.abs(c)))
    if scale == 0:
        return np.zeros(1)
    diffs = np.abs(np.diff(np.sort(c.mean(axis=0))))
    positive = diffs[diffs > 0]
    smallest = float(positive.min()) if positive.size else scale
    hi = 10.0 / smallest
    return np.concatenate([[0.0], np.geomspace(hi * 1e-6, hi, num)])


def policy_choices(predicted: ArrayLike, costs: ArrayLike, lambdas: ArrayLike) -> IntArray:
    """The model each prompt goes to for each cost weight: shape (len(lambdas), n)."""
    p = _matrix("predicted", predicted)
    c = _matrix("costs", costs)
    if p.shape != c.shape:
        raise ValueError(f"predicted has shape {p.shape} but costs {c.shape}")
    lam = np.asarray(lambdas, dtype=np.float64).reshape(-1)
    return np.stack([np.argmax(p - x * c, axis=1) for x in lam]).astype(np.int64)


def policy_points(
    predicted: ArrayLike, scores: ArrayLike, costs: ArrayLike, lambdas: ArrayLike | None = None
) -> tuple[FloatArray, FloatArray]:
    """(mean cost, mean true score) of the router's policy at each cost weight."""
    s = _matrix("scores", scores)
    c = _matrix("costs", costs)
    lam = default_lambdas(c) if lambdas is None else np.asarray(lambdas, dtype=np.float64)
    choice = policy_choices(predicted, c, lam)
    rows = np.arange(s.shape[0])
    return c[rows, choice].mean(axis=1), s[rows, choice].mean(axis=1)


def single_model_points(scores: ArrayLike, costs: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(mean cost, mean score) of always calling each model."""
    s = _matrix("scores", scores)
    return _matrix("costs", costs).mean(axis=0), s.mean(axis=0)


@dataclass(frozen=True)
class Hull:
    """Non-decreasing upper convex hull: ``cost`` ascending, ``quality`` non-decreasing."""

    cost: FloatArray
    quality: FloatArray


def nondecreasing_hull(cost: ArrayLike, quality: ArrayLike) -> Hull:
    """Upper convex hull of (cost, quality) points, cut at its highest point so quality never decreases."""
    c = np.asarray(cost, dtype=np.float64).reshape(-1)
    q = np.asarray(quality, dtype=np.float64).reshape(-1)
    if c.shape != q.shape or c.size == 0:
        raise ValueError(f"need matching, non-empty cost and quality arrays, got {c.shape} and {q.shape}")
    order = np.lexsort((-q, c))  # cost ascending, best quality first among equal costs
    hull: list[tuple[float, float]] = []
    for ci, qi in zip(c[order].tolist(), q[order].tolist(), strict=True):
        if hull and hull[-1][0] == ci:
            continue  # same cost, lower (or equal) quality
        while len(hull) >= 2:
            (x0, y0), (x1, y1) = hull[-2], hull[-1]
            if (x1 - x0) * (qi - y0) - (y1 - y0) * (ci - x0) >= 0:  # not a clockwise turn: drop the middle
                hull.pop()
            else:
                break
        hull.append((ci, qi))
    qs = [p[1] for p in hull]
    top = int(np.argmax(qs))
    kept = hull[: top + 1]
    return Hull(cost=np.array([p[0] for p in kept]), quality=np.array([p[1] for p in kept]))


def aiq(hull: Hull, cost_min: float, cost_max: float) -> float:
    """RouterBench's AIQ: area under the hull with cost normalised to [0, 1] over [cost_min, cost_max].

    ``cost_min`` / ``cost_max`` are the cheapest and dearest single models' mean costs. Below the hull's cheapest
    point nothing is reachable (area 0); beyond its dearest point quality stays at the hull's best.
    """
    if not cost_max > cost_min:
        raise ValueError(f"AIQ needs a cost range, got [{cost_min}, {cost_max}]")
    x = (hull.cost - cost_min) / (cost_max - cost_min)
    start = max(0.0, float(x[0]))
    if start >= 1.0:
        return 0.0
    grid = np.unique(np.concatenate([[start, 1.0], x[(x > start) & (x < 1.0)]]))
    y = np.interp(grid, x, hull.quality)  # monotone x: interpolation along the hull's segments is exact
    return float(np.sum(np.diff(grid) * (y[1:] + y[:-1]) / 2.0))


def quality_at_cost(hull: Hull, cost: float) -> float:
    """Best quality the hull reaches at ``cost`` (NaN if the router cannot be that cheap)."""
    if cost < hull.cost[0] - 1e-12 * max(1.0, abs(cost)):  # tolerance: means summed in different orders
        return float("nan")
    return float(np.interp(max(cost, float(hull.cost[0])), hull.cost, hull.quality))


def cost_to_reach(hull: Hull, quality: float, tol: float = 1e-9) -> float:
    """Least cost at which the hull reaches ``quality`` (NaN if never), interpolating along the crossing segment."""
    hits = np.flatnonzero(hull.quality >= quality - tol)
    if not hits.size:
        return float("nan")
    i = int(hits[0])
    if i == 0:
        return float(hull.cost[0])
    c0, c1 = hull.cost[i - 1], hull.cost[i]
    q0, q1 = hull.quality[i - 1], hull.quality[i]
    return float(c0 + (quality - q0) / (q1 - q0) * (c1 - c0))


def arena_cost_score(cost_per_1k: float) -> float:
    """RouterArena's cost score C = (log2 200 - log2 c)/(log2 200 - log2 0.0044), c in $ per 1,000 queries."""
    c = min(max(cost_per_1k, ARENA_COST_MIN), ARENA_COST_MAX)
    return (math.log2(ARENA_COST_MAX) - math.log2(c)) / (math.log2(ARENA_COST_MAX) - math.log2(ARENA_COST_MIN))


def arena_score(accuracy: float, cost_per_1k: float) -> float:
    """RouterArena's score S = (1 + b) A C / (b A + C), b = 0.1, A = accuracy in [0, 1]."""
    c = arena_cost_score(cost_per_1k)
    denom = ARENA_BETA * accuracy + c
    return 0.0 if denom == 0 else (1 + ARENA_BETA) * accuracy * c / denom
