"""Bootstrap 95% confidence intervals by resampling prompts (fixed seed, vectorised, chunked to bound memory).

A resample is a vector of counts (how often each prompt was drawn). A pair curve only depends on cumulative sums in
router-score order, so all resamples of one chunk are evaluated with a few matrix cumsums; an N-model policy point
is a weighted mean, so a chunk of resamples is one matrix product.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wayfare.eval.curves import sweep_order
from wayfare.eval.metrics import TOL
from wayfare.eval.multi import Hull, aiq, nondecreasing_hull

FloatArray = NDArray[np.float64]

DEFAULT_RESAMPLES = 1000
_CHUNK_CELLS = 2_000_000  # counts per chunk (resamples x prompts), ~16 MB per float64 array


def resample_counts(n: int, n_resamples: int, seed: int) -> Iterator[FloatArray]:
    """Chunks of shape (b, n): how often each of ``n`` prompts appears in each resample (rows sum to n)."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, _CHUNK_CELLS // max(n, 1)))
    done = 0
    while done < n_resamples:
        b = min(chunk, n_resamples - done)
        draws = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        yield np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        done += b


def percentile_ci(samples: ArrayLike, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap samples, ignoring NaN (undefined resamples)."""
    s = np.asarray(samples, dtype=np.float64)
    s = s[~np.isnan(s)]
    if not s.size:
        return (float("nan"), float("nan"))
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(s, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


def pair_bootstrap(
    scores: ArrayLike,
    weak: ArrayLike,
    strong: ArrayLike,
    cpt_levels: Sequence[float] = (0.5, 0.8),
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, FloatArray]:
    """Bootstrap samples of APGR and CPT(x) for each x in ``cpt_levels``: {"apgr": (B,), "cpt50": (B,), ...}.

    Resamples where the two models tie on quality (PGR undefined) give NaN.
    """
    s = np.asarray(scores, dtype=np.float64)
    gain = np.asarray(strong, dtype=np.float64) - np.asarray(weak, dtype=np.float64)
    n = s.shape[0]
    order, ks = sweep_order(s)
    gain_sorted = gain[order]
    idx = ks[1:] - 1
    names = [f"cpt{round(x * 100)}" for x in cpt_levels]
    out: dict[str, list[FloatArray]] = {"apgr": [], **{k: [] for k in names}}
    for counts in resample_counts(n, n_resamples, seed):
        c = counts[:, order]
        share = np.concatenate([np.zeros((c.shape[0], 1)), np.cumsum(c, axis=1)[:, idx] / n], axis=1)
        cum_gain = np.concatenate([np.zeros((c.shape[0], 1)), np.cumsum(c * gain_sorted, axis=1)[:, idx]], axis=1)
        total = cum_gain[:, -1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            pgr = np.where(total != 0, cum_gain / np.where(total != 0, total, 1.0), np.nan)
        undefined = np.isnan(pgr[:, -1])
        area = np.sum(np.diff(share, axis=1) * (pgr[:, 1:] + pgr[:, :-1]) / 2.0, axis=1)
        out["apgr"].append(np.where(undefined, np.nan, area))
        for name, x in zip(names, cpt_levels, strict=True):
            reached = pgr >= x - TOL
            first = np.argmax(reached, axis=1)
            value = share[np.arange(c.shape[0]), first]
            out[name].append(np.where(undefined | ~reached.any(axis=1), np.nan, value))
    return {k: np.concatenate(v) for k, v in out.items()}


def aiq_bootstrap(
    chosen_scores: ArrayLike,
    chosen_costs: ArrayLike,
    model_costs: ArrayLike,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> FloatArray:
    """Bootstrap samples of AIQ.

    ``chosen_scores`` / ``chosen_costs``: (L, n) true score and cost of the model each policy point picks for each
    prompt; ``model_costs``: (n, m) per-prompt cost of each single model (the AIQ cost range).
    """
    cs = np.asarray(chosen_scores, dtype=np.float64)
    cc = np.asarray(chosen_costs, dtype=np.float64)
    mc = np.asarray(model_costs, dtype=np.float64)
    n = cs.shape[1]
    samples: list[float] = []
    for counts in resample_counts(n, n_resamples, seed):
        q = counts @ cs.T / n  # (b, L)
        c = counts @ cc.T / n
        singles = counts @ mc / n  # (b, m)
        for b in range(counts.shape[0]):
            lo, hi = float(singles[b].min()), float(singles[b].max())
            hull: Hull = nondecreasing_hull(c[b], q[b])
            samples.append(aiq(hull, lo, hi) if hi > lo else float("nan"))
    return np.asarray(samples)
