"""The gateway's one observability seam: every request-log record passes through :meth:`Observer.observe` just
before it is submitted to the log, which fills the prompt preview and feeds the metrics and the dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wayfare.observability.config import ObservabilityConfig
from wayfare.observability.live import LiveView
from wayfare.observability.metrics import GatewayMetrics
from wayfare.observability.preview import make_preview, request_prompt
from wayfare.observability.tracing import Tracing
from wayfare.store.record import RequestRecord


class Observer:
    """Metrics (when enabled), the live view and prompt previews of one gateway process."""

    def __init__(self, config: ObservabilityConfig | None = None) -> None:
        self.config = config if config is not None else ObservabilityConfig()
        c = self.config
        self.metrics = GatewayMetrics() if c.metrics else None
        self.live = LiveView(size=c.live_decisions, bucket_s=c.timeline_bucket_s, keep_s=c.timeline_hours * 3600)
        self._preview = c.prompt_preview != "off" and c.preview_chars > 0
        self.tracing = Tracing(c.tracing) if c.tracing.enabled else None

    def observe(self, record: RequestRecord, endpoint: str, body: Mapping[str, Any]) -> None:
        if self._preview and record.prompt_preview is None:
            record.prompt_preview = make_preview(
                request_prompt(endpoint, body), self.config.prompt_preview, self.config.preview_chars
            )
        if self.metrics is not None:
            self.metrics.observe(record)
        self.live.add(record)

    def aclose(self) -> None:
        if self.tracing is not None:
            self.tracing.shutdown()

    def set_thresholds(self, thresholds: Mapping[str, float]) -> None:
        if self.metrics is not None:
            for route, t in thresholds.items():
                self.metrics.threshold.labels(route).set(t)
