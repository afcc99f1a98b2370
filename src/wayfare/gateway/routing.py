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

from wayfare.gateway.batching import ScoreBatcher
from wayfare.gateway.config import GatewayConfig, RouteConfig
from wayfare.gateway.cost import Pricing
from wayfare.routers.messages import message_text, prompt_text
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


def load_scorer(name: str, *, share_vectors: bool = False) -> Scorer:
    """``strong`` / ``weak`` / ``random`` baselines, else a pair router from :func:`wayfare.routers.load_router`.
    ``share_vectors`` (a gateway with the semantic cache on): the router embeds through the process's shared
    embedder, which remembers recent vectors so the cache does not embed a routed prompt again."""
    if name == "strong":
        return FixedScorer(1.0)
    if name == "weak":
        return FixedScorer(0.0)
    if name == "random":
        return HashScorer()
    from wayfare.routers import load_router

    return load_router(name, embedder=_serving_embedder(name, share_vectors))


def _serving_embedder(name: str, share_vectors: bool = False) -> Any:
    """The embedder a router artifact names, with one onnxruntime thread unless ``WAYFARE_EMBED_THREADS`` says
    otherwise (2 threads were no faster per decision on the 2-core test machine and worse under load); remembering
    recent vectors only when ``share_vectors`` (every decision would pay for the bookkeeping otherwise)."""
    from wayfare.routers.artifact import read_meta
    from wayfare.routers.registry import SHIPPED, shipped_router_path

    try:
        meta = read_meta(shipped_router_path(name) if name in SHIPPED else name)
    except Exception:
        return None  # load_router reports the problem
    label = (meta.get("embedder") or {}).get("name")
    if not label:
        return None
    from wayfare.cache.vectors import open_shared, serving_threads

    model, _, tokens = str(label).rpartition(":")
    if not model or not tokens.isdigit():
        model, tokens = str(label), "128"
    if share_vectors:  # one instance per embedder: the semantic cache reuses its vectors
        return open_shared(model, int(tokens))
    from wayfare.embed import load_embedder

    return load_embedder(model, max_tokens=int(tokens), threads=serving_threads())


