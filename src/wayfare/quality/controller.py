"""The quality-target controller: turns a stream of labelled shadow pairs into the threshold a route may use.

States:

- ``learning``: fewer than ``min_labels`` labels (or nothing certified yet): the route stays in safe mode
  (``safe_threshold``: ``None`` = everything to the strong model, or a fixed threshold the user names).
- ``certified``: a threshold certified by Learn-then-Test (:func:`wayfare.eval.certify.certify_threshold`) on the
  labels of the current window; re-certified every ``recheck_every`` new labels.
- ``backed-off``: the labels that arrived *after* the current certificate show its realised quality below the
  target, by an anytime-valid sequential test at level ``risk`` (betting, so watching every label does not inflate
  the error). The controller falls back to the last more conservative certified threshold, or to safe mode, starts a
  new window (the old labels describe traffic that has changed) and re-certifies once it has ``min_labels`` new ones.

Pure Python and NumPy: no server, no store. The gateway (or a batch job) feeds it labels and applies its decisions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np

from wayfare.eval.certify import Certificate, SequentialTest, certify_threshold, losses, null_mean, quality_ratio

LEARNING, CERTIFIED, BACKED_OFF = "learning", "certified", "backed-off"
SHARE_HYSTERESIS = 0.05  # a re-certified threshold replaces the current one only if it moves the strong share this much


@dataclass(frozen=True)
class QualityTarget:
    """A route's promise: keep ``quality_target`` x the strong model's quality, missing it with probability at most
    ``risk``; ``min_labels`` before any certificate; ``safe_threshold`` until then (``None`` = all strong)."""

    quality_target: float = 0.95
    risk: float = 0.1
    min_labels: int = 200
    recheck_every: int = 50
    safe_threshold: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.quality_target <= 1.0:
            raise ValueError(f"quality_target must be in (0, 1], got {self.quality_target}")
        if not 0.0 < self.risk < 1.0:
            raise ValueError(f"risk must be in (0, 1), got {self.risk}")
        if self.min_labels < 1 or self.recheck_every < 1:
            raise ValueError("min_labels and recheck_every must be at least 1")


@dataclass(frozen=True)
class Decision:
    """What the route does now and why. ``threshold`` is what to apply (``None``: everything to strong)."""

    state: str
    threshold: float | None
    certificate_id: str | None
    certificate: Certificate | None
    labels: int
    reason: str


@dataclass
class QualityController:
    """Feed it ``(router score, strong quality, weak quality)`` labels with :meth:`add`; read :attr:`decision`."""

    target: QualityTarget
    route: str = "auto"
    _scores: list[float] = field(default_factory=list)
    _strong: list[float] = field(default_factory=list)
    _weak: list[float] = field(default_factory=list)
    _window_start: int = 0
    _since_check: int = 0
    _monitor_start: int = 0
    _history: list[tuple[str, Certificate]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _monitor: SequentialTest | None = None
    decision: Decision = field(init=False)

    def __post_init__(self) -> None:
        self.decision = Decision(LEARNING, self.target.safe_threshold, None, None, 0, "no labels yet: safe mode")

    @property
    def labels(self) -> int:
        return len(self._scores)

    @property
    def monitor_start(self) -> int:
        """Index of the first label after the current certificate."""
        return self._monitor_start

    def add(self, score: float, strong: float, weak: float) -> Decision:
        """One labelled shadow pair; returns the (possibly new) decision."""
        for name, v in (("strong", strong), ("weak", weak)):
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} quality must be in [0, 1], got {v}")
        self._scores.append(float(score))
        self._strong.append(float(strong))
        self._weak.append(float(weak))
        self._since_check += 1
        if self.decision.state == CERTIFIED and self._drifted():
            return self.decision
        if (
            self.labels - self._window_start >= self.target.min_labels
            and self._since_check >= self.target.recheck_every
        ):
            self._recertify()
        elif self.decision.state == LEARNING:
            n = self.labels - self._window_start
            self.decision = replace(
                self.decision, labels=n, reason=f"{n} of {self.target.min_labels} labels: safe mode"
            )
        return self.decision

    def add_many(self, scores: np.ndarray, strong: np.ndarray, weak: np.ndarray) -> Decision:
        for r, s, w in zip(scores.tolist(), strong.tolist(), weak.tolist(), strict=True):
            self.add(r, s, w)
        return self.decision

    # ------------------------------------------------------------------ internals
    def _window(self, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.asarray(self._scores[start:], dtype=np.float64),
            np.asarray(self._strong[start:], dtype=np.float64),
            np.asarray(self._weak[start:], dtype=np.float64),
        )

    def _recertify(self) -> None:
        self._since_check = 0
        r, s, w = self._window(self._window_start)
        cert = certify_threshold(r, s, w, quality_target=self.target.quality_target, risk=self.target.risk)
        if cert.threshold is None:
            if self.decision.state != CERTIFIED:
                self.decision = Decision(
                    self.decision.state if self.decision.state == BACKED_OFF else LEARNING,
                    self.decision.threshold,
                    self.decision.certificate_id,
                    self.decision.certificate,
                    len(r),
                    f"nothing certified on {len(r)} labels (lower bound {cert.bound:.3f} < "
                    f"{self.target.quality_target}): "
                    + ("kept the fallback" if self.decision.state == BACKED_OFF else "safe mode"),
                )
            return
        current = self.decision.threshold
        if self.decision.state == CERTIFIED and current is not None:
            moved = abs(float(np.mean(r >= cert.threshold)) - float(np.mean(r >= current)))
            if moved < SHARE_HYSTERESIS:  # the same decision within noise: keep the certificate and its monitor
                return
        cid = f"{self.route}-c{next(self._ids)}"
        self._history.append((cid, cert))
        self._monitor_start = self.labels
        # H0: the loss is at most 0, i.e. 1 - loss is at least 1 - null_mean, tested from below
        self._monitor = SequentialTest(1.0 - null_mean(self.target.quality_target))
        self.decision = Decision(
            CERTIFIED,
            cert.threshold,
            cid,
            cert,
            len(r),
            f"certified on {len(r)} labels: quality >= {self.target.quality_target:.0%} of strong with probability "
            f">= {1 - self.target.risk:.0%} (lower bound {cert.bound:.3f}), {cert.strong_share:.0%} strong",
        )

    def _drifted(self) -> bool:
        """Sequential test on the labels since the current certificate: is its quality below the target?"""
        t = self.decision.threshold
        if t is None or self._monitor is None:
            return False
        x = losses(self._scores[-1:], self._strong[-1:], self._weak[-1:], t, self.target.quality_target)
        p = self._monitor.update(1.0 - float(x[0]))
        if p > self.target.risk:
            return False
        r, s, w = self._window(self._monitor_start)
        n = len(r)
        realised = quality_ratio(r, s, w, t)
        fallback = next(
            ((cid, c) for cid, c in reversed(self._history[:-1]) if c.threshold is not None and c.threshold < t),
            None,
        )
        why = (
            f"backed off from {self.decision.certificate_id}: {n} labels since it show realised quality "
            f"{realised:.3f} x strong, below {self.target.quality_target} (sequential test p={p:.3g} <= "
            f"{self.target.risk}); "
        )
        self._window_start = self.labels  # the traffic changed: certify again on new labels only
        self._since_check = 0
        self._monitor = None
        if fallback is not None:
            self.decision = Decision(
                BACKED_OFF, fallback[1].threshold, fallback[0], fallback[1], n, why + f"using {fallback[0]}"
            )
        else:
            self.decision = Decision(BACKED_OFF, self.target.safe_threshold, None, None, n, why + "safe mode")
        return True
