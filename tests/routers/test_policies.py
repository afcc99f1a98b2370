"""Policies and calibration, checked against hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest

from wayfare.routers import (
    ThresholdPolicy,
    TolerancePolicy,
    TradeoffPolicy,
    threshold_for_quality,
    threshold_for_share,
    tradeoff_for_budget,
)
from wayfare.routers.policies import policy_from_spec

MODELS = ["small", "medium", "large"]
PRICES = {"small": 0.1, "medium": 0.5, "large": 2.0}


def test_threshold_policy_chooses_strong_at_or_above_threshold() -> None:
    policy = ThresholdPolicy(0.4)
    assert policy.choose(0.4, "gpt", "mix").model == "gpt"
    low = policy.choose(0.39, "gpt", "mix")
    assert (low.model, low.index, low.threshold, low.score) == ("mix", 0, 0.4, 0.39)
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        ThresholdPolicy(1.5)


def test_threshold_for_share_sends_that_share_strong() -> None:
    scores = np.arange(10) / 10  # 0.0 .. 0.9
    t = threshold_for_share(scores, 0.3)
    assert t == pytest.approx(0.7)
    assert ThresholdPolicy(t).strong_mask(scores).sum() == 3
    assert ThresholdPolicy(threshold_for_share(scores, 0.0)).strong_mask(scores).sum() == 0
    assert ThresholdPolicy(threshold_for_share(scores, 1.0)).strong_mask(scores).sum() == 10


def test_threshold_for_quality_is_the_fewest_strong_calls_reaching_the_target() -> None:
    # prompt:        0    1    2    3
    scores = [0.9, 0.8, 0.2, 0.1]
    strong = [1.0, 1.0, 1.0, 1.0]
    weak = [0.0, 1.0, 0.0, 1.0]
    # weak alone: 0.5 = 50% of strong; strong on prompt 0: 0.75; on 0 and 1: 0.75; on 0, 1, 2: 1.0
    t, share = threshold_for_quality(scores, strong, weak, 0.75)
    assert (t, share) == (0.9, 0.25)
    t, share = threshold_for_quality(scores, strong, weak, 1.0)
    assert (t, share) == (0.2, 0.75)
    t, share = threshold_for_quality(scores, strong, weak, 0.5)
    assert share == 0.0 and t > 0.9


def test_tradeoff_and_tolerance_policies() -> None:
    pred = np.array([[0.50, 0.70, 0.75], [0.9, 0.9, 0.9]])
    assert TradeoffPolicy(0.0).choose(pred[:1], MODELS, PRICES).model == "large"
    # utilities at lam=0.1: 0.49, 0.65, 0.55 -> medium
    assert TradeoffPolicy(0.1).choose(pred[:1], MODELS, PRICES).model == "medium"
    assert list(TradeoffPolicy(1.0).choose_batch(pred, MODELS, PRICES)) == [0, 0]
    tol = TolerancePolicy(0.05)
    assert tol.choose(pred[:1], MODELS, PRICES).model == "medium"  # within 0.05 of 0.75, cheaper than large
    assert list(tol.choose_batch(pred, MODELS, PRICES)) == [1, 0]
    with pytest.raises(ValueError, match="no price for model"):
        tol.choose(pred[:1], MODELS, {"small": 1.0})


def test_budget_policy_keeps_spend_under_the_cap() -> None:
    rng = np.random.default_rng(0)
    pred = rng.random((500, 3))
    cost = [0.0001, 0.0005, 0.002]  # USD per request
    policy = tradeoff_for_budget(pred, MODELS, cost, max_usd_per_1k=0.5)
    chosen = policy.choose_batch(pred, MODELS, cost)
    spend = 1000 * np.asarray(cost)[chosen].mean()
    assert spend <= 0.5
    assert spend > 0.4  # spends most of the budget rather than collapsing to the cheapest model
    assert tradeoff_for_budget(pred, MODELS, cost, max_usd_per_1k=5.0).lam == 0.0
    with pytest.raises(ValueError, match="below the cheapest model"):
        tradeoff_for_budget(pred, MODELS, cost, max_usd_per_1k=0.01)


def test_policy_from_spec() -> None:
    assert policy_from_spec({"threshold": 0.3}) == ThresholdPolicy(0.3)
    assert policy_from_spec({"lam": 2}) == TradeoffPolicy(2.0)
    with pytest.raises(ValueError, match="unknown policy spec"):
        policy_from_spec({"x": 1})
