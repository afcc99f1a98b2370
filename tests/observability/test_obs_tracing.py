"""OpenTelemetry traces from a real gateway to a real OTLP/HTTP receiver on 127.0.0.1: one server span per request
with the routing decision, a client child span per upstream attempt, the caller's traceparent followed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from wayfare.gateway.config import parse_config
from wayfare.gateway.testing import GatewayStack
from wayfare.mockllm.faults import FaultPlan
from wayfare.observability.tracing import TracingConfig, resolve_endpoint


class Collector:
    """An OTLP/HTTP traces endpoint: decodes each protobuf export and keeps the spans."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.resources: list[dict[str, Any]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                req = ExportTraceServiceRequest()
                req.ParseFromString(body)
                for rs in req.resource_spans:
                    collector.resources.append({a.key: _value(a.value) for a in rs.resource.attributes})
                    for ss in rs.scope_spans:
                        collector.spans.extend(ss.spans)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def __enter__(self) -> Collector:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def attrs(span: Span) -> dict[str, Any]:
    return {a.key: _value(a.value) for a in span.attributes}


CONFIG = """
models:
  - {{name: strong, model: up-strong, base_url: {url}, input_price: 10, output_price: 30}}
  - {{name: weak, model: up-weak, base_url: {url}, input_price: 0.5, output_price: 1.5}}
  - {{name: primary, model: up-fail, base_url: {url}, input_price: 1, output_price: 2}}
  - {{name: backup, model: up-backup, base_url: {url}, input_price: 1, output_price: 2}}
routes:
  - {{name: auto, router: random, strong: strong, weak: weak, threshold: 0.5}}
fallbacks:
  primary: [backup]
retry: {{max_retries: 0, backoff_base: 0.01, deadline: 10, cooldown_failures: 1000}}
database_url: none
observability: {{tracing: {{enabled: true, endpoint: "ENDPOINT", service_name: wayfare-test}}}}
"""

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def traced() -> Iterator[tuple[Collector, list[str]]]:
    """Sends a routed request (with a caller traceparent), a request whose primary fails over to its fallback,
    and a streamed request; stops the gateway (which flushes the spans) and hands the collector over."""
    ids: list[str] = []
    with Collector() as collector:
        config = CONFIG.replace("ENDPOINT", collector.url)
        faults = FaultPlan()
        faults.add("up-fail", "500", times=-1)
        with GatewayStack(config, faults=faults) as s, httpx.Client(base_url=s.base_url, timeout=10) as c:
            r = c.post(
                "/chat/completions",
                json={"model": "auto", "messages": [{"role": "user", "content": "trace me"}]},
                headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
            )
            assert r.status_code == 200, r.text
            ids.append(r.headers["x-wayfare-request-id"])
            r = c.post("/chat/completions", json={"model": "primary", "messages": [{"role": "user", "content": "x"}]})
            assert r.status_code == 200, r.text
            ids.append(r.headers["x-wayfare-request-id"])
            with c.stream(
                "POST",
                "/chat/completions",
                json={"model": "weak", "stream": True, "messages": [{"role": "user", "content": "s"}]},
            ) as r:
                assert r.status_code == 200
                ids.append(r.headers["x-wayfare-request-id"])
                r.read()
        yield collector, ids


def _request_span(collector: Collector, request_id: str) -> Span:
    found = [s for s in collector.spans if attrs(s).get("wayfare.request_id") == request_id]
    assert len(found) == 1, f"{len(found)} spans for {request_id}"
    return found[0]


def _children(collector: Collector, parent: Span) -> list[Span]:
    return [s for s in collector.spans if s.parent_span_id == parent.span_id and s.trace_id == parent.trace_id]


def test_routed_request_span_carries_the_decision_and_joins_the_callers_trace(
    traced: tuple[Collector, list[str]],
) -> None:
    collector, ids = traced
    span = _request_span(collector, ids[0])
    a = attrs(span)
    assert span.name == "POST /v1/chat/completions"
    assert span.kind == Span.SPAN_KIND_SERVER
    assert span.trace_id.hex() == CALLER_TRACE and span.parent_span_id.hex() == CALLER_SPAN
    assert a["gen_ai.request.model"] == "auto"
    assert a["gen_ai.response.model"] in ("strong", "weak")
    assert a["wayfare.route"] == "auto" and a["wayfare.router.threshold"] == 0.5
    assert 0.0 <= a["wayfare.router.score"] <= 1.0
    assert (a["wayfare.router.score"] >= 0.5) == (a["gen_ai.response.model"] == "strong")
    assert a["wayfare.router.decision_ms"] >= 0 and a["http.response.status_code"] == 200
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert a["wayfare.cost_usd"] > 0
    (child,) = _children(collector, span)
    assert child.kind == Span.SPAN_KIND_CLIENT
    assert child.name == f"upstream {a['gen_ai.response.model']}"
    assert attrs(child)["gen_ai.request.model"] == "up-" + a["gen_ai.response.model"]
    assert span.start_time_unix_nano <= child.start_time_unix_nano <= child.end_time_unix_nano
    assert child.end_time_unix_nano <= span.end_time_unix_nano
    assert collector.resources[0]["service.name"] == "wayfare-test"


def test_every_attempt_is_a_child_span_and_the_failed_one_is_an_error(traced: tuple[Collector, list[str]]) -> None:
    collector, ids = traced
    span = _request_span(collector, ids[1])
    a = attrs(span)
    assert a["gen_ai.request.model"] == "primary" and a["gen_ai.response.model"] == "backup"
    assert a["wayfare.fallback_used"] is True and a["wayfare.attempts"] == 2
    assert span.parent_span_id == b"" and span.status.code != Status.STATUS_CODE_ERROR
    children = sorted(_children(collector, span), key=lambda s: s.start_time_unix_nano)
    assert [c.name for c in children] == ["upstream primary", "upstream backup"]
    assert children[0].status.code == Status.STATUS_CODE_ERROR and attrs(children[0])["error.type"]
    assert children[1].status.code != Status.STATUS_CODE_ERROR


def test_streamed_request_span_ends_with_the_stream(traced: tuple[Collector, list[str]]) -> None:
    collector, ids = traced
    span = _request_span(collector, ids[2])
    a = attrs(span)
    assert a["wayfare.stream"] is True and a["gen_ai.usage.output_tokens"] > 0
    (child,) = _children(collector, span)
    assert child.end_time_unix_nano <= span.end_time_unix_nano


def test_tracing_is_off_by_default_and_endpoint_falls_back_to_the_otel_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = parse_config("models: [{name: m, model: m, base_url: 'http://127.0.0.1:9'}]\ndatabase_url: none\n")
    assert config.observability.tracing.enabled is False
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert resolve_endpoint(TracingConfig(enabled=True)) == "http://collector:4318/v1/traces"
    assert resolve_endpoint(TracingConfig(enabled=True, endpoint="http://x/v1/traces")) == "http://x/v1/traces"


def test_a_bad_tracing_setting_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="sample_ratio"):
        parse_config(
            "models: [{name: m, model: m, base_url: 'http://127.0.0.1:9'}]\n"
            "observability: {tracing: {enabled: true, sample_ratio: 2}}\n"
        )
