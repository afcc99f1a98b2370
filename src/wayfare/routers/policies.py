"""Policies turn a router's output into a choice of model.

Pair routers give a score s = P(strong needed); :class:`ThresholdPolicy` sends a prompt to the strong model when
s ≥ threshold. The threshold is set by calibration: :func:`threshold_for_share` ("at most p of traffic to the
strong model") or :func:`threshold_for_quality` ("quality ≥ q × the strong model's", from labelled data).

N-model routers give expected scores per model; :class:`TradeoffPolicy` picks argmax(quality − λ·price),
:class:`TolerancePolicy` picks the cheapest model predicted within ``tolerance`` of the best, and
:func:`tradeoff_for_budget` finds the λ that keeps the mean cost under "max $ per 1,000 requests".

:func:`decide` runs router + policy for one prompt and returns a :class:`Decision` (model, score, threshold) that the
gateway reports in its headers and log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wayfare.routers._core import BaseRouter, FloatArray


@dataclass(frozen=True)
class Decision:
    """The routing decision for one prompt. ``score`` is the pair router's P(strong needed), or the predicted score
    of the chosen model for an N-model policy; ``threshold`` is the pair threshold or the λ / tolerance used."""

    model: str
    index: int
    score: float
    threshold: float | None
    policy: str


# --------------------------------------------------------------------------- pair policies
@dataclass(frozen=True)
class ThresholdPolicy:
    """Strong model when score ≥ threshold (RouteLLM's ``router-<name>-<threshold>``)."""

    threshold: float
    name: str = "threshold"

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")

    def choose(self, score: float, strong: str, weak: str) -> Decision:
        strong_needed = score >= self.threshold
        return Decision(
            model=strong if strong_needed else weak,
            index=1 if strong_needed else 0,
            score=float(score),
            threshold=self.threshold,
            policy=self.name,
        )

    def strong_mask(self, scores: FloatArray) -> NDArray[np.bool_]:
        return np.asarray(scores >= self.threshold)


def threshold_for_share(scores: Sequence[float] | FloatArray, share: float) -> float:
    """The threshold that sends (about) ``share`` of these prompts to the strong model: the (1 − share) quantile.
    Ties at the threshold go strong, so the realised share can exceed ``share`` only through tied scores."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    if len(s) == 0:
        raise ValueError("need at least one score to calibrate a threshold")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], got {share}")
    n_strong = int(np.floor(share * len(s) + 1e-9))
    if n_strong == 0:
        return float(min(1.0, np.nextafter(s[-1], np.inf)))
    return float(s[len(s) - n_strong])


def threshold_for_quality(
    scores: Sequence[float] | FloatArray,
    strong_scores: Sequence[float] | FloatArray,
    weak_scores: Sequence[float] | FloatArray,
    quality: float,
) -> tuple[float, float]:
    """The highest threshold (fewest strong calls) whose routed mean score ≥ ``quality`` × the strong model's mean,
    on labelled prompts. Returns (threshold, strong share at that threshold)."""
    s = np.asarray(scores, dtype=np.float64)
    ys, yw = np.asarray(strong_scores, dtype=np.float64), np.asarray(weak_scores, dtype=np.float64)
    if not (len(s) == len(ys) == len(yw)) or len(s) == 0:
        raise ValueError("scores, strong_scores and weak_scores must be non-empty and of the same length")
    target = quality * float(ys.mean())
    order = np.argsort(-s, kind="stable")  # strong calls go to the highest scores first
    gain = np.concatenate([[0.0], np.cumsum((ys - yw)[order])])
    routed = (yw.sum() + gain) / len(s)  # routed[k] = mean score with the top-k prompts on strong
    ok = np.flatnonzero(routed >= target - 1e-12)
    k = int(ok[0]) if len(ok) else len(s)
    # a threshold must not split tied scores: move k to the end of its tie group
    while 0 < k < len(s) and s[order[k]] == s[order[k - 1]]:
        k += 1
    threshold = float(min(1.0, np.nextafter(s[order[0]], np.inf))) if k == 0 else float(s[order[k - 1]])
    return threshold, k / len(s)


# --------------------------------------------------------------------------- N-model policies
Prices = Mapping[str, float] | Sequence[float] | FloatArray | None


def _price_vector(models: Sequence[str], prices: Prices) -> FloatArray:
    if prices is None:
        raise ValueError("this policy needs a price per model")
    if isinstance(prices, Mapping):
        missing = [m for m in models if m not in prices]
        if missing:
            raise ValueError(f"no price for model(s): {', '.join(missing)}")
        return np.asarray([prices[m] for m in models], dtype=np.float64)
    vec = np.asarray(prices, dtype=np.float64)
    if vec.shape != (len(models),):
        raise ValueError(f"{len(vec)} prices for {len(models)} models")
    return vec


@dataclass(frozen=True)
class TradeoffPolicy:
    """argmax over models of (predicted score − lam × price). lam = 0 is "best predicted quality"."""

    lam: float
    name: str = "tradeoff"

    def choose_batch(self, predictions: FloatArray, models: Sequence[str], prices: Prices) -> NDArray[np.intp]:
        utility = np.atleast_2d(predictions) - self.lam * _price_vector(models, prices)
        return np.asarray(np.argmax(utility, axis=1), dtype=np.intp)

    def choose(self, predictions: FloatArray, models: Sequence[str], prices: Prices) -> Decision:
        j = int(self.choose_batch(predictions, models, prices)[0])
        return Decision(models[j], j, float(np.atleast_2d(predictions)[0, j]), self.lam, self.name)


@dataclass(frozen=True)
class TolerancePolicy:
    """The cheapest model whose predicted score is within ``tolerance`` of the best predicted score."""

    tolerance: float
    name: str = "tolerance"

    def choose_batch(self, predictions: FloatArray, models: Sequence[str], prices: Prices) -> NDArray[np.intp]:
        pred = np.atleast_2d(predictions)
        price = _price_vector(models, prices)
        ok = pred >= pred.max(axis=1, keepdims=True) - self.tolerance
        # cheapest eligible; among equal prices, the higher predicted score
        key = np.where(ok, price[None, :] - 1e-9 * pred, np.inf)
        return np.asarray(np.argmin(key, axis=1), dtype=np.intp)

    def choose(self, predictions: FloatArray, models: Sequence[str], prices: Prices) -> Decision:
        j = int(self.choose_batch(predictions, models, prices)[0])
        return Decision(models[j], j, float(np.atleast_2d(predictions)[0, j]), self.tolerance, self.name)


def tradeoff_for_budget(
    predictions: FloatArray,
    models: Sequence[str],
    costs: Prices,
    max_usd_per_1k: float,
) -> TradeoffPolicy:
    """The smallest λ whose choices on these (sample) predictions cost at most ``max_usd_per_1k`` dollars per 1,000
    requests, with ``costs`` the expected USD per request of each model."""
    cost = _price_vector(models, costs)
    if max_usd_per_1k < 1000 * cost.min():
        raise ValueError(
            f"budget ${max_usd_per_1k}/1k requests is below the cheapest model (${1000 * cost.min():.4g}/1k)"
        )

    def spend(lam: float) -> float:
        idx = TradeoffPolicy(lam).choose_batch(predictions, models, cost)
        return 1000 * float(cost[idx].mean())

    if spend(0.0) <= max_usd_per_1k:
        return TradeoffPolicy(0.0, name="budget")
    lo, hi = 0.0, 1.0
    while spend(hi) > max_usd_per_1k:
        hi *= 2
        if hi > 1e12:
            break
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if spend(mid) <= max_usd_per_1k else (mid, hi)
    return TradeoffPolicy(hi, name="budget")


# --------------------------------------------------------------------------- one decision
PairPolicy = ThresholdPolicy
ModelPolicy = TradeoffPolicy | TolerancePolicy


def decide(
    router: BaseRouter,
    prompt: str,
    policy: ThresholdPolicy | TradeoffPolicy | TolerancePolicy,
    prices: Prices = None,
) -> Decision:
    """Route one prompt: embed, score, apply the policy."""
    if isinstance(policy, ThresholdPolicy):
        score = float(router.score([prompt])[0])
        return policy.choose(score, router.strong_, router.weak_)
    return policy.choose(router.predict([prompt]), router.models_, prices)


def policy_from_spec(spec: Mapping[str, Any]) -> ThresholdPolicy | TradeoffPolicy | TolerancePolicy:
    """Build a policy from a small dict, e.g. ``{"threshold": 0.42}``, ``{"lam": 2.0}``, ``{"tolerance": 0.02}``."""
    if "threshold" in spec:
        return ThresholdPolicy(float(spec["threshold"]))
    if "lam" in spec:
        return TradeoffPolicy(float(spec["lam"]))
    if "tolerance" in spec:
        return TolerancePolicy(float(spec["tolerance"]))
    raise ValueError(f"unknown policy spec {dict(spec)!r}: give threshold, lam or tolerance")
