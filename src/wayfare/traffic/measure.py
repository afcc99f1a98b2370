"""``wayfare share`` end to end: call both models, label each pair, estimate the routable share, run the
configured routers' quality-vs-cost curves on the sample, and compute the break-even."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wayfare.eval.curves import PairCurve, expected_random_curve, oracle_scores, pair_curve
from wayfare.eval.metrics import apgr, cost_saved_at_quality
from wayfare.gateway.config import GatewayConfig
from wayfare.traffic.breakeven import BreakEven, break_even, router_cost_per_request
from wayfare.traffic.collect import Answer, Call, Collector
from wayfare.traffic.labels import Label, judge_label, judge_messages, load_matcher, parse_verdict
from wayfare.traffic.prompts import PromptRow
from wayfare.traffic.share import ShareEstimate, routable_share

ASSUMED_DECISION_MS = 2.0
"""Used when no learned router is configured: Wayfare's decision-latency target (p50, one CPU core)."""


@dataclass(frozen=True)
class ShareSettings:
    strong: str
    weak: str
    judge: str | None = None
    scorer: str = "numeric"
    tolerance: float = 0.0
    pass_mark: float = 0.5
    routers: Sequence[str] = ()
    quality_target: float = 0.95
    cpu_usd_per_hour: float = 0.05
    router_usd_per_1k: float | None = None
    min_savings: float = 0.05
    max_tokens: int | None = None


@dataclass
class RouterResult:
    name: str
    curve: PairCurve | None
    decision_ms: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class ShareResult:
    settings: ShareSettings
    rows: list[PromptRow]
    strong_answers: list[Answer]
    weak_answers: list[Answer]
    labels: list[Label]
    estimate: ShareEstimate
    routers: list[RouterResult]
    breakeven: BreakEven
    paid_calls: int
    cached_calls: int
    seconds: float


def _user_scores(row: PromptRow, s: ShareSettings) -> tuple[float, float] | None:
    for strong_key, weak_key in ((s.strong, s.weak), ("strong", "weak")):
        if strong_key in row.scores and weak_key in row.scores:
            return row.scores[strong_key], row.scores[weak_key]
    return None


async def label_pairs(
    collector: Collector, rows: Sequence[PromptRow], strong: Sequence[Answer], weak: Sequence[Answer], s: ShareSettings
) -> list[Label]:
    """One :class:`Label` per row, by the precedence in :mod:`wayfare.traffic.labels`."""
    matcher = load_matcher(s.scorer)
    labels: list[Label | None] = [None] * len(rows)
    judge_rows: list[int] = []
    for i, row in enumerate(rows):
        user = _user_scores(row, s)
        if user is not None:
            labels[i] = Label(row.id, user[0], user[1], "user")
        elif row.reference is not None:
            labels[i] = Label(
                row.id,
                matcher(strong[i].text, row.reference),
                matcher(weak[i].text, row.reference),
                f"reference:{s.scorer}",
            )
        elif s.judge is not None:
            judge_rows.append(i)
        else:
            agree = matcher(weak[i].text, strong[i].text)
            labels[i] = Label(row.id, 1.0, agree, f"agreement:{s.scorer}")
    if judge_rows and s.judge is not None:
        calls = []
        for i in judge_rows:
            q = rows[i].text
            calls.append(Call(s.judge, judge_messages(q, strong[i].text, weak[i].text), max_tokens=512))
            calls.append(Call(s.judge, judge_messages(q, weak[i].text, strong[i].text), max_tokens=512))
        verdicts = await collector.run(calls, "judging (both orders)")
        for j, i in enumerate(judge_rows):
            labels[i] = judge_label(
                rows[i].id, parse_verdict(verdicts[2 * j].text), parse_verdict(verdicts[2 * j + 1].text)
            )
    return [lab for lab in labels if lab is not None]


