"""Routing on the request path: which model answers a request sent to a route.

A pair route scores the prompt with a pair router (P(strong needed)) and compares it to a threshold; an N-model route
asks the router for each candidate's predicted score and lets a policy of :mod:`wayfare.routers.policies` pick
(``tolerance``: the cheapest within t of the best; ``lam``: argmax of score - lam x price). Requests with tools
or images can be pinned to a model; a multi-turn conversation stays on the model its first routed turn used (keyed by
the ``x-wayfare-session`` header, else by a hash of the conversation's opening: system prompt + first user turn).
The decision never fails a request: on any router error the route's strong model answers and ``error`` says why.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from wayfare.gateway.config import GatewayConfig, RouteConfig
from wayfare.gateway.cost import Pricing
from wayfare.routers.policies import TolerancePolicy, TradeoffPolicy

_ROUTER_NAME = re.compile(r"^router-(?P<router>.+)-(?P<threshold>(?:0|1)?(?:\.\d+)?)$")


class Scorer(Protocol):
    def score(self, prompts: Sequence[str]) -> Any: ...


class FixedScorer:
    """Baseline ``strong`` (score 1) or ``weak`` (score 0)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def score(self, prompts: Sequence[str]) -> list[float]:
        return [self.value] * len(prompts)


class HashScorer:
    """Baseline ``random``: a uniform score that is a fixed function of the prompt text (repeatable)."""

    def score(self, prompts: Sequence[str]) -> list[float]:
        return [int.from_bytes(hashlib.blake2b(p.encode(), digest_size=8).digest(), "little") / 2**64 for p in prompts]


def load_scorer(name: str) -> Scorer:
    """``strong`` / ``weak`` / ``random`` baselines, else a pair router from :func:`wayfare.routers.load_router`."""
    if name == "strong":
        return FixedScorer(1.0)
    if name == "weak":
        return FixedScorer(0.0)
    if name == "random":
        return HashScorer()
    from wayfare.routers import load_router

    return load_router(name)


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _has_image(messages: list[Any]) -> bool:
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list) and any(
            isinstance(p, dict) and p.get("type") in ("image_url", "input_image", "image") for p in content
        ):
            return True
    return False


