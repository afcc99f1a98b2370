"""N-model metrics (policy sweep, hull, AIQ, arena score) against cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wayfare.eval.multi import (
    aiq,
    arena_cost_score,
    arena_score,
    cost_to_reach,
    default_lambdas,
    nondecreasing_hull,
    policy_points,
    quality_at_cost,
    single_model_points,
)

# Four prompts, three models A, B, C costing 1, 2, 4 per call. Correctness:
#   prompt  A  B  C
#     0     1  1  1
#     1     0  1  1
#     2     0  0  1
#     3     0  0  0
# Single models: A (cost 1, quality .25), B (2, .5), C (4, .75).
SCORES = np.array([[1, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 0]], dtype=float)
COSTS = np.tile([1.0, 2.0, 4.0], (4, 1))


def test_single_models_and_their_hull_by_hand() -> None:
    cost, quality = single_model_points(SCORES, COSTS)
    np.testing.assert_allclose(cost, [1, 2, 4])
    np.testing.assert_allclose(quality, [0.25, 0.5, 0.75])
    hull = nondecreasing_hull(cost, quality)
    # slopes .25 then .125: concave, every point stays.
    np.testing.assert_allclose(hull.cost, [1, 2, 4])
    # normalised cost 0, 1/3, 1: area = (1/3)(.25+.5)/2 + (2/3)(.5+.75)/2 = .125 + .41667 = 13/24
    assert aiq(hull, 1.0, 4.0) == pytest.approx(13 / 24)


def test_oracle_policy_sweep_by_hand() -> None:
    # With predicted = true scores, cost weight lam:
    #   lam = 0      -> 0:A (first of equal maxima), 1:B, 2:C, 3:A: cost (1+2+4+1)/4 = 2, quality .75
    #   1/3<lam<1    -> prompt 2 prefers A (0 - lam > 1 - 4 lam): cost 1.25, quality .5
    #   lam > 1      -> all A: cost 1, quality .25
    cost, quality = policy_points(SCORES, SCORES, COSTS)
    points = sorted(set(zip(np.round(cost, 9).tolist(), np.round(quality, 9).tolist(), strict=True)))
    assert points == [(1.0, 0.25), (1.25, 0.5), (2.0, 0.75)]
    hull = nondecreasing_hull(cost, quality)
    np.testing.assert_allclose(hull.cost, [1, 1.25, 2])
    # AIQ over the single models' range [1, 4] (x = 0, 1/12, 1/3, then flat .75 up to 1):
    # (1/12)(.25+.5)/2 + (1/4)(.5+.75)/2 + (2/3)(.75) = .03125 + .15625 + .5 = .6875
    assert aiq(hull, 1.0, 4.0) == pytest.approx(0.6875)
    # Best single model is C (quality .75 at cost 4): the hull has .75 there, and reaches .75 at cost 2 (50%).
    assert quality_at_cost(hull, 4.0) == pytest.approx(0.75)
    assert cost_to_reach(hull, 0.75) / 4.0 == pytest.approx(0.5)
    # On the segment (1.25, .5)-(2, .75): at cost 1.5 quality .5 + .25 * (.25/.75) = .58333; .6 at 1.25 + .4*.75
    assert quality_at_cost(hull, 1.5) == pytest.approx(0.5 + 0.25 / 3)
    assert cost_to_reach(hull, 0.6) == pytest.approx(1.55)
    assert np.isnan(quality_at_cost(hull, 0.5))
    assert quality_at_cost(hull, 1.0 - 1e-15) == pytest.approx(0.25)  # rounding noise is not "cheaper"
    assert np.isnan(cost_to_reach(hull, 0.9))


def test_hull_drops_dominated_and_decreasing_points() -> None:
    # (1,.2) (2,.6) (2.5,.3) (3,.5) (4,.7) (5,.65) (2,.4): (2.5,.3), (3,.5) lie under the chord (2,.6)-(4,.7);
    # (2,.4) shares a cost with a better point; (5,.65) comes after the peak.
    hull = nondecreasing_hull([1, 2, 2.5, 3, 4, 5, 2], [0.2, 0.6, 0.3, 0.5, 0.7, 0.65, 0.4])
    np.testing.assert_allclose(hull.cost, [1, 2, 4])
    np.testing.assert_allclose(hull.quality, [0.2, 0.6, 0.7])


def test_aiq_when_the_router_cannot_reach_the_cheapest_cost() -> None:
    # Hull from cost 2 to 4 at quality .5 then .7, single range [1, 5]: x = .25, .75 -> area under
    # (.25,.5)-(.75,.7) = .5*.6 = .3, plus flat .7 over [.75, 1] = .175; nothing below x = .25.
    hull = nondecreasing_hull([2, 4], [0.5, 0.7])
    assert aiq(hull, 1.0, 5.0) == pytest.approx(0.475)
    with pytest.raises(ValueError, match="cost range"):
        aiq(hull, 1.0, 1.0)


def test_default_lambdas_end_at_the_cheapest_model() -> None:
    lam = default_lambdas(COSTS)
    assert lam[0] == 0.0
    assert np.all(np.diff(lam) > 0)
    cost, quality = policy_points(SCORES, SCORES, COSTS, lam[-1:])
    assert (cost[0], quality[0]) == (1.0, 0.25)


def test_arena_score_by_hand() -> None:
    # log2 200 = 7.643856, log2 0.0044 = -7.828280; at c = $1 per 1k queries C = 7.643856/15.472136 = 0.494041
    # S = 1.1 * .8 * .494041 / (.08 + .494041) = .434756 / .574041 = .757360
    assert arena_cost_score(1.0) == pytest.approx(0.494041, abs=1e-6)
    assert arena_score(0.8, 1.0) == pytest.approx(0.757360, abs=1e-6)
    # clipped: above $200 -> C = 0 -> S = 0; below $0.0044 -> C = 1 -> S(A=1) = 1.1/1.1 = 1
    assert arena_cost_score(1000.0) == 0.0
    assert arena_score(0.8, 1000.0) == 0.0
    assert arena_score(1.0, 0.0001) == pytest.approx(1.0)
    assert arena_cost_score(200.0) == pytest.approx(0.0) and math.isclose(arena_cost_score(0.0044), 1.0)
