"""Traffic settings read from the gateway's YAML (pydantic only: imported by :mod:`wayfare.gateway.config`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
