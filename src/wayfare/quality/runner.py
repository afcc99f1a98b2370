"""The gateway side of quality targets: read each quality route's labels from the store, run the controller, store
and apply its decision. Off the request path (a background task; the database and the replay run in a thread).

Every replica replays the same labels in the same order, so they reach the same decision; the store keeps one row
per decision (unique index) and every replica applies the newest, at start-up too (a restart keeps the certificate).
Applying a decision sets the route's threshold in :attr:`wayfare.gateway.routing.Router.quality` (one dict
assignment on the event loop): requests resolved after it use the new threshold and carry its certificate id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from wayfare.eval.certify import quality_ratio
from wayfare.gateway.route_settings import QualityConfig
from wayfare.quality.controller import CERTIFIED, Decision, QualityController, QualityTarget
from wayfare.quality.store import Evidence, label_count, labelled_pairs, latest_decisions, record_decision
from wayfare.traffic.share import wilson

log = logging.getLogger("wayfare.quality")


@dataclass(frozen=True)
class RouteQuality:
    """What a quality route applies now (``threshold`` 0 = everything strong)."""

    state: str
    threshold: float
    certificate_id: str | None
    labels: int
    bound: float | None
    realised: float | None
    reason: str

    @property
    def header(self) -> str:
        """``x-wayfare-certificate``: the certificate id, or the state when there is none."""
        return self.certificate_id or self.state


def replay(config: QualityConfig, route: str, evidence: Evidence) -> QualityController:
    target = QualityTarget(
        quality_target=config.quality_target,
        risk=config.risk,
        min_labels=config.min_labels,
        recheck_every=config.recheck_every,
        safe_threshold=config.safe_threshold,
    )
    ctl = QualityController(target, route=route)
    ctl.add_many(evidence.scores, evidence.strong, evidence.weak)
    return ctl


def realised_since(ctl: QualityController, evidence: Evidence) -> float | None:
    """Quality / strong on the labels since the current certificate, at its threshold."""
    d = ctl.decision
    start = ctl.monitor_start
    if d.state != CERTIFIED or d.threshold is None or start >= len(evidence):
        return None
    r, s, w = evidence.scores[start:], evidence.strong[start:], evidence.weak[start:]
    return quality_ratio(r, s, w, d.threshold) if s.mean() > 0 else None


def projected_saving(d: Decision, evidence: Evidence, prices: tuple[float, float] | None) -> dict[str, Any]:
    """Share of labelled prompts the threshold sends weak (Wilson 95% CI) and the cost saving it implies at the
    models' mean list prices (no bound: a measurement on the labels, not a promise)."""
    n = len(evidence)
    if d.threshold is None or n == 0:
        return {"weak_share": 0.0, "weak_share_ci": [0.0, 0.0], "saving": 0.0, "saving_ci": [0.0, 0.0]}
    k = int(np.sum(evidence.scores < d.threshold))
    p = k / n
    lo, hi = wilson(k, n)
    out: dict[str, Any] = {"weak_share": round(p, 4), "weak_share_ci": [round(lo, 4), round(hi, 4)], "labels": n}
    if prices is not None and prices[0] > 0:
        frac = 1.0 - prices[1] / prices[0]
        out.update(saving=round(p * frac, 4), saving_ci=[round(lo * frac, 4), round(hi * frac, 4)])
    return out