def _per_prompt_cost(answers: Sequence[Answer], model: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    costs = [a.cost_usd for a in answers]
    if any(c is None for c in costs):
        raise ValueError(
            f"model {model!r} has no price: set input_price/output_price in the config (USD per 1M tokens)"
        )
    return np.asarray(costs, dtype=np.float64)


def _router_result(
    name: str, prompts: list[str], weak: Any, strong: Any, cw: Any, cs: Any, target: float
) -> RouterResult:
    from wayfare.gateway.routing import load_scorer

    try:
        scorer = load_scorer(name)
        scorer.score(prompts[:1])  # warm-up (lazy loads), not timed
        times = []
        for p in prompts[: min(len(prompts), 200)]:
            t0 = time.perf_counter()
            scorer.score([p])
            times.append((time.perf_counter() - t0) * 1000)
        scores = np.asarray(scorer.score(prompts), dtype=np.float64)
    except Exception as exc:  # a router that cannot load or score is reported, not fatal
        return RouterResult(name, None, None, error=f"{type(exc).__name__}: {exc}")
    curve = pair_curve(scores, weak, strong, cw, cs)
    return RouterResult(name, curve, statistics.median(times), _curve_metrics(curve, target))


def _curve_metrics(curve: PairCurve, target: float) -> dict[str, Any]:
    at = cost_saved_at_quality(curve, target)
    out: dict[str, Any] = {"apgr": None if np.isnan(curve.pgr).any() else apgr(curve)}
    if at is not None:
        out.update(
            {
                "quality_target": target,
                "strong_share_at_target": at.share,
                "quality_at_target": at.quality,
                "cost_saved_at_target": at.cost_saved,
            }
        )
    return out


async def measure_share(
    config: GatewayConfig, rows: list[PromptRow], settings: ShareSettings, collector: Collector
) -> ShareResult:
    t0 = time.perf_counter()
    s = settings
    models = [s.strong, s.weak] + ([s.judge] if s.judge else [])
    collector.check_models(models)
    if s.strong == s.weak:
        raise ValueError(f"--strong and --weak are the same model: {s.strong!r}")
    calls = [Call(m, r.messages, s.max_tokens) for r in rows for m in (s.strong, s.weak)]
    answers = await collector.run(calls, f"{s.strong} + {s.weak}")
    strong, weak = answers[0::2], answers[1::2]
    labels = await label_pairs(collector, rows, strong, weak, s)
    estimate = routable_share(labels, s.tolerance, s.pass_mark)
    cs, cw = _per_prompt_cost(strong, s.strong), _per_prompt_cost(weak, s.weak)
    ws = np.asarray([lab.weak_score for lab in labels])
    ss = np.asarray([lab.strong_score for lab in labels])
    prompts = [r.text for r in rows]
    names = list(
        dict.fromkeys([*s.routers, *(r.router for r in config.routes if {r.strong, r.weak} == {s.strong, s.weak})])
    )
    results = [_router_result(n, prompts, ws, ss, cw, cs, s.quality_target) for n in names]
    oracle = pair_curve(oracle_scores(ws, ss), ws, ss, cw, cs)
    rnd = expected_random_curve(ws, ss)
    results.append(RouterResult("oracle", oracle, None, _curve_metrics(oracle, s.quality_target)))
    results.append(RouterResult("random (expected)", rnd, None, {"apgr": 0.5}))
    measured = [r.decision_ms for r in results if r.decision_ms is not None]
    decision_ms = min(measured) if measured else ASSUMED_DECISION_MS
    be = break_even(
        cost_strong=float(cs.mean()),
        cost_weak=float(cw.mean()),
        share=estimate.share,
        share_ci=estimate.ci,
        router_cost=router_cost_per_request(decision_ms, s.cpu_usd_per_hour, s.router_usd_per_1k),
        decision_ms=decision_ms,
        min_savings=s.min_savings,
    )
    cached = sum(a.cached for a in answers)
    return ShareResult(
        s, rows, strong, weak, labels, estimate, results, be, collector.paid_calls, cached, time.perf_counter() - t0
    )
