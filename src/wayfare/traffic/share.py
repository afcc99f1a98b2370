"""The routable share of a labelled sample, with a 95% Wilson score interval (scipy)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import binomtest

from wayfare.traffic.labels import Label


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n."""
    if n == 0:
        return (0.0, 1.0)
    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return (float(ci.low), float(ci.high))


@dataclass(frozen=True)
class ShareEstimate:
    n: int
    routable: int
    neither: int
    share: float
    ci: tuple[float, float]
    neither_share: float
    neither_ci: tuple[float, float]
    no_loss_share: float
    """routable + neither: the share the weak model can take without losing quality (the oracle's weak share)."""
    no_loss_ci: tuple[float, float]
    methods: dict[str, int]
    tolerance: float
    pass_mark: float

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "routable": self.routable,
            "share": self.share,
            "ci95": list(self.ci),
            "neither": self.neither,
            "neither_share": self.neither_share,
            "neither_ci95": list(self.neither_ci),
            "no_loss_share": self.no_loss_share,
            "no_loss_ci95": list(self.no_loss_ci),
            "labelled_by": self.methods,
            "tolerance": self.tolerance,
            "pass_mark": self.pass_mark,
        }


def routable_share(labels: Sequence[Label], tolerance: float = 0.0, pass_mark: float = 0.5) -> ShareEstimate:
    """Share of prompts whose weak answer is good enough (see :meth:`Label.routable`), with Wilson CIs."""
    n = len(labels)
    if n == 0:
        raise ValueError("no labelled prompts: cannot estimate a routable share")
    k = sum(lab.routable(tolerance, pass_mark) for lab in labels)
    both_bad = sum(lab.neither(pass_mark) and not lab.routable(tolerance, pass_mark) for lab in labels)
    return ShareEstimate(
        n=n,
        routable=k,
        neither=both_bad,
        share=k / n,
        ci=wilson(k, n),
        neither_share=both_bad / n,
        neither_ci=wilson(both_bad, n),
        no_loss_share=(k + both_bad) / n,
        no_loss_ci=wilson(k + both_bad, n),
        methods=dict(Counter(lab.method for lab in labels)),
        tolerance=tolerance,
        pass_mark=pass_mark,
    )