class QualityRunner:
    """Runs the controller of every route with ``quality:`` and applies its decisions to the gateway's router."""

    def __init__(self, gateway: Any, engine: sa.Engine, routes: dict[str, QualityConfig]) -> None:
        self.gateway = gateway
        self.engine = engine
        self.routes = routes
        self.errors: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._due: dict[str, float] = {name: 0.0 for name in routes}
        self._replayed: dict[str, tuple[int, list[str], QualityController]] = {}
        """Route -> (labelled pairs counted at the last replay, request ids fed, controller): with no new label
        nothing is replayed; new labels that extend the sequence are fed incrementally."""
        self._collector: Any = None
        self.labelled = 0
        """Pairs this replica's judge calls labelled."""

    @classmethod
    def for_gateway(cls, gateway: Any) -> QualityRunner | None:
        routes = {r.name: r.quality for r in gateway.config.routes if r.quality is not None}
        engine = getattr(getattr(gateway.sink, "store", None), "engine", None)
        if not routes or engine is None:
            return None
        return cls(gateway, engine, routes)

    async def start(self) -> None:
        """Apply the stored decisions (or safe mode) before the first request, then check on each route's period."""
        stored = await asyncio.to_thread(latest_decisions, self.engine, list(self.routes))
        for name, cfg in self.routes.items():
            row = stored.get(name)
            if row is None:
                self.apply(name, RouteQuality("learning", self._safe(cfg), None, 0, None, None, "no decision yet"))
            else:
                self.apply(name, self._from_row(cfg, row))
        self._task = asyncio.get_running_loop().create_task(self._poll())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _poll(self) -> None:
        while True:
            now = time.monotonic()
            for name in self.routes:
                if now >= self._due[name]:
                    self._due[name] = now + self.routes[name].period_seconds
                    try:
                        await self.check(name)
                    except Exception as exc:  # a database hiccup must not stop the controller
                        self.errors[name] = f"{type(exc).__name__}: {exc}"
                        log.warning("quality check of route %r failed: %s", name, exc)
            await asyncio.sleep(min(cfg.period_seconds for cfg in self.routes.values()) / 2)

    async def check(self, name: str) -> RouteQuality:
        """Replay the route's labels, store the decision if it is new, apply the newest stored one."""
        cfg = self.routes[name]
        if cfg.judge is not None:
            await self.label(name, cfg)
        count = await asyncio.to_thread(label_count, self.engine, name)
        if name in self._replayed and self._replayed[name][0] == count:
            stored = await asyncio.to_thread(latest_decisions, self.engine, [name])
            if name in stored:  # another replica may have stored a newer decision meanwhile
                applied = self._from_row(cfg, stored[name])
                self.apply(name, applied)
                return applied
        evidence = await asyncio.to_thread(labelled_pairs, self.engine, name)
        ctl = await asyncio.to_thread(self._advance, cfg, name, evidence, count)
        d = ctl.decision
        realised = realised_since(ctl, evidence)
        saving = projected_saving(d, evidence, self._prices(name))
        stored = await asyncio.to_thread(latest_decisions, self.engine, [name])
        current = stored.get(name)
        if current is None or (current["state"], current["certificate_id"] or None, current["labels"]) != (
            d.state,
            d.certificate_id,
            d.labels,
        ):
            await asyncio.to_thread(record_decision, self.engine, name, d, realised, saving)
            stored = await asyncio.to_thread(latest_decisions, self.engine, [name])
        applied = self._from_row(cfg, stored[name])
        self.apply(name, applied)
        self.errors.pop(name, None)
        return applied

    def _advance(self, cfg: QualityConfig, name: str, evidence: Evidence, count: int) -> QualityController:
        """The controller after the route's labels in store order: only the new ones when the labels already fed are
        a prefix of them (the usual case: labels arrive in time order), else a replay from the first label. Either
        way the result equals a full replay, so every replica reaches the same decision."""
        fed = self._replayed.get(name)
        n = len(fed[1]) if fed is not None else 0
        if fed is not None and evidence.request_ids[:n] == fed[1]:
            ctl = fed[2]
            ctl.add_many(evidence.scores[n:], evidence.strong[n:], evidence.weak[n:])
        else:
            ctl = replay(cfg, name, evidence)
        self._replayed[name] = (count, list(evidence.request_ids), ctl)
        return ctl

    async def label(self, name: str, cfg: QualityConfig) -> int:
        """Label up to ``label_batch`` of the route's unlabelled shadow pairs with its judge (both orders)."""
        from wayfare.traffic.cache import ResponseCache
        from wayfare.traffic.collect import Collector
        from wayfare.traffic.label import claim_unlabelled_pairs, label_stored_pairs, release_claims, store_labels

        # claimed, so replicas sharing the database judge each pair once (the claim outlives a slow judge)
        hold_s = max(600.0, 10 * cfg.period_seconds)
        pairs = await asyncio.to_thread(claim_unlabelled_pairs, self.engine, name, cfg.label_batch, hold_s)
        if not pairs:
            return 0
        if self._collector is None:
            cache = ResponseCache(Path.home() / ".cache" / "wayfare" / "quality-judge")
            gw = self.gateway  # the judge is called like a client's request: the gateway's deployments and retries
            self._collector = Collector(
                gw.config, cache, concurrency=4, show_progress=False, deployments=gw.deployments, executor=gw.executor
            )
        try:
            labels = await label_stored_pairs(pairs, judge=cfg.judge, collector=self._collector)
            stored = await asyncio.to_thread(store_labels, self.engine, labels)
        finally:  # whatever was not labelled is free again for the next round (here or on another replica)
            await asyncio.to_thread(release_claims, self.engine, [p.request_id for p in pairs])
        self.labelled += stored
        return stored

    def apply(self, name: str, rq: RouteQuality) -> None:
        self.gateway.router.quality[name] = rq
        metrics = self.gateway.observer.metrics
        if metrics is not None:
            metrics.threshold.labels(name).set(rq.threshold)
            metrics.quality_labels.labels(name).set(rq.labels)
            if rq.bound is not None:
                metrics.quality_bound.labels(name).set(rq.bound)
            if rq.realised is not None:
                metrics.quality_realised.labels(name).set(rq.realised)
            for state in ("learning", "certified", "backed-off"):
                metrics.quality_state.labels(name, state).set(1.0 if state == rq.state else 0.0)

    @staticmethod
    def _safe(cfg: QualityConfig) -> float:
        return cfg.safe_threshold if cfg.safe_threshold is not None else 0.0

    def _from_row(self, cfg: QualityConfig, row: dict[str, Any]) -> RouteQuality:
        threshold = row["threshold"] if row["threshold"] is not None else self._safe(cfg)
        return RouteQuality(
            row["state"], float(threshold), row["certificate_id"] or None, int(row["labels"]), row["bound"],
            row["realised"], row["reason"],
        )  # fmt: skip

    def _prices(self, name: str) -> tuple[float, float] | None:
        route = next(r for r in self.gateway.config.routes if r.name == name)
        prices = self.gateway.pricing.prices
        strong, weak = prices.get(route.strong), prices.get(route.weak)
        if strong is None or weak is None:
            return None
        return (sum(strong) / 2, sum(weak) / 2)
