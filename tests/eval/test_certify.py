"""Certified thresholds (wayfare.quality): the guarantee holds where the truth is known, and no evidence means no
certificate."""

from __future__ import annotations

import numpy as np
import pytest

from wayfare.eval.certify import betting_pvalue, certify_threshold
from wayfare.routers.policies import threshold_for_quality

TARGET, RISK = 0.95, 0.1


def population(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Router scores in [0, 1]; the strong model right 90% of the time; the weak one fails more as the score rises
    (the router is informative)."""
    rng = np.random.default_rng(seed)
    r = rng.random(n)
    strong = (rng.random(n) < 0.9).astype(float)
    weak = np.where(rng.random(n) < 0.97 - 0.6 * r, strong, 0.0)
    return r, strong, weak


BIG = population(400_000, 12345)


def true_ratio(threshold: float) -> float:
    r, s, w = BIG
    return float(np.where(r >= threshold, s, w).mean() / s.mean())


def test_the_certified_threshold_misses_the_target_at_most_risk_of_the_time() -> None:
    misses, point_misses, certified, shares = 0, 0, 0, []
    for seed in range(80):
        r, s, w = population(1500, seed)
        cert = certify_threshold(r, s, w, quality_target=TARGET, risk=RISK)
        point, _ = threshold_for_quality(r, s, w, TARGET)
        point_misses += true_ratio(point) < TARGET
        if cert.threshold is not None:
            certified += 1
            misses += true_ratio(cert.threshold) < TARGET
            shares.append(cert.strong_share)
            assert cert.bound >= TARGET and cert.labels == 1500
    assert certified >= 60  # the data carry enough evidence most of the time
    assert misses / 80 <= RISK
    assert point_misses / 80 > 0.25 > misses / 80  # the point estimate misses the target far more often
    assert np.mean(shares) < 0.9  # and the certificate still routes a real share to the weak model


def test_no_evidence_no_certificate() -> None:
    r, s, w = population(25, 0)
    cert = certify_threshold(r, s, w, quality_target=TARGET, risk=RISK)
    assert cert.threshold is None and cert.strong_share == 1.0 and cert.bound < TARGET
    # a useless router (scores unrelated to who fails) certifies little or nothing
    rng = np.random.default_rng(1)
    s2 = (rng.random(3000) < 0.9).astype(float)
    w2 = np.where(rng.random(3000) < 0.6, s2, 0.0)
    cert2 = certify_threshold(rng.random(3000), s2, w2, quality_target=TARGET, risk=RISK)
    assert cert2.threshold is None or cert2.strong_share > 0.8


def test_betting_pvalue_is_valid_under_the_null_and_powerful_away_from_it() -> None:
    rng = np.random.default_rng(3)
    null = [betting_pvalue(rng.random(500) < 0.5, 0.5) for _ in range(400)]
    assert np.mean(np.asarray(null) <= 0.1) <= 0.1
    assert betting_pvalue(rng.random(500) < 0.3, 0.5) < 1e-3
    stream = np.concatenate([np.zeros(50), np.ones(450)])  # looks great, then is not: only the anytime form keeps it
    assert betting_pvalue(stream, 0.5, anytime=True) < betting_pvalue(stream, 0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quality_target": 1.5}, "quality_target must be in"),
        ({"risk": 0.0}, "risk must be in"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, float], message: str) -> None:
    r, s, w = population(50, 0)
    with pytest.raises(ValueError, match=message):
        certify_threshold(r, s, w, **kwargs)
    with pytest.raises(ValueError, match="same length"):
        certify_threshold(r, s[:-1], w)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        certify_threshold(r, s * 2, w)


def test_the_streaming_test_matches_the_batch_anytime_p_value() -> None:
    from wayfare.eval.certify import SequentialTest

    xs = np.random.default_rng(5).random(300) * 0.8
    seq = SequentialTest(0.5)
    streamed = [seq.update(x) for x in xs][-1]
    assert streamed == pytest.approx(betting_pvalue(xs, 0.5, anytime=True))
