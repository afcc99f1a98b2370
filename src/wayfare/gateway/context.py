"""What one request carries through the gateway, from routing to its request-log record: its decision, the
caller, the ``x-wayfare-*`` headers, the cost and the one log record it writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from wayfare.gateway.retry import Attempt
from wayfare.gateway.routing import Decision
from wayfare.governance.service import Principal, Ticket
from wayfare.observability.tracing import now_ns
from wayfare.providers.base import JSON, Endpoint
from wayfare.store.record import RequestRecord

if TYPE_CHECKING:
    from wayfare.gateway.core import Gateway

_NO_SPAN = contextlib.nullcontext()


def caller_id(principal: Principal | None, headers: Mapping[str, str]) -> str | None:
    """Who sent a request, for the log and per-caller state: the virtual key's id, else a hash of the
    ``Authorization`` header (None without one)."""
    if principal is not None and principal.key_id is not None:
        return str(principal.key_id)
    auth = headers.get("authorization")
    return hashlib.sha256(auth.encode()).hexdigest()[:16] if auth else None


def fmt(x: float) -> str:
    return format(x, ".10g")


class RequestContext:
    """What one request carries from resolution to its log record."""

    __slots__ = (
        "api", "body", "chosen", "decision", "deployment", "endpoint", "gw", "principal", "request_headers",
        "request_id", "span", "surfaced", "t0", "ticket", "upstream_ms",
    )  # fmt: skip

    def __init__(
        self,
        gw: Gateway,
        endpoint: Endpoint,
        body: JSON,
        headers: Mapping[str, str],
        decision: Decision | None,
        chosen: str,
        t0: float,
    ) -> None:
        self.gw, self.endpoint, self.body, self.request_headers = gw, endpoint, body, headers
        self.decision, self.chosen, self.t0 = decision, chosen, t0
        self.request_id = "wf-" + os.urandom(8).hex()
        self.principal: Principal | None = None
        self.ticket: Ticket | None = None
        self.api: str | None = None
        self.upstream_ms: float | None = None
        self.deployment: str | None = None
        """Id of the deployment that answered (or was tried last)."""
        self.surfaced: dict[str, str] | None = None
        """Upstream response headers its provider passes on (Azure's ``x-ms-region``)."""
        self.span = gw.tracing.start_request(endpoint, headers, now_ns(t0)) if gw.tracing is not None else None

    def attempt_span(self, model: str) -> contextlib.AbstractContextManager[object]:
        """The trace span of one upstream attempt; a no-op when tracing is off."""
        tracing = self.gw.tracing
        if self.span is None or tracing is None:
            return _NO_SPAN
        cfg = self.gw.models[model]
        return tracing.upstream(self.span, model, cfg.provider, cfg.upstream_model)

    def headers_for(self, model: str) -> dict[str, str]:
        h = {"x-wayfare-model": model, "x-wayfare-request-id": self.request_id}
        if self.deployment is not None:
            h["x-wayfare-deployment"] = self.deployment
        if self.surfaced:
            h.update(self.surfaced)
        d = self.decision
        if d is not None:
            h["x-wayfare-route"] = d.route
            h["x-wayfare-decision-ms"] = f"{d.decision_ms:.3f}"
            h["x-wayfare-reason"] = d.reason
            if d.score is not None:
                h["x-wayfare-score"] = f"{d.score:.6f}"
            if d.threshold is not None:
                h["x-wayfare-threshold"] = fmt(d.threshold)
            if d.certificate is not None:
                h["x-wayfare-certificate"] = d.certificate
        return h

    def costs(self, model: str, tokens: tuple[int, int]) -> tuple[float | None, float]:
        """(cost, counterfactual cost): the same tokens at the route's most expensive candidate's prices."""
        pricing = self.gw.pricing
        cost = pricing.cost(model, *tokens, deployment=self.deployment)
        if self.decision is None:
            return cost, cost or 0.0
        reference = pricing.most_expensive(self.decision.candidates)
        counterfactual = pricing.cost(reference, *tokens)
        return cost, counterfactual if counterfactual is not None else (cost or 0.0)

    def _count_deployments(self, attempts: list[Attempt], status: int, model: str) -> None:
        metrics = self.gw.observer.metrics
        if metrics is None:
            return
        for a in attempts:
            if a.deployment is not None:
                metrics.deployment_attempt(a.model, a.deployment, a.error_class or "error")
        if status < 400 and self.deployment is not None:
            metrics.deployment_attempt(model, self.deployment, "ok")

    def log(
        self,
        *,
        status: int,
        model: str,
        attempts: list[Attempt],
        tokens: tuple[int, int] = (0, 0),
        cost: float | None = None,
        counterfactual: float = 0.0,
        error_class: str | None = None,
        stream: bool = False,
        cache_hit: bool = False,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        d = self.decision
        if error_class is None and d is not None and d.error is not None:
            error_class = f"router_error: {d.error}"[:300]
        p = self.principal
        key_id = caller_id(p, self.request_headers)
        team = p.team if p is not None and p.key_id is not None else None
        if self.ticket is not None and self.gw.gov is not None:  # replace the budget reservation by the real cost
            self.gw.gov.settle_soon(self.ticket, cost, tokens[0] + tokens[1])
        record = RequestRecord(
            request_id=self.request_id,
            chosen_model=model,
            key_id=key_id,
            team=team,
            route=d.route if d is not None else None,
            candidates=d.candidates if d is not None else [model],
            score=d.score if d is not None else None,
            threshold=d.threshold if d is not None else None,
            decision_ms=d.decision_ms if d is not None else None,
            input_tokens=tokens[0],
            output_tokens=tokens[1],
            cost_usd=cost or 0.0,
            counterfactual_cost_usd=counterfactual,
            latency_ms=(time.perf_counter() - self.t0) * 1000,
            upstream_ms=self.upstream_ms,
            status=status,
            error_class=error_class,
            attempts=len(attempts) + (1 if status < 400 else 0),
            fallback_used=model != self.chosen,
            stream=stream,
            cache_hit=cache_hit,
            session_id=d.session_id if d is not None else None,
            metadata={
                "endpoint": self.endpoint,
                **({"reason": d.reason} if d is not None else {}),
                **({"certificate": d.certificate} if d is not None and d.certificate is not None else {}),
                **({"api": self.api} if self.api else {}),
                **({"deployment": self.deployment} if self.deployment is not None else {}),
                **({"upstream_headers": self.surfaced} if self.surfaced else {}),
                **(extra or {}),
            },
        )
        with contextlib.suppress(Exception):  # observability must never fail a request
            self.gw.observer.observe(record, self.endpoint, self.body)
            self._count_deployments(attempts, status, model)
        with contextlib.suppress(Exception):  # the log must never fail a request
            self.gw.sink.submit(record)
        if self.span is not None and self.gw.tracing is not None:
            span, self.span = self.span, None
            with contextlib.suppress(Exception):  # nor must tracing
                self.gw.tracing.finish(span, record, str(self.body.get("model")))
