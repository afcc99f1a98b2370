"""The two evidence blocks of a pair route in the gateway's YAML: ``shadow:`` (answer pairs from live traffic,
run by :mod:`wayfare.traffic.shadow`) and ``quality:`` (a certified quality target, run by
:mod:`wayfare.quality.runner`). Pydantic only: part of :mod:`wayfare.gateway.config`, below the parts that use them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ShadowConfig(BaseModel):
    """``shadow: {sample: 0.05}`` on a pair route: for that fraction of routed requests the gateway also calls the
    model the router did *not* pick, after the client's response is complete, and stores both answers in
    ``shadow_pairs`` for ``wayfare label``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample: float = Field(ge=0, le=1)
    """Fraction of the route's successful, non-streamed chat requests that are shadowed."""
    max_concurrency: int = Field(default=4, ge=1, le=256)
    """Shadow calls in flight at once (per gateway process); a request sampled while all are busy is skipped."""
    timeout: float = Field(default=120.0, gt=0)
    """Seconds per attempt of the shadow call. It goes through the model's deployments and retries like a client's
    request (``retry.deadline`` bounds all attempts together), never to a fallback model."""


class QualityConfig(BaseModel):
    """A route that proves its quality: ``quality: {quality_target: 0.95, risk: 0.1, min_labels: 200}``.

    The evidence is the route's labelled shadow pairs (``shadow: {sample: ...}`` on the same route), labelled by
    ``judge`` (a configured model the gateway asks itself), or by ``wayfare label`` / user feedback. Until a
    threshold is certified on them the route is in ``safe_mode``: ``strong`` (every request to the strong model) or
    a threshold in [0, 1] the user names.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    quality_target: float = Field(default=0.95, gt=0, le=1)
    """Fraction of the strong model's mean quality the route keeps on its own traffic."""
    risk: float = Field(default=0.1, gt=0, lt=1)
    """Allowed probability that the certified threshold misses ``quality_target``."""
    min_labels: int = Field(default=200, ge=10)
    """Labelled pairs needed before any certificate."""
    recheck_every: int = Field(default=50, ge=1)
    """Re-certify after this many new labels."""
    period_seconds: float = Field(default=30.0, gt=0)
    """How often the gateway reads new labels from the store and applies the controller's decision."""
    judge: str | None = None
    """A configured model that labels the route's new shadow pairs itself (pairwise, in both orders), off the request
    path; without it, label them with ``wayfare label`` or user feedback."""
    label_batch: int = Field(default=200, ge=1, le=10_000)
    """With ``judge``: at most this many pairs labelled per check."""
    safe_mode: Literal["strong"] | float = "strong"
    """What the route does before it has a certificate (and after backing off with nothing to fall back to)."""

    @field_validator("safe_mode")
    @classmethod
    def _threshold(cls, v: str | float) -> str | float:
        if not isinstance(v, str) and not 0.0 <= v <= 1.0:
            raise ValueError("must be 'strong' or a threshold in [0, 1]")
        return v

    @property
    def safe_threshold(self) -> float | None:
        return None if self.safe_mode == "strong" else float(self.safe_mode)