def prompt_text(messages: list[Any], context: str) -> str:
    """What the router scores: the last user message, all user messages, or the whole conversation."""
    if context == "last_user":
        for m in reversed(messages):
            if isinstance(m, dict) and m.get("role") == "user":
                return _text(m.get("content"))
        return ""
    if context == "all_user":
        return "\n".join(_text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user")
    return "\n".join(f"{m.get('role')}: {_text(m.get('content'))}" for m in messages if isinstance(m, dict))


@dataclass(slots=True)
class Decision:
    route: str
    model: str
    candidates: list[str]
    score: float | None = None
    threshold: float | None = None
    decision_ms: float = 0.0
    reason: str = "router"
    """``router``, ``session``, ``pinned_tools``, ``pinned_images`` or ``router_error``."""
    error: str | None = None
    session_id: str | None = None


class RouteRuntime:
    """One configured route with its loaded scorer (or the reason it could not be loaded).

    N-model routes also hold the policy, the router's column of each candidate and the candidates' prices."""

    def __init__(
        self, config: RouteConfig, scorer: Scorer | None, load_error: str | None = None, pricing: Pricing | None = None
    ) -> None:
        self.config = config
        self.scorer = scorer
        self.load_error = load_error
        self.candidates = config.candidates
        self.policy: TolerancePolicy | TradeoffPolicy | None = None
        self.columns: list[int] = []
        self.prices: list[float] = []
        if scorer is not None and load_error is None:
            try:
                self._check(scorer, pricing)
            except ValueError as exc:
                self.scorer = None
                self.load_error = f"router {config.router!r} cannot serve route {config.name!r}: {exc}"

    def _check(self, scorer: Scorer, pricing: Pricing | None) -> None:
        cfg = self.config
        if not cfg.models:
            if not getattr(scorer, "is_pair", True):
                raise ValueError("it is not a pair router (it has no strong/weak score); list the route's models")
            return
        known = list(getattr(scorer, "models_", []) or [])
        if not known or not hasattr(scorer, "predict"):
            raise ValueError("an N-model route needs a router that predicts per-model scores")
        names = [cfg.router_models.get(m, m) for m in cfg.models]
        missing = [n for n in names if n not in known]
        if missing:
            raise ValueError(f"it does not know {', '.join(missing)} (it knows: {', '.join(known)}); set router_models")
        self.columns = [known.index(n) for n in names]
        if pricing is None:
            raise ValueError("an N-model route needs the models' prices")
        unpriced = [m for m in cfg.models if pricing.prices.get(m) is None]
        if unpriced:
            raise ValueError(f"no price for {', '.join(unpriced)} (set input_price/output_price)")
        self.prices = [sum(p) / 2 for m in cfg.models if (p := pricing.prices.get(m)) is not None]
        kind, value = next(iter(cfg.policy.items()))
        self.policy = TolerancePolicy(value) if kind == "tolerance" else TradeoffPolicy(value)


class Router:
    """All routes of a config, the session-affinity cache, and the decision for one request."""

    def __init__(
        self, config: GatewayConfig, scorers: Mapping[str, Scorer | BaseException], pricing: Pricing | None = None
    ) -> None:
        self.routes: dict[str, RouteRuntime] = {}
        if pricing is None and any(r.models for r in config.routes):
            from wayfare.data.prices import PriceTable

            pricing = Pricing(config, PriceTable.from_file(config.price_table) if config.price_table else None)
        for r in config.routes:
            s = scorers.get(r.router)
            if isinstance(s, BaseException) or s is None:
                self.routes[r.name] = RouteRuntime(r, None, f"router {r.router!r} unavailable: {s}")
            else:
                self.routes[r.name] = RouteRuntime(r, s, pricing=pricing)
        self.sessions: OrderedDict[str, str] = OrderedDict()
        self.max_sessions = config.session_cache_size

    @classmethod
    def from_config(cls, config: GatewayConfig, pricing: Pricing | None = None) -> Router:
        scorers: dict[str, Scorer | BaseException] = {}
        for name in {r.router for r in config.routes}:
            try:
                scorers[name] = load_scorer(name)
            except Exception as exc:
                scorers[name] = exc
        return cls(config, scorers, pricing)

    def resolve(self, model: str) -> tuple[RouteRuntime, float] | None:
        """The route (and threshold) for a requested model name: a route name or ``router-<router>-<threshold>``."""
        rt = self.routes.get(model)
        if rt is not None:
            return rt, rt.config.threshold
        m = _ROUTER_NAME.match(model)
        if m is None or not m.group("threshold") or m.group("threshold") == ".":
            return None
        threshold = float(m.group("threshold"))
        if not 0.0 <= threshold <= 1.0:
            return None
        for rt in self.routes.values():
            if rt.config.router == m.group("router") and not rt.config.models:
                return rt, threshold
        return None

    def route_names(self) -> list[str]:
        return list(self.routes)

    def decide(
        self, name: str, rt: RouteRuntime, threshold: float, body: Mapping[str, Any], session: str | None
    ) -> Decision:
        cfg = rt.config
        messages = body.get("messages")
        messages = messages if isinstance(messages, list) else []
        threshold_or_none = None if cfg.models else threshold
        decision = Decision(route=name, model=cfg.strong, candidates=rt.candidates, threshold=threshold_or_none)
        if cfg.pin_tools is not None and body.get("tools"):
            decision.model, decision.reason = cfg.pin_tools, "pinned_tools"
            return decision
        if cfg.pin_images is not None and _has_image(messages):
            decision.model, decision.reason = cfg.pin_images, "pinned_images"
            return decision
        key = self._session_key(name, threshold, messages, session) if cfg.session_affinity else None
        if key is not None:
            decision.session_id = key
            hit = self.sessions.get(key)
            if hit is not None:
                self.sessions.move_to_end(key)
                decision.model, decision.reason = hit, "session"
                return decision
        self._score(rt, threshold, messages, decision)
        if key is not None and decision.error is None:
            self.sessions[key] = decision.model
            if len(self.sessions) > self.max_sessions:
                self.sessions.popitem(last=False)
        return decision

    def _score(self, rt: RouteRuntime, threshold: float, messages: list[Any], decision: Decision) -> None:
        if rt.scorer is None:
            decision.reason, decision.error = "router_error", rt.load_error
            return
        t0 = time.perf_counter()
        try:
            text = prompt_text(messages, rt.config.context)
            if rt.policy is not None:
                model, score, knob = self._choose(rt, text)
            else:
                score = float(rt.scorer.score([text])[0])
                model, knob = (rt.config.strong if score >= threshold else rt.config.weak), threshold
            if score != score:  # NaN
                raise ValueError("router returned NaN")
        except Exception as exc:
            decision.decision_ms = (time.perf_counter() - t0) * 1000
            decision.reason, decision.error = "router_error", f"{type(exc).__name__}: {exc}"
            return
        decision.decision_ms = (time.perf_counter() - t0) * 1000
        decision.score, decision.threshold, decision.model = score, knob, model

    @staticmethod
    def _choose(rt: RouteRuntime, text: str) -> tuple[str, float, float]:
        """N-model route: (chosen model, its predicted score, the policy's tolerance or lam)."""
        assert rt.policy is not None
        predictions = np.asarray(getattr(rt.scorer, "predict")([text]), dtype=np.float64)[:, rt.columns]  # noqa: B009
        j = int(rt.policy.choose_batch(predictions, rt.candidates, rt.prices)[0])
        return rt.candidates[j], float(predictions[0, j]), float(next(iter(rt.config.policy.values())))

    @staticmethod
    def _session_key(name: str, threshold: float, messages: list[Any], session: str | None) -> str | None:
        if session:
            return f"{name}/{threshold}/h:{session}"
        opening = []
        for m in messages:
            if not isinstance(m, dict):
                continue
            opening.append(f"{m.get('role')}\x00{_text(m.get('content'))}")
            if m.get("role") == "user":
                break
        if not opening:
            return None
        digest = hashlib.blake2b("\x01".join(opening).encode(), digest_size=12).hexdigest()
        return f"{name}/{threshold}/c:{digest}"
