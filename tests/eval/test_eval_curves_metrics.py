"""Pair curve, PGR, CPT, APGR and cost saved, against cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from wayfare.eval.curves import expected_random_curve, oracle_scores, pair_curve, random_scores, sweep_order
from wayfare.eval.metrics import apgr, cost_saved_at_quality, cpt, trapezoid

# Five prompts. Router scores, and each model's correctness:
#   prompt   score  weak  strong  gain
#     0       0.9    0     1       +1
#     1       0.7    1     1        0
#     2       0.7    0     1       +1
#     3       0.2    1     0       -1
#     4       0.1    1     1        0
# Sorted by score (already). Prompts 1 and 2 tie: no threshold separates them, so k (number sent to strong)
# takes the values 0, 1, 3, 4, 5 -> shares 0, .2, .6, .8, 1.
# q_weak = 3/5 = .6, q_strong = 4/5 = .8, gap .2.
# cumulative gain at k: 0, 1, 2, 1, 1 -> quality = .6 + gain/5 = .6, .8, 1.0, .8, .8
# PGR = (q - .6)/.2 = 0, 1, 2, 1, 1  (non-monotone: sending prompt 3 to strong loses a right answer)
# APGR (trapezoid): .2*(0+1)/2 + .4*(1+2)/2 + .2*(2+1)/2 + .2*(1+1)/2 = .1 + .6 + .3 + .2 = 1.2
# CPT(.5) = CPT(.8) = .2 (first point with PGR >= x); CPT(1.5) = .6; np.interp on shares would give .1 for CPT(.5).
SCORES = [0.9, 0.7, 0.7, 0.2, 0.1]
WEAK = [0, 1, 0, 1, 1]
STRONG = [1, 1, 1, 0, 1]


def test_pair_curve_points_by_hand() -> None:
    curve = pair_curve(SCORES, WEAK, STRONG)
    np.testing.assert_array_equal(curve.k, [0, 1, 3, 4, 5])
    np.testing.assert_allclose(curve.share, [0, 0.2, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(curve.quality, [0.6, 0.8, 1.0, 0.8, 0.8])
    np.testing.assert_allclose(curve.pgr, [0, 1, 2, 1, 1])
    np.testing.assert_allclose(curve.threshold, [np.inf, 0.9, 0.7, 0.2, 0.1])
    assert curve.q_weak == pytest.approx(0.6)
    assert curve.q_strong == pytest.approx(0.8)
    assert curve.cost is None


def test_apgr_and_cpt_by_hand() -> None:
    curve = pair_curve(SCORES, WEAK, STRONG)
    assert apgr(curve) == pytest.approx(1.2)
    assert cpt(curve, 0.5) == pytest.approx(0.2)
    assert cpt(curve, 0.8) == pytest.approx(0.2)
    assert cpt(curve, 1.5) == pytest.approx(0.6)
    assert cpt(curve, 1.0) == pytest.approx(0.2)
    assert np.isnan(cpt(curve, 2.5))


def test_cpt_scans_instead_of_interpolating() -> None:
    # Curve PGR 0, 1, 2, 1, 1 at shares 0, .2, .6, .8, 1: np.interp(.5, pgr, share) assumes increasing PGR and
    # answers .1, a share no threshold produces. The scan answers .2.
    curve = pair_curve(SCORES, WEAK, STRONG)
    assert cpt(curve, 0.5) == pytest.approx(0.2)
    assert float(np.interp(0.5, curve.pgr, curve.share)) == pytest.approx(0.1)


def test_cost_per_point_and_cost_saved_by_hand() -> None:
    # weak costs 1 per call, strong 10: mean cost = 1 + 9 * share = 1, 2.8, 6.4, 8.2, 10.
    # 95% of q_strong = .76; first quality >= .76 is .8 at share .2, cost 2.8: saved 1 - 2.8/10 = .72.
    curve = pair_curve(SCORES, WEAK, STRONG, weak_cost=[1.0] * 5, strong_cost=[10.0] * 5)
    assert curve.cost is not None
    np.testing.assert_allclose(curve.cost, [1, 2.8, 6.4, 8.2, 10])
    saved = cost_saved_at_quality(curve, 0.95)
    assert saved is not None
    assert saved.share == pytest.approx(0.2)
    assert saved.cost == pytest.approx(2.8)
    assert saved.cost_strong == pytest.approx(10.0)
    assert saved.cost_saved == pytest.approx(0.72)


def test_cost_saved_uses_per_prompt_costs() -> None:
    # Prompt 0 is expensive on strong (30), others 10; weak 1 each. At share .2 only prompt 0 goes to strong:
    # mean cost = (30 + 1 + 1 + 1 + 1)/5 = 6.8; always strong = (30 + 40)/5 = 14; saved = 1 - 6.8/14.
    curve = pair_curve(SCORES, WEAK, STRONG, weak_cost=[1.0] * 5, strong_cost=[30.0, 10, 10, 10, 10])
    saved = cost_saved_at_quality(curve, 0.95)
    assert saved is not None
    assert saved.cost == pytest.approx(6.8)
    assert saved.cost_saved == pytest.approx(1 - 6.8 / 14)


def test_cost_saved_needs_costs_and_a_fraction() -> None:
    curve = pair_curve(SCORES, WEAK, STRONG)
    assert cost_saved_at_quality(curve) is None
    with pytest.raises(ValueError, match="fraction"):
        cost_saved_at_quality(curve, 1.5)


def test_oracle_routes_weak_when_weak_is_as_good() -> None:
    # weak   = 1 0 0 1 0, strong = 1 1 0 0 1 -> gain 0 +1 0 -1 +1; q_weak .4, q_strong .6.
    # Oracle order: gains +1 (prompts 1, 4), then 0 (0, 2), then -1 (3): k = 0, 2, 4, 5.
    # cumulative gain 0, 2, 2, 1 -> PGR 0, 2, 2, 1; quality .4, .8, .8, .6 (.8 = mean of max(weak, strong)).
    # APGR = .4*(0+2)/2 + .4*(2+2)/2 + .2*(2+1)/2 = .4 + .8 + .3 = 1.5
    weak, strong = [1, 0, 0, 1, 0], [1, 1, 0, 0, 1]
    curve = pair_curve(oracle_scores(weak, strong), weak, strong)
    np.testing.assert_array_equal(curve.k, [0, 2, 4, 5])
    np.testing.assert_allclose(curve.quality, [0.4, 0.8, 0.8, 0.6])
    assert apgr(curve) == pytest.approx(1.5)
    assert cpt(curve, 0.5) == pytest.approx(0.4)


def test_random_baselines() -> None:
    rng = np.random.default_rng(12345)  # not one of the router seeds below
    weak = (rng.random(4000) < 0.6).astype(float)
    strong = (rng.random(4000) < 0.8).astype(float)
    expected = expected_random_curve(weak, strong)
    assert apgr(expected) == pytest.approx(0.5)
    np.testing.assert_allclose(expected.pgr, expected.share)
    realised = [apgr(pair_curve(random_scores(4000, seed), weak, strong)) for seed in range(5)]
    assert float(np.mean(realised)) == pytest.approx(0.5, abs=0.03)
    assert len(set(realised)) == 5


def test_always_weak_and_always_strong_are_the_curve_ends() -> None:
    curve = pair_curve(SCORES, WEAK, STRONG, weak_cost=[1.0] * 5, strong_cost=[10.0] * 5)
    assert (curve.share[0], curve.quality[0], curve.cost_weak) == (0.0, pytest.approx(0.6), pytest.approx(1.0))
    assert (curve.share[-1], curve.quality[-1], curve.cost_strong) == (1.0, pytest.approx(0.8), pytest.approx(10.0))


def test_equal_models_give_undefined_pgr() -> None:
    curve = pair_curve([0.3, 0.2], [1, 0], [0, 1])
    assert np.isnan(curve.pgr).all()
    assert np.isnan(apgr(curve))


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="expected 5"):
        pair_curve(SCORES, WEAK[:4], STRONG)
    with pytest.raises(ValueError, match="NaN"):
        pair_curve([0.1, float("nan")], [0, 1], [1, 1])
    with pytest.raises(ValueError, match="both"):
        pair_curve(SCORES, WEAK, STRONG, weak_cost=[1.0] * 5)
    with pytest.raises(ValueError, match="empty"):
        sweep_order([])


def test_trapezoid_by_hand() -> None:
    # (0,0)-(1,1)-(3,1): 0.5 + 2 = 2.5
    assert trapezoid([0, 1, 1], [0, 1, 3]) == pytest.approx(2.5)
    assert trapezoid([1.0], [0.0]) == 0.0
