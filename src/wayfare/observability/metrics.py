"""Prometheus metrics of one gateway process, updated from each request-log record.

Labels stay low-cardinality: ``route`` is a configured route name (``router-<router>-<threshold>`` names are folded
into ``router-<router>``), ``model`` a configured model, ``status`` an HTTP status code. Keys are never labels.
Label children are bound once per (route, model, status) and cached, so a request costs a dict lookup and a few
counter increments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from wayfare.store.record import RequestRecord

CONTENT_TYPE = CONTENT_TYPE_LATEST
GOVERNANCE_REJECTIONS = {"budget_exceeded": "budget", "rate_limit_exceeded": "rate_limit"}
_ROUTER_NAME = re.compile(r"^(router-.+)-(?:0|1)?(?:\.\d+)?$")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_DECISION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)


def route_label(route: str | None) -> str:
    """The ``route`` label of a record: ``""`` for a direct model call, ``router-<router>`` for RouteLLM-style
    names (their threshold would make the label unbounded), else the route name."""
    if route is None:
        return ""
    m = _ROUTER_NAME.match(route)
    return m.group(1) if m is not None else route


@dataclass(slots=True)
class _Children:
    requests: Any
    latency: Any
    cost: Any
    counterfactual: Any
    savings: Any
    overspend: Any
    tokens_in: Any
    tokens_out: Any


class GatewayMetrics:
    """The metric families of one gateway, in their own registry (several gateways can live in one process)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "wayfare_requests",
            "Requests logged, by route, answering model, HTTP status and API (chat, completions, embeddings, "
            "messages, responses).",
            ["route", "model", "status", "endpoint"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "wayfare_request_duration_seconds", "Time from request to response end (streams: to the last chunk).",
            ["route"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.upstream_latency = Histogram(
            "wayfare_upstream_duration_seconds",
            "Time in upstream calls until the answer (streams: first chunk), retries and fallbacks included.",
            ["model"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.decision_latency = Histogram(
            "wayfare_decision_duration_seconds", "Router scoring time of routed requests.",
            ["route"], buckets=_DECISION_BUCKETS, registry=r,
        )  # fmt: skip
        self.routed = Counter(
            "wayfare_routed_requests", "Routed requests by route, chosen model and reason (router, session, pinned_*).",
            ["route", "model", "reason"], registry=r,
        )  # fmt: skip
        self.cost = Counter("wayfare_cost_usd", "Spend in USD.", ["route", "model"], registry=r)
        self.counterfactual = Counter(
            "wayfare_counterfactual_cost_usd", "What the route's dearest candidate would have cost (USD).",
            ["route", "model"], registry=r,
        )  # fmt: skip
        self.savings = Counter(
            "wayfare_savings_usd", "Counterfactual minus actual cost, requests that saved (USD).",
            ["route", "model"], registry=r,
        )  # fmt: skip
        self.overspend = Counter(
            "wayfare_overspend_usd", "Actual minus counterfactual cost, requests that cost more (USD).",
            ["route", "model"], registry=r,
        )  # fmt: skip
        self.tokens = Counter("wayfare_tokens", "Tokens by direction.", ["route", "model", "direction"], registry=r)
        self.upstream_errors = Counter(
            "wayfare_upstream_errors", "Requests that failed upstream after retries and fallbacks, by error class.",
            ["model", "error_class"], registry=r,
        )  # fmt: skip
        self.retries = Counter(
            "wayfare_retries", "Extra upstream attempts (retries on a deployment and fallback attempts).",
            ["model"], registry=r,
        )  # fmt: skip
        self.fallbacks = Counter(
            "wayfare_fallbacks", "Requests answered (or last tried) by a fallback model.", ["model"], registry=r
        )
        self.cache_hits = Counter("wayfare_cache_hits", "Responses served from the cache.", ["route"], registry=r)
        self.semantic_cache = Counter(
            "wayfare_semantic_cache_lookups",
            "Semantic cache lookups by result (hit, miss).",
            ["route", "result"],
            registry=r,
        )
        self.rejections = Counter(
            "wayfare_rejections", "Requests refused by governance (budget, rate_limit).", ["reason"], registry=r
        )
        self.router_errors = Counter(
            "wayfare_router_errors", "Routed requests whose router failed (the strong model answered).",
            ["route"], registry=r,
        )  # fmt: skip
        self.threshold = Gauge("wayfare_route_threshold", "Current threshold of each route.", ["route"], registry=r)
        self.quality_bound = Gauge(
            "wayfare_quality_certified_bound",
            "Quality-target routes: lower confidence bound of the route's quality / the strong model's (certified).",
            ["route"], registry=r,
        )  # fmt: skip
        self.quality_realised = Gauge(
            "wayfare_quality_realised",
            "Quality-target routes: quality / the strong model's on the labels since the current certificate.",
            ["route"], registry=r,
        )  # fmt: skip
        self.quality_labels = Gauge(
            "wayfare_quality_labels", "Quality-target routes: labelled pairs the decision used.", ["route"], registry=r
        )
        self.quality_state = Gauge(
            "wayfare_quality_state", "Quality-target routes: 1 for the current state (learning, certified, "
            "backed-off).", ["route", "state"], registry=r,
        )  # fmt: skip
        self.deployment_attempts = Counter(
            "wayfare_deployment_attempts", "Upstream attempts per deployment of a model, by outcome (ok or the "
            "error class).", ["model", "deployment", "outcome"], registry=r,
        )  # fmt: skip
        self._children: dict[tuple[str, str, int, str], _Children] = {}
        self._attempts: dict[tuple[str, str, str], Any] = {}

    def deployment_attempt(self, model: str, deployment: str, outcome: str) -> None:
        """Count one upstream attempt on a deployment (``ok`` or its error class)."""
        key = (model, deployment, outcome)
        child = self._attempts.get(key)
        if child is None:
            child = self._attempts[key] = self.deployment_attempts.labels(model, deployment, outcome)
        child.inc()

    def _bind(self, route: str, model: str, status: int, endpoint: str) -> _Children:
        c = _Children(
            requests=self.requests.labels(route, model, str(status), endpoint),
            latency=self.latency.labels(route),
            cost=self.cost.labels(route, model),
            counterfactual=self.counterfactual.labels(route, model),
            savings=self.savings.labels(route, model),
            overspend=self.overspend.labels(route, model),
            tokens_in=self.tokens.labels(route, model, "input"),
            tokens_out=self.tokens.labels(route, model, "output"),
        )
        self._children[(route, model, status, endpoint)] = c
        return c

    def observe(self, rec: RequestRecord) -> None:
        """Count one request-log record."""
        route = route_label(rec.route)
        model = rec.chosen_model
        endpoint = str(rec.metadata.get("api") or rec.metadata.get("endpoint") or "chat")
        c = self._children.get((route, model, rec.status, endpoint)) or self._bind(route, model, rec.status, endpoint)
        c.requests.inc()
        c.latency.observe(rec.latency_ms / 1000.0)
        if rec.cost_usd:
            c.cost.inc(rec.cost_usd)
        if rec.counterfactual_cost_usd:
            c.counterfactual.inc(rec.counterfactual_cost_usd)
        saved = rec.counterfactual_cost_usd - rec.cost_usd
        if saved > 0:
            c.savings.inc(saved)
        elif saved < 0:
            c.overspend.inc(-saved)
        if rec.input_tokens:
            c.tokens_in.inc(rec.input_tokens)
        if rec.output_tokens:
            c.tokens_out.inc(rec.output_tokens)
        if rec.upstream_ms is not None:
            self.upstream_latency.labels(model).observe(rec.upstream_ms / 1000.0)
        err = rec.error_class
        if err is not None:
            rejected = GOVERNANCE_REJECTIONS.get(err)
            if rejected is not None:
                self.rejections.labels(rejected).inc()
                return  # never reached an upstream or a router
            if err.startswith("router_error"):
                self.router_errors.labels(route).inc()
            elif rec.status >= 400:
                self.upstream_errors.labels(model, err.split(":", 1)[0][:40]).inc()
        if rec.route is not None:
            reason = rec.metadata.get("reason", "router")
            self.routed.labels(route, model, str(reason)).inc()
            if rec.decision_ms:
                self.decision_latency.labels(route).observe(rec.decision_ms / 1000.0)
        if rec.attempts > 1:
            self.retries.labels(model).inc(rec.attempts - 1)
        if rec.fallback_used:
            self.fallbacks.labels(model).inc()
        if rec.cache_hit:
            self.cache_hits.labels(route).inc()
        semantic = rec.metadata.get("cache")
        if semantic in ("semantic", "semantic-miss"):
            self.semantic_cache.labels(route, "hit" if rec.cache_hit else "miss").inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
