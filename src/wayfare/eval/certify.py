"""Certified thresholds: the most aggressive routing threshold whose quality loss is bounded with a stated risk.

The promise: *routing at threshold t keeps at least ``quality_target`` x the strong model's mean quality on this
traffic, and the chance that this is false is at most ``risk``*. It is Learn-then-Test (Angelopoulos, Bates, Candès,
Jordan and Lei, "Learn then Test: Calibrating Predictive Algorithms to Achieve Risk Control", 2021):

- Each labelled prompt i (router score r_i, strong quality s_i, weak quality w_i, all in [0, 1]) gives, at threshold
  t, the loss ``l_i(t) = (s_i - w_i) * [r_i < t] - (1 - q) * s_i``: the quality given up by sending it to the weak
  model, minus its share of the allowed loss. The route meets the target at t exactly when E[l(t)] <= 0.
- For each t on a grid, the null hypothesis "E[l(t)] > 0" is tested with a p-value from betting (Waudby-Smith and
  Ramdas, "Estimating means of bounded random variables by betting", JRSS-B 2023): valid for any bounded data,
  variance-adaptive (far tighter than Hoeffding when most prompts lose nothing), and anytime-valid, so the same
  test also watches a stream of new labels.
- The grid is tested in a **fixed sequence**, from the most conservative threshold (fewest weak calls) towards the
  most aggressive, each at level ``risk``, stopping at the first that fails: the family-wise error is at most
  ``risk`` with no correction (LTT, Proposition 3). The last threshold that passed is certified.

Why not the point estimate (``threshold_for_quality``): it picks the threshold whose *measured* quality just meets
the target, so on fresh traffic it misses the target about half the time. Why not Bonferroni over the grid: it
divides ``risk`` by the grid size; the fixed sequence does not, because losses grow monotonically as t falls.
Assumptions: the labels measure quality (a judge's or users' verdict, not the truth), and the labelled prompts are
exchangeable with the traffic the threshold is applied to (same mix).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
GRID_STEP = 0.02  # strong shares 1.00, 0.98, ..., 0.00 of the labelled prompts' scores
MIXTURE_BETS = 20  # constant bets averaged by the batch test
EW_LABELS = 200.0  # the monitor sizes its bets on about the last 200 labels (any predictable bet keeps it valid)


def betting_pvalue(x: ArrayLike, mean0: float, *, c: float = 0.75, anytime: bool = False) -> float:
    """p-value for H0: E[x] >= ``mean0`` against "the mean is lower", for x in [0, 1], by betting.

    Capital K_t = prod (1 + lam_i (mean0 - x_i)) with bets lam_i fixed before x_i is seen (truncated at c / mean0 so
    the capital stays positive); under H0 it is a nonnegative supermartingale with
    E[K_t] <= 1. ``anytime=False``: for a batch of labels, 1 / K_n of the whole sample (Markov) for a mixture of
    constant bets; its verdict follows the sample's mean, not a lucky start, and it adapts to low-variance data.
    ``anytime=True``: 1 / max_t K_t (Ville) with adaptive bets (:class:`SequentialTest`), valid however long one
    watches a stream and stops: monitoring."""
    xs = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    if not 0.0 < mean0 <= 1.0:
        return 1.0 if mean0 <= 0.0 else 0.0
    if xs.size == 0:
        return 1.0
    if anytime:
        seq = SequentialTest(mean0, c=c)
        return min(seq.update(float(v)) for v in xs)
    # a mixture of constant bets on a grid: the average of their capitals is itself a capital (E <= 1 under H0), and
    # it grows nearly as fast as the best single bet in hindsight, whatever the data's variance
    lams = np.linspace(0.0, c / mean0, MIXTURE_BETS + 1)[1:]
    log_k = np.log1p(np.outer(lams, mean0 - xs)).sum(axis=1)
    top = float(log_k.max())
    log_mix = top + math.log(float(np.exp(log_k - top).mean()))
    return float(min(1.0, math.exp(-max(log_mix, 0.0))))


@dataclass
class SequentialTest:
    """Anytime-valid test of H0: E[x] >= mean0 (x in [0, 1]) on a stream, one observation at a time.

    Growth-rate adaptive bets (aGRAPA, Waudby-Smith and Ramdas) sized on exponentially weighted estimates of the
    recent mean and variance (about the last ``EW_LABELS`` observations), so that a change after a long good run is
    noticed quickly; any bet fixed before the observation keeps the capital a supermartingale under H0, so
    p = 1 / max capital stays valid (Ville)."""

    mean0: float
    c: float = 0.75
    n: int = 0
    _mu: float = 0.5
    _var: float = 0.25
    _log_k: float = 0.0
    _best: float = 0.0

    def update(self, x: float) -> float:
        """Add one observation in [0, 1]; return the anytime-valid p-value so far."""
        xi = min(1.0, max(0.0, float(x)))
        gap = self.mean0 - self._mu
        lam = min(max(gap / (self._var + gap * gap), 0.0), self.c / self.mean0) if self.mean0 > 0 else 0.0
        self._log_k += math.log1p(lam * (self.mean0 - xi))
        self._best = max(self._best, self._log_k)
        self.n += 1
        a = max(1.0 / (self.n + 1), 1.0 / EW_LABELS)
        self._var = (1 - a) * self._var + a * (xi - self._mu) ** 2
        self._mu = (1 - a) * self._mu + a * xi
        return float(min(1.0, math.exp(-self._best)))


def _loss_range(target: float) -> tuple[float, float]:
    return -(2.0 - target), 1.0  # l = (s - w)[r < t] - (1 - q)s lies in [-(1 + (1 - q)), 1]


def null_mean(target: float) -> float:
    """Loss 0 (the route exactly at its target) on the [0, 1] scale of :func:`losses`."""
    lo, hi = _loss_range(target)
    return -lo / (hi - lo)


def losses(scores: ArrayLike, strong: ArrayLike, weak: ArrayLike, threshold: float, target: float) -> FloatArray:
    """Per-prompt losses at ``threshold``, rescaled to [0, 1] (loss 0 is :func:`null_mean`)."""
    r, s, w = (np.asarray(a, dtype=np.float64) for a in (scores, strong, weak))
    lo, hi = _loss_range(target)
    raw = (s - w) * (r < threshold) - (1.0 - target) * s
    return (raw - lo) / (hi - lo)


def quality_ratio(scores: FloatArray, strong: FloatArray, weak: FloatArray, threshold: float) -> float:
    """Mean quality routed at ``threshold`` over the strong model's mean quality on the same prompts (1 if it is 0)."""
    mean_strong = float(strong.mean())
    return float(np.where(scores >= threshold, strong, weak).mean()) / mean_strong if mean_strong > 0 else 1.0


