"""The quality-target controller: safe mode before evidence, a certificate once the labels carry it, back-off when the
traffic changes, and no back-off on noise."""

from __future__ import annotations

import numpy as np
import pytest

from wayfare.quality.controller import BACKED_OFF, CERTIFIED, LEARNING, QualityController, QualityTarget


def stream(n: int, seed: int, weak_good: float = 0.97) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores in [0, 1]; strong right 90%; the weak model matches it with probability weak_good - 0.6 * score."""
    rng = np.random.default_rng(seed)
    r = rng.random(n)
    s = (rng.random(n) < 0.9).astype(float)
    w = np.where(rng.random(n) < weak_good - 0.6 * r, s, 0.0)
    return r, s, w


def test_safe_mode_until_min_labels_then_a_certificate() -> None:
    ctl = QualityController(QualityTarget(min_labels=300, recheck_every=50))
    r, s, w = stream(2000, 0)
    for i in range(299):
        d = ctl.add(r[i], s[i], w[i])
        assert d.state == LEARNING and d.threshold is None
    assert "299 of 300 labels: safe mode" in d.reason
    d = ctl.add_many(r[299:], s[299:], w[299:])
    assert d.state == CERTIFIED and d.threshold is not None and d.certificate_id is not None
    assert d.certificate_id.startswith("auto-c")
    assert d.certificate is not None and d.certificate.bound >= 0.95
    assert "certified on" in d.reason


def test_a_named_safe_threshold_is_used_before_evidence() -> None:
    ctl = QualityController(QualityTarget(safe_threshold=0.8))
    assert ctl.add(0.5, 1.0, 0.0).threshold == 0.8


def test_backs_off_when_the_weak_model_gets_worse_and_recovers_on_new_labels() -> None:
    ctl = QualityController(QualityTarget(min_labels=300, recheck_every=50))
    r, s, w = stream(1500, 1)
    first = ctl.add_many(r, s, w)
    assert first.state == CERTIFIED and first.threshold is not None
    r2, s2, w2 = stream(3000, 2, weak_good=0.55)  # a new traffic mix: the weak model fails far more often
    states = []
    for i in range(len(r2)):
        states.append(ctl.add(r2[i], s2[i], w2[i]).state)
    assert BACKED_OFF in states
    backed = states.index(BACKED_OFF)
    assert backed < 600  # noticed within a few hundred labels
    assert CERTIFIED in states[backed:]  # re-certified on the new traffic's labels
    final = ctl.decision
    assert final.threshold is None or final.threshold < first.threshold  # more cautious: more prompts strong
    assert final.certificate_id not in (None, first.certificate_id)


@pytest.mark.parametrize("seed", range(3))
def test_no_back_off_on_stationary_traffic(seed: int) -> None:
    backs = 0
    for k in range(10):
        ctl = QualityController(QualityTarget(min_labels=300, recheck_every=100))
        r, s, w = stream(2500, 100 * seed + k)
        states = [ctl.add(r[i], s[i], w[i]).state for i in range(len(r))]
        backs += BACKED_OFF in states
    assert backs <= 2  # risk 0.1 per run, and the betting test is conservative


def test_bad_config_and_labels_are_refused() -> None:
    with pytest.raises(ValueError, match="risk must be in"):
        QualityTarget(risk=1.0)
    with pytest.raises(ValueError, match="min_labels"):
        QualityTarget(min_labels=0)
    with pytest.raises(ValueError, match=r"weak quality must be in \[0, 1\]"):
        QualityController(QualityTarget()).add(0.5, 1.0, 2.0)
