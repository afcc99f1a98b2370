"""Opt-in OpenTelemetry traces: one SERVER span per request, one CLIENT child span per upstream attempt.

Switched on by ``observability: {tracing: {enabled: true}}``; needs ``pip install 'wayfare[otel]'``. Spans go to
an OTLP/HTTP collector (``endpoint``, else ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``,
else ``http://127.0.0.1:4318/v1/traces``) through a batch processor, off the request path. An incoming W3C
``traceparent`` header makes the request span a child of the caller's trace. When tracing is off nothing here is
imported and the request path pays one ``is None`` check.

Attributes follow OpenTelemetry's GenAI conventions where one exists (``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.*``) and use ``wayfare.*`` for the routing decision: route, score,
threshold, decision time, reason, cost, saving, cache hit, fallback.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from wayfare.store.record import RequestRecord

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

DEFAULT_ENDPOINT = "http://127.0.0.1:4318/v1/traces"
_OPERATION = {"chat": "chat", "completions": "text_completion", "embeddings": "embeddings"}


class TracingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    endpoint: str | None = None
    """OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces (default: the OTEL_* variables, then
    http://127.0.0.1:4318/v1/traces)."""
    service_name: str = "wayfare"
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    """Share of new traces recorded; a sampled incoming ``traceparent`` is always followed."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP headers for the collector (e.g. an API key)."""


def resolve_endpoint(config: TracingConfig) -> str:
    if config.endpoint:
        return config.endpoint
    if env := os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return env
    if env := os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return env.rstrip("/") + "/v1/traces"
    return DEFAULT_ENDPOINT


class Tracing:
    """The gateway's tracer: a provider of its own (the process-global one is left alone), OTLP/HTTP export."""

    def __init__(self, config: TracingConfig) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "observability.tracing is enabled but OpenTelemetry is not installed: pip install 'wayfare[otel]'"
            ) from exc
        from wayfare._version import __version__

        self.endpoint = resolve_endpoint(config)
        resource = Resource.create({"service.name": config.service_name, "service.version": __version__})
        self.provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)))
        exporter = OTLPSpanExporter(endpoint=self.endpoint, headers=dict(config.headers) or None)
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer: Tracer = self.provider.get_tracer("wayfare.gateway", __version__)
        self._propagator = TraceContextTextMapPropagator()

    def start_request(self, endpoint: str, headers: Mapping[str, str], start_ns: int) -> Span:
        """The request's SERVER span, child of the caller's ``traceparent`` when there is one."""
        from opentelemetry.trace import SpanKind

        parent = self._propagator.extract(headers) if "traceparent" in headers else None
        span = self.tracer.start_span(
            f"POST /v1/{'chat/completions' if endpoint == 'chat' else endpoint}",
            context=parent,
            kind=SpanKind.SERVER,
            start_time=start_ns,
            attributes={"gen_ai.operation.name": _OPERATION.get(endpoint, endpoint), "http.request.method": "POST"},
        )
        return span

    @contextmanager
    def upstream(self, parent: Span, model: str, provider: str, upstream_model: str) -> Iterator[Span]:
        """A CLIENT span around one upstream attempt; an exception marks it as an error and propagates."""
        from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

        with self.tracer.start_as_current_span(
            f"upstream {model}",
            context=set_span_in_context(parent),
            kind=SpanKind.CLIENT,
            attributes={"gen_ai.system": provider, "gen_ai.request.model": upstream_model, "wayfare.model": model},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as exc:
                error_class = getattr(exc, "error_class", None) or type(exc).__name__
                span.set_attribute("error.type", str(error_class))
                span.set_status(Status(StatusCode.ERROR, str(getattr(exc, "message", exc))[:200]))
                raise

    def finish(self, span: Span, record: RequestRecord, requested_model: str) -> None:
        """Fill the request span from its log record and end it."""
        from opentelemetry.trace import Status, StatusCode

        attrs: dict[str, Any] = {
            "gen_ai.request.model": requested_model,
            "gen_ai.response.model": record.chosen_model,
            "gen_ai.usage.input_tokens": record.input_tokens,
            "gen_ai.usage.output_tokens": record.output_tokens,
            "http.response.status_code": record.status,
            "wayfare.request_id": record.request_id,
            "wayfare.cost_usd": record.cost_usd,
            "wayfare.saved_usd": record.savings_usd,
            "wayfare.attempts": record.attempts,
            "wayfare.fallback_used": record.fallback_used,
            "wayfare.cache_hit": record.cache_hit,
            "wayfare.stream": record.stream,
        }
        if record.route is not None:
            attrs["wayfare.route"] = record.route
            attrs["wayfare.candidates"] = list(record.candidates)
            if record.score is not None:
                attrs["wayfare.router.score"] = record.score
            if record.threshold is not None:
                attrs["wayfare.router.threshold"] = record.threshold
            if record.decision_ms is not None:
                attrs["wayfare.router.decision_ms"] = record.decision_ms
            if reason := record.metadata.get("reason"):
                attrs["wayfare.router.reason"] = str(reason)
        if record.key_id is not None:
            attrs["wayfare.key_id"] = record.key_id
        if record.team is not None:
            attrs["wayfare.team"] = record.team
        if record.error_class is not None:
            attrs["error.type"] = record.error_class
        span.set_attributes(attrs)
        if record.status >= 500:
            span.set_status(Status(StatusCode.ERROR, record.error_class or str(record.status)))
        span.end()

    def shutdown(self) -> None:
        """Flush what is queued (bounded by the exporter's timeout) and stop the export thread."""
        self.provider.shutdown()


def now_ns(t0_perf: float) -> int:
    """Wall-clock nanoseconds of a past ``time.perf_counter()`` reading."""
    return time.time_ns() - int((time.perf_counter() - t0_perf) * 1e9)