@dataclass(frozen=True)
class Certificate:
    """A certified threshold (``None``: nothing certified, stay in safe mode) and what backs it.

    ``bound``: the largest quality target (fraction of the strong model's mean quality) the chosen threshold still
    passes at the same risk, i.e. a lower confidence bound on the route's quality ratio; when nothing is certified,
    the same bound for the most conservative threshold that routes anything to the weak model."""

    threshold: float | None
    bound: float
    labels: int
    strong_share: float
    quality_target: float
    risk: float
    p_value: float
    measured_quality_ratio: float
    method: str = "learn-then-test, fixed sequence, betting p-values (Waudby-Smith & Ramdas)"

    def to_json(self) -> dict[str, Any]:
        """The shape scripts rely on: threshold, bound, labels, strong_share (+ the rest)."""
        return asdict(self)


def threshold_grid(scores: FloatArray, step: float = GRID_STEP) -> list[float]:
    """Candidate thresholds (strong when score >= t), from the most conservative (everything strong) to the most
    aggressive (everything weak): the labelled prompts' score quantiles at strong shares 1, 1 - step, ..., 0."""
    s = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    n = len(s)
    out: set[float] = set()
    for share in np.arange(1.0, -1e-9, -step):
        k = round(float(share) * n)
        out.add(float(s[k - 1]) if k >= 1 else float(np.nextafter(s[0], np.inf)))
    return sorted(out)


def _p(scores: FloatArray, strong: FloatArray, weak: FloatArray, t: float, target: float) -> float:
    """p-value of "threshold t misses ``target``"."""
    return betting_pvalue(losses(scores, strong, weak, t, target), null_mean(target))


def ratio_bound(scores: FloatArray, strong: FloatArray, weak: FloatArray, t: float, risk: float) -> float:
    """The largest target q (to 0.001) that threshold ``t`` passes at ``risk`` (0 if none)."""
    lo, hi = 0.0, 1.0
    if _p(scores, strong, weak, t, 0.0) > risk:
        return 0.0
    for _ in range(14):
        mid = (lo + hi) / 2.0
        if _p(scores, strong, weak, t, mid) <= risk:
            lo = mid
        else:
            hi = mid
    return round(lo, 4)


def certify_threshold(
    scores: Sequence[float] | ArrayLike,
    strong: Sequence[float] | ArrayLike,
    weak: Sequence[float] | ArrayLike,
    *,
    quality_target: float = 0.95,
    risk: float = 0.1,
    grid: Sequence[float] | None = None,
) -> Certificate:
    """The most aggressive threshold whose routed quality is >= ``quality_target`` x the strong model's with
    probability >= 1 - ``risk`` (see the module docstring). Rows are used in the order given (shuffle exchangeable
    tables first if their order is not random)."""
    r = np.asarray(scores, dtype=np.float64)
    s = np.asarray(strong, dtype=np.float64)
    w = np.asarray(weak, dtype=np.float64)
    if not (len(r) == len(s) == len(w)) or len(r) == 0:
        raise ValueError("scores, strong and weak must be non-empty and of the same length")
    if np.isnan(r).any() or np.isnan(s).any() or np.isnan(w).any():
        raise ValueError("scores and labels must be known (no NaN): drop unlabelled rows first")
    if ((s < 0) | (s > 1) | (w < 0) | (w > 1)).any():
        raise ValueError("strong and weak quality must be in [0, 1]")
    if not 0.0 < quality_target <= 1.0:
        raise ValueError(f"quality_target must be in (0, 1], got {quality_target}")
    if not 0.0 < risk < 1.0:
        raise ValueError(f"risk must be in (0, 1), got {risk}")
    thresholds = sorted(grid) if grid is not None else threshold_grid(r)  # fixed sequence: fewest weak calls first
    certified: float | None = None
    p_cert = 1.0
    for t in thresholds:
        if not (r < t).any():  # routes nothing weak: passes trivially, certifies nothing useful
            continue
        p = _p(r, s, w, t, quality_target)
        if p > risk:
            break
        certified, p_cert = t, p
    shown = certified if certified is not None else next((t for t in thresholds if (r < t).any()), None)
    if shown is None:
        raise ValueError("every score is below every threshold: nothing to route")
    return Certificate(
        threshold=certified,
        bound=ratio_bound(r, s, w, shown, risk),
        labels=len(r),
        strong_share=round(float(np.mean(r >= certified)) if certified is not None else 1.0, 6),
        quality_target=quality_target,
        risk=risk,
        p_value=round(p_cert, 6),
        measured_quality_ratio=round(quality_ratio(r, s, w, shown), 6),
    )
