"""What the dashboard reads: the latest decisions and per-bucket totals, kept in memory per replica."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from wayfare.observability.metrics import route_label
from wayfare.store.record import RequestRecord

Group = Literal["route", "model", "key"]
GROUPS: tuple[Group, ...] = ("route", "model", "key")


def decision_row(rec: RequestRecord) -> dict[str, Any]:
    """One live-decision row as the dashboard shows it."""
    return {
        "time": rec.time.isoformat(),
        "request_id": rec.request_id,
        "route": rec.route,
        "model": rec.chosen_model,
        "score": rec.score,
        "threshold": rec.threshold,
        "reason": rec.metadata.get("reason"),
        "cost_usd": rec.cost_usd,
        "saved_usd": rec.counterfactual_cost_usd - rec.cost_usd,
        "latency_ms": round(rec.latency_ms, 3),
        "decision_ms": rec.decision_ms,
        "status": rec.status,
        "error_class": rec.error_class,
        "key_id": rec.key_id,
        "cache_hit": rec.cache_hit,
        "prompt_preview": rec.prompt_preview,
    }


@dataclass(slots=True)
class _Totals:
    requests: int = 0
    cost: float = 0.0
    counterfactual: float = 0.0

    def add(self, rec: RequestRecord) -> None:
        self.requests += 1
        self.cost += rec.cost_usd
        self.counterfactual += rec.counterfactual_cost_usd


@dataclass
class LiveView:
    """The last ``size`` decisions and per-``bucket_s`` totals per route, model and key over ``keep_s``."""

    size: int = 500
    bucket_s: int = 60
    keep_s: float = 86_400.0
    decisions: deque[RequestRecord] = field(init=False)
    buckets: dict[int, dict[tuple[Group, str], _Totals]] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.decisions = deque(maxlen=self.size)

    def add(self, rec: RequestRecord) -> None:
        start = int(rec.time.timestamp()) // self.bucket_s * self.bucket_s
        with self._lock:
            self.decisions.append(rec)
            bucket = self.buckets.get(start)
            if bucket is None:
                bucket = self.buckets[start] = {}
                cutoff = start - self.keep_s
                for old in [b for b in self.buckets if b < cutoff]:
                    del self.buckets[old]
            for group, value in (
                ("route", route_label(rec.route) or "(direct)"),
                ("model", rec.chosen_model),
                ("key", rec.key_id or "(none)"),
            ):
                t = bucket.get((group, value))  # type: ignore[arg-type]
                if t is None:
                    t = bucket[(group, value)] = _Totals()  # type: ignore[index]
                t.add(rec)

    def recent(self, limit: int = 50, route: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            recs = list(self.decisions)
        out = []
        for rec in reversed(recs):
            if route is not None and route_label(rec.route) != route:
                continue
            out.append(decision_row(rec))
            if len(out) >= limit:
                break
        return out

    def timeline(self, group: Group) -> dict[str, Any]:
        """``{"bucket_s", "buckets": [start...], "series": {name: {"requests": [...], "cost_usd": [...],
        "saved_usd": [...]}}}`` with zeros where a series had no traffic."""
        with self._lock:
            starts = sorted(self.buckets)
            cells = {s: {k[1]: v for k, v in self.buckets[s].items() if k[0] == group} for s in starts}
        names = sorted({n for c in cells.values() for n in c})
        series: dict[str, dict[str, list[float]]] = {}
        for name in names:
            rows = [cells[s].get(name) for s in starts]
            series[name] = {
                "requests": [r.requests if r else 0 for r in rows],
                "cost_usd": [r.cost if r else 0.0 for r in rows],
                "saved_usd": [(r.counterfactual - r.cost) if r else 0.0 for r in rows],
            }
        return {"group": group, "bucket_s": self.bucket_s, "buckets": starts, "series": series}

    def totals(self, group: Group) -> dict[str, dict[str, float]]:
        """Totals per route / model / key over everything kept, with the share of requests."""
        with self._lock:
            acc: dict[str, _Totals] = {}
            for bucket in self.buckets.values():
                for (g, name), t in bucket.items():
                    if g != group:
                        continue
                    a = acc.setdefault(name, _Totals())
                    a.requests += t.requests
                    a.cost += t.cost
                    a.counterfactual += t.counterfactual
        n = sum(a.requests for a in acc.values()) or 1
        return {
            name: {"requests": a.requests, "share": a.requests / n, "cost_usd": a.cost,
                   "saved_usd": a.counterfactual - a.cost}
            for name, a in sorted(acc.items())
        }  # fmt: skip

    def scored(self, route: str) -> list[tuple[float, int, int]]:
        """(score, input tokens, output tokens) of the kept requests on ``route`` that the router decided and that
        succeeded (for the what-if)."""
        with self._lock:
            recs = list(self.decisions)
        return [
            (r.score, r.input_tokens, r.output_tokens)
            for r in recs
            if r.score is not None
            and r.status < 400
            and route_label(r.route) == route
            and r.metadata.get("reason") == "router"
        ]
