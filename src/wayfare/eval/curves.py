"""The quality-vs-strong-share curve of a pair router over a full threshold sweep.

A pair router gives each prompt a score (higher = the strong model is more needed). A threshold ``t`` sends a
prompt to the strong model when its score is ``>= t``. Sweeping ``t`` from ``+inf`` down to the lowest score moves
the strong share from 0 to 1. A threshold cannot split prompts with the same score, so the curve has one point per
tie-group boundary: after sorting by score (descending) the top ``k`` prompts go to the strong model, for
``k = 0``, every ``k`` where the ``k``-th and ``k+1``-th sorted scores differ, and ``k = n``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class PairCurve:
    """One point per threshold: ``share[i]`` of prompts to strong, the resulting mean ``quality[i]``.

    ``pgr[i]`` is the performance gap recovered at that point, ``cost[i]`` the mean cost per prompt (``None``
    without costs), ``threshold[i]`` the router-score threshold (``+inf`` at share 0), ``k[i]`` the number of
    prompts sent to strong. ``q_weak`` / ``q_strong`` are the always-weak / always-strong qualities.
    """

    share: FloatArray
    quality: FloatArray
    pgr: FloatArray
    threshold: FloatArray
    k: IntArray
    q_weak: float
    q_strong: float
    n: int
    cost: FloatArray | None = None

    @property
    def cost_weak(self) -> float | None:
        return None if self.cost is None else float(self.cost[0])

    @property
    def cost_strong(self) -> float | None:
        return None if self.cost is None else float(self.cost[-1])


def _vector(name: str, values: ArrayLike, n: int | None = None) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} values, expected {n}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    return arr


def sweep_order(scores: ArrayLike) -> tuple[IntArray, IntArray]:
    """Prompt order by descending score (stable) and the ``k`` values of the tie-group boundaries (0 ... n)."""
    s = _vector("scores", scores)
    if s.shape[0] == 0:
        raise ValueError("cannot sweep an empty set of prompts")
    order = np.argsort(-s, kind="stable").astype(np.int64)
    ranked = s[order]
    inner = np.flatnonzero(ranked[1:] != ranked[:-1]) + 1
    ks = np.concatenate([[0], inner, [len(s)]]).astype(np.int64)
    return order, ks


def pgr_values(quality: ArrayLike, q_weak: float, q_strong: float) -> FloatArray:
    """PGR = (q - q_weak) / (q_strong - q_weak); NaN when the two models have the same quality."""
    q = np.asarray(quality, dtype=np.float64)
    gap = q_strong - q_weak
    if gap == 0:
        return np.full(q.shape, np.nan)
    return (q - q_weak) / gap


def pair_curve(
    scores: ArrayLike,
    weak: ArrayLike,
    strong: ArrayLike,
    weak_cost: ArrayLike | None = None,
    strong_cost: ArrayLike | None = None,
) -> PairCurve:
    """The full threshold sweep of router ``scores`` given each prompt's weak and strong model score.

    ``weak_cost`` / ``strong_cost`` are per-prompt costs (USD per call); both or neither.
    """
    s = _vector("scores", scores)
    n = s.shape[0]
    w = _vector("weak", weak, n)
    st = _vector("strong", strong, n)
    order, ks = sweep_order(s)
    gain = (st - w)[order]
    cum_gain = np.concatenate([[0.0], np.cumsum(gain)])[ks]
    q_weak, q_strong = float(w.mean()), float(st.mean())
    quality = q_weak + cum_gain / n
    total = cum_gain[-1]
    # PGR from cumulative gains: exactly 0 at share 0 and exactly 1 at share 1.
    pgr = cum_gain / total if total != 0 else np.full(ks.shape, np.nan)
    ranked = s[order]
    threshold = np.concatenate([[np.inf], ranked[ks[1:] - 1]])
    cost: FloatArray | None = None
    if (weak_cost is None) != (strong_cost is None):
        raise ValueError("give both weak_cost and strong_cost, or neither")
    if weak_cost is not None and strong_cost is not None:
        cw = _vector("weak_cost", weak_cost, n)
        cs = _vector("strong_cost", strong_cost, n)
        cum_extra = np.concatenate([[0.0], np.cumsum((cs - cw)[order])])[ks]
        cost = float(cw.mean()) + cum_extra / n
    return PairCurve(
        share=ks / n,
        quality=quality,
        pgr=pgr,
        threshold=threshold,
        k=ks,
        q_weak=q_weak,
        q_strong=q_strong,
        n=n,
        cost=cost,
    )


def oracle_scores(weak: ArrayLike, strong: ArrayLike) -> FloatArray:
    """The oracle's router score: the strong model's gain over the weak one.

    Sorted descending, the oracle sends strictly-gaining prompts to strong first; at the tie-group boundary after
    them it routes weak exactly when the weak model's score >= the strong model's.
    """
    w = _vector("weak", weak)
    return _vector("strong", strong, w.shape[0]) - w


def random_scores(n: int, seed: int) -> FloatArray:
    """A random router's scores (uniform, seeded): its curve is a realisation of the random baseline."""
    return np.random.default_rng(seed).random(n)


def expected_random_curve(weak: ArrayLike, strong: ArrayLike) -> PairCurve:
    """The random router's expected curve: for every k, quality = q_weak + (k/n)(q_strong - q_weak), PGR = share."""
    w = _vector("weak", weak)
    st = _vector("strong", strong, w.shape[0])
    n = w.shape[0]
    ks = np.arange(n + 1, dtype=np.int64)
    share = ks / n
    q_weak, q_strong = float(w.mean()), float(st.mean())
    quality = q_weak + share * (q_strong - q_weak)
    return PairCurve(
        share=share,
        quality=quality,
        pgr=share.copy() if q_strong != q_weak else np.full(n + 1, np.nan),
        threshold=np.concatenate([[np.inf], np.full(n, np.nan)]),
        k=ks,
        q_weak=q_weak,
        q_strong=q_strong,
        n=n,
    )
