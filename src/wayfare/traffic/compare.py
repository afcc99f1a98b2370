"""``wayfare compare``: a candidate router against the current one on held-out labelled traffic.

Both routers score the same held-out prompts; APGR (area under the performance-gap-recovered curve, random = 0.5)
and CPT(50%) are computed with 95% bootstrap CIs (:mod:`wayfare.eval.bootstrap`). Both use the *same* resamples,
so the difference candidate - current gets a paired CI, which decides the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from wayfare.eval.bootstrap import pair_bootstrap, percentile_ci
from wayfare.eval.curves import pair_curve
from wayfare.eval.metrics import apgr, cpt


@dataclass(frozen=True)
class RouterScore:
    name: str
    apgr: float
    apgr_ci: tuple[float, float]
    cpt50: float
    cpt50_ci: tuple[float, float]


@dataclass(frozen=True)
class Comparison:
    n: int
    candidate: RouterScore
    current: RouterScore
    diff: float
    diff_ci: tuple[float, float]
    verdict: str
    """``better``, ``worse`` or ``inconclusive``."""
    statement: str
    beats_random: bool
    """The candidate's APGR CI lies above 0.5, a random router's expected APGR."""

    def to_json(self) -> dict[str, Any]:
        return {
            "held_out_prompts": self.n,
            "candidate": self.candidate.__dict__,
            "current": self.current.__dict__,
            "apgr_difference": self.diff,
            "apgr_difference_ci95": self.diff_ci,
            "verdict": self.verdict,
            "candidate_beats_random": self.beats_random,
            "statement": self.statement,
        }


def compare_scores(
    candidate: tuple[str, ArrayLike],
    current: tuple[str, ArrayLike],
    weak: ArrayLike,
    strong: ArrayLike,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Compare two routers' scores (P(strong needed)) on prompts with known weak/strong scores."""
    w = np.asarray(weak, dtype=np.float64)
    s = np.asarray(strong, dtype=np.float64)
    if np.allclose(w, s):
        raise ValueError("the strong and weak models score the same on every held-out prompt: nothing to compare on")
    results = []
    samples = []
    for name, scores in (candidate, current):
        x = np.asarray(scores, dtype=np.float64)
        curve = pair_curve(x, w, s)
        boot = pair_bootstrap(x, w, s, cpt_levels=(0.5,), n_resamples=n_resamples, seed=seed)
        samples.append(boot["apgr"])
        results.append(
            RouterScore(name, apgr(curve), percentile_ci(boot["apgr"]), cpt(curve, 0.5), percentile_ci(boot["cpt50"]))
        )
    cand, cur = results
    diff_ci = percentile_ci(samples[0] - samples[1])  # same seed: resample b is the same prompts for both
    diff = cand.apgr - cur.apgr
    n = len(w)
    if diff_ci[0] > 0:
        verdict = "better"
        statement = (
            f"{cand.name} is better than {cur.name}: APGR {cand.apgr:.3f} vs {cur.apgr:.3f}, difference {diff:+.3f} "
            f"(95% CI {diff_ci[0]:+.3f} to {diff_ci[1]:+.3f}) on {n} held-out prompts. Promote it."
        )
    elif diff_ci[1] < 0:
        verdict = "worse"
        statement = (
            f"{cand.name} is worse than {cur.name}: APGR {cand.apgr:.3f} vs {cur.apgr:.3f}, difference {diff:+.3f} "
            f"(95% CI {diff_ci[0]:+.3f} to {diff_ci[1]:+.3f}) on {n} held-out prompts. Keep the current router."
        )
    else:
        verdict = "inconclusive"
        statement = (
            f"No significant difference: APGR {cand.apgr:.3f} ({cand.name}) vs {cur.apgr:.3f} ({cur.name}), "
            f"difference {diff:+.3f} (95% CI {diff_ci[0]:+.3f} to {diff_ci[1]:+.3f}) on {n} held-out prompts. "
            "Label more traffic before switching."
        )
    beats_random = cand.apgr_ci[0] > 0.5
    statement += f" Against a random router (APGR 0.5 in expectation) {cand.name} is " + (
        "better with 95% confidence." if beats_random else "not significantly better."
    )
    return Comparison(n, cand, cur, diff, diff_ci, verdict, statement, beats_random)
