"""The ``observability:`` section of the gateway config: metrics, prompt previews, the dashboard's data."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wayfare.observability.tracing import TracingConfig


class ObservabilityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics: bool = True
    """Serve Prometheus metrics at ``/metrics``."""
    metrics_auth: bool = False
    """``/metrics`` answers only with the master key (``Authorization: Bearer <master key>``; Prometheus:
    ``authorization: {credentials_file: ...}``). Off by default, as scrapers expect; the metrics hold route and model
    names, spend and savings, never prompts or keys."""
    prompt_preview: Literal["off", "redacted", "full"] = "redacted"
    """What the dashboard and the request log keep of each prompt: nothing, a preview with e-mail addresses,
    long digit runs and key-like tokens masked, or the plain preview (both cut to ``preview_chars``)."""
    preview_chars: int = Field(default=80, ge=0, le=2000)
    live_decisions: int = Field(default=500, gt=0, le=100_000)
    """How many recent decisions the dashboard keeps in memory (per replica)."""
    timeline_bucket_s: int = Field(default=60, gt=0)
    timeline_hours: float = Field(default=24.0, gt=0)
    eval_dir: str | None = None
    """An output folder of ``wayfare share`` (share.json) or ``wayfare eval`` (metrics.json) shown at /ui."""
    tracing: TracingConfig = TracingConfig()
    """OpenTelemetry traces (opt-in): one span per request, one child span per upstream attempt."""