def _has_image(messages: list[Any]) -> bool:
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list) and any(
            isinstance(p, dict) and p.get("type") in ("image_url", "input_image", "image") for p in content
        ):
            return True
    return False


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
    certificate: str | None = None
    """Quality-target routes: the certificate id behind the threshold (or ``learning`` / ``backed-off``)."""


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
        self.batcher: ScoreBatcher | None = None
        if scorer is not None and load_error is None:
            try:
                self._check(scorer, pricing)
            except ValueError as exc:
                self.scorer = None
                self.load_error = f"router {config.router!r} cannot serve route {config.name!r}: {exc}"
            else:
                self.batcher = ScoreBatcher(self.score_batch)

    def close(self) -> None:
        """Stop the scoring thread (queued prompts are cancelled; call when no request uses this route)."""
        if self.batcher is not None:
            self.batcher.close()

    def score_batch(self, texts: Sequence[str]) -> Any:
        """Pair route: P(strong needed) per text; N-model route: predicted score of each candidate per text."""
        assert self.scorer is not None
        if self.policy is None:
            return np.asarray(self.scorer.score(texts), dtype=np.float64)
        return np.asarray(getattr(self.scorer, "predict")(texts), dtype=np.float64)[:, self.columns]  # noqa: B009

    def choose(self, row: Any, threshold: float) -> tuple[str, float, float]:
        """(model, score reported, threshold or policy knob) for one text's ``score_batch`` row."""
        if self.policy is None:
            score = float(row)
            if not 0.0 <= score <= 1.0:  # NaN too: a broken router must not pick a model
                raise ValueError(f"router score {score} is not a probability in [0, 1]")
            return (self.config.strong if score >= threshold else self.config.weak), score, threshold
        j = int(self.policy.choose_batch(np.asarray(row)[None, :], self.candidates, self.prices)[0])
        return self.candidates[j], float(row[j]), float(next(iter(self.config.policy.values())))

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
        self.quality: dict[str, Any] = {}
        """Route -> its quality-target state (:class:`wayfare.quality.runner.RouteQuality`), set off the request
        path; such a route uses that state's threshold instead of the configured one."""

    def close(self) -> None:
        for rt in self.routes.values():
            rt.close()

    @classmethod
    def from_config(cls, config: GatewayConfig, pricing: Pricing | None = None) -> Router:
        scorers: dict[str, Scorer | BaseException] = {}
        share = config.shares_vectors
        for name in {r.router for r in config.routes}:
            try:
                scorers[name] = load_scorer(name, share_vectors=share)
            except Exception as exc:
                scorers[name] = exc
        return cls(config, scorers, pricing)

    def resolve(self, model: str) -> tuple[RouteRuntime, float] | None:
        """The route (and threshold) for a requested model name: a route name or ``router-<router>-<threshold>``."""
        rt = self.routes.get(model)
        if rt is not None:
            rq = self.quality.get(model)
            return rt, (rq.threshold if rq is not None else rt.config.threshold)
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
        """The decision, scoring inline (blocks for the router's time; :meth:`adecide` on the request path)."""
        decision, key, text = self._begin(name, rt, threshold, body, session)
        if text is not None:
            t0 = time.perf_counter()
            try:
                row = rt.score_batch([text])[0]
            except Exception as exc:
                row = exc
            self._finish(rt, threshold, decision, key, row, t0)
        return decision

    async def adecide(
        self, name: str, rt: RouteRuntime, threshold: float, body: Mapping[str, Any], session: str | None
    ) -> Decision:
        """The decision, scored in the route's batching worker thread (the event loop keeps running)."""
        decision, key, text = self._begin(name, rt, threshold, body, session)
        if text is not None:
            assert rt.batcher is not None
            t0 = time.perf_counter()
            try:
                row = await rt.batcher.score(text)
            except Exception as exc:
                row = exc
            self._finish(rt, threshold, decision, key, row, t0)
        return decision

    def _begin(
        self, name: str, rt: RouteRuntime, threshold: float, body: Mapping[str, Any], session: str | None
    ) -> tuple[Decision, str | None, str | None]:
        """(decision, session key, text to score); the text is None when no scoring is needed (pinned, session
        hit, router unavailable): the decision is then final."""
        cfg = rt.config
        messages = body.get("messages")
        messages = messages if isinstance(messages, list) else []
        threshold_or_none = None if cfg.models else threshold
        decision = Decision(route=name, model=cfg.strong, candidates=rt.candidates, threshold=threshold_or_none)
        rq = self.quality.get(name)
        if rq is not None:
            decision.certificate = rq.header
        if cfg.pin_tools is not None and body.get("tools"):
            decision.model, decision.reason = cfg.pin_tools, "pinned_tools"
            return decision, None, None
        if cfg.pin_images is not None and _has_image(messages):
            decision.model, decision.reason = cfg.pin_images, "pinned_images"
            return decision, None, None
        key = self._session_key(name, threshold, messages, session) if cfg.session_affinity else None
        if key is not None:
            decision.session_id = key
            hit = self.sessions.get(key)
            if hit is not None:
                self.sessions.move_to_end(key)
                decision.model, decision.reason = hit, "session"
                return decision, None, None
        if rt.scorer is None:
            decision.reason, decision.error = "router_error", rt.load_error
            return decision, None, None
        return decision, key, prompt_text(messages, cfg.context)

    def _finish(
        self, rt: RouteRuntime, threshold: float, decision: Decision, key: str | None, row: Any, t0: float
    ) -> None:
        try:
            if isinstance(row, Exception):
                raise row
            model, score, knob = rt.choose(row, threshold)
            if score != score:  # NaN
                raise ValueError("router returned NaN")
        except Exception as exc:
            decision.decision_ms = (time.perf_counter() - t0) * 1000
            decision.reason, decision.error = "router_error", f"{type(exc).__name__}: {exc}"
            return
        decision.decision_ms = (time.perf_counter() - t0) * 1000
        decision.score, decision.threshold, decision.model = score, knob, model
        if key is not None:
            self.sessions[key] = model
            if len(self.sessions) > self.max_sessions:
                self.sessions.popitem(last=False)

    @staticmethod
    def _session_key(name: str, threshold: float, messages: list[Any], session: str | None) -> str | None:
        if session:
            return f"{name}/{threshold}/h:{session}"
        opening = []
        for m in messages:
            if not isinstance(m, dict):
                continue
            opening.append(f"{m.get('role')}\x00{message_text(m.get('content'))}")
            if m.get("role") == "user":
                break
        if not opening:
            return None
        digest = hashlib.blake2b("\x01".join(opening).encode(), digest_size=12).hexdigest()
        return f"{name}/{threshold}/c:{digest}"
