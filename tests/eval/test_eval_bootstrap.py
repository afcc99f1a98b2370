"""Vectorised bootstrap against a plain per-resample loop, and its determinism."""

from __future__ import annotations

import numpy as np
import pytest

from wayfare.eval.bootstrap import aiq_bootstrap, pair_bootstrap, percentile_ci, resample_counts
from wayfare.eval.curves import pair_curve
from wayfare.eval.metrics import apgr, cpt
from wayfare.eval.multi import aiq, nondecreasing_hull, policy_choices


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    weak = (rng.random(n) < 0.55).astype(float)
    strong = (rng.random(n) < 0.75).astype(float)
    scores = np.round(0.5 * (strong - weak) + rng.random(n), 1)  # informative, with many ties
    return scores, weak, strong


def test_counts_are_resamples() -> None:
    chunks = list(resample_counts(50, 130, seed=3))
    counts = np.concatenate(chunks)
    assert counts.shape == (130, 50)
    assert np.all(counts.sum(axis=1) == 50)
    again = np.concatenate(list(resample_counts(50, 130, seed=3)))
    np.testing.assert_array_equal(counts, again)


def test_pair_bootstrap_matches_a_plain_loop() -> None:
    scores, weak, strong = _data(60, 7)
    boot = pair_bootstrap(scores, weak, strong, n_resamples=40, seed=11)
    # The same draws, evaluated one resample at a time with the plain curve code.
    draws = np.random.default_rng(11).integers(0, 60, size=(40, 60))
    for b in range(40):
        idx = draws[b]
        curve = pair_curve(scores[idx], weak[idx], strong[idx])
        assert boot["apgr"][b] == pytest.approx(apgr(curve), nan_ok=True)
        assert boot["cpt50"][b] == pytest.approx(cpt(curve, 0.5), nan_ok=True)
        assert boot["cpt80"][b] == pytest.approx(cpt(curve, 0.8), nan_ok=True)


def test_pair_ci_covers_the_estimate_and_shrinks_with_n() -> None:
    widths = []
    for n in (200, 3200):
        scores, weak, strong = _data(n, 5)
        point = apgr(pair_curve(scores, weak, strong))
        lo, hi = percentile_ci(pair_bootstrap(scores, weak, strong, n_resamples=300, seed=0)["apgr"])
        assert lo < point < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2


def test_aiq_bootstrap_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(2)
    n, m = 40, 3
    scores = (rng.random((n, m)) < [0.3, 0.5, 0.7]).astype(float)
    costs = np.tile([1.0, 2.0, 5.0], (n, 1))
    predicted = scores * 0.6 + rng.random((n, m)) * 0.4
    lams = np.array([0.0, 0.05, 0.1, 0.2, 0.5, 1.0, 10.0])
    choice = policy_choices(predicted, costs, lams)
    rows = np.arange(n)
    samples = aiq_bootstrap(scores[rows, choice], costs[rows, choice], costs, n_resamples=25, seed=4)
    draws = np.random.default_rng(4).integers(0, n, size=(25, n))
    for b in range(25):
        idx = draws[b]
        c = costs[idx][np.arange(n), choice[:, idx]].mean(axis=1)
        q = scores[idx][np.arange(n), choice[:, idx]].mean(axis=1)
        expected = aiq(nondecreasing_hull(c, q), 1.0, 5.0)
        assert samples[b] == pytest.approx(expected)


def test_percentile_ci_ignores_undefined_resamples() -> None:
    assert percentile_ci([np.nan, 1.0, 2.0, 3.0], level=1.0) == (1.0, 3.0)
    lo, hi = percentile_ci([np.nan])
    assert np.isnan(lo) and np.isnan(hi)
