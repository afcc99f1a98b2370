"""``wayfare.Controller``: RouteLLM's ``Controller`` API, with Wayfare's routers scoring prompts in-process.

    from wayfare import Controller
    client = Controller(routers=["default"], strong_model="gpt-4o", weak_model="gpt-4o-mini",
                        api_base="https://api.openai.com/v1", api_key=os.environ["OPENAI_API_KEY"])
    r = client.chat.completions.create(model="router-default-0.5", messages=[{"role": "user", "content": "hi"}])
    r.model                                   # the model that answered
    client.route("hi", router="default", threshold=0.5)   # -> "gpt-4o-mini"

No server: the router runs in this process and the chosen model is called directly through the ``openai`` SDK
(any OpenAI-compatible ``api_base``: OpenAI, vLLM, Ollama, a Wayfare gateway...). Needs ``pip install openai``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from wayfare.gateway.routing import Scorer, load_scorer
from wayfare.routers.messages import prompt_text

_MODEL_NAME = re.compile(r"^router-(?P<router>.+)-(?P<threshold>(?:0|1)?\.\d+|0|1)$")


class RoutingError(ValueError):
    """A model name, router or threshold the controller cannot route with."""


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """One routing decision: the score (P(strong model needed)), the threshold and the model it picked."""

    router: str
    score: float
    threshold: float
    model: str
    decision_ms: float


class Controller:
    """Route each request to ``strong_model`` or ``weak_model`` with one of ``routers`` and call it.

    ``routers``: names for :func:`wayfare.routers.load_router` (``default``, a saved router folder) or the
    baselines ``random``, ``strong``, ``weak``. ``config`` maps a router name to where to load it from (RouteLLM
    passes constructor options there; Wayfare routers are fitted artifacts, so the value is a path).
    ``context``: what is scored: ``last_user`` (default), ``all_user`` or ``conversation``.
    Extra keyword arguments go to the ``openai`` clients (``timeout``, ``max_retries``, ``default_headers``...).
    """

    def __init__(
        self,
        routers: Sequence[str],
        strong_model: str,
        weak_model: str,
        config: Mapping[str, str] | None = None,
        api_base: str | None = None,
        api_key: str | None = None,
        progress_bar: bool = False,
        context: str = "last_user",
        **client_options: Any,
    ) -> None:
        if not routers:
            raise RoutingError("routers must name at least one router")
        if context not in ("last_user", "all_user", "conversation"):
            raise RoutingError(f"context must be last_user, all_user or conversation, got {context!r}")
        self.strong_model, self.weak_model = strong_model, weak_model
        self.api_base, self.api_key = api_base, api_key
        self.context = context
        self.progress_bar = progress_bar
        self.client_options = client_options
        sources = dict(config or {})
        self.routers: dict[str, Scorer] = {r: load_scorer(sources.get(r, r)) for r in routers}
        self._sync: Any = None
        self._async: Any = None
        # the OpenAI SDK's shape, as RouteLLM's Controller has it
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.completion, acreate=self.acompletion))
        self.completions = SimpleNamespace(create=self.text_completion)

    # ------------------------------------------------------------------ routing
    def parse_model_name(self, model: str) -> tuple[str, float]:
        """``router-<router>-<threshold>`` -> (router, threshold); :class:`RoutingError` otherwise."""
        m = _MODEL_NAME.match(model)
        if m is None:
            raise RoutingError(
                f"model must look like 'router-<router>-<threshold>' (e.g. router-default-0.5), got {model!r}"
            )
        return m.group("router"), self._check(m.group("router"), float(m.group("threshold")))

    def _check(self, router: str, threshold: float) -> float:
        if router not in self.routers:
            raise RoutingError(f"router {router!r} is not loaded (loaded: {', '.join(self.routers)})")
        if not 0.0 <= threshold <= 1.0:
            raise RoutingError(f"threshold must be in [0, 1], got {threshold}")
        return threshold

    def score(self, prompts: Sequence[str], router: str) -> list[float]:
        """P(strong model needed) for each prompt (RouteLLM's ``batch_calculate_win_rate``)."""
        self._check(router, 0.5)
        return [float(s) for s in self.routers[router].score(list(prompts))]

    batch_calculate_win_rate = score

    def decide(self, prompt: str, router: str, threshold: float) -> RouteDecision:
        self._check(router, threshold)
        t0 = time.perf_counter()
        s = float(self.routers[router].score([prompt])[0])
        ms = (time.perf_counter() - t0) * 1000
        return RouteDecision(router, s, threshold, self.strong_model if s >= threshold else self.weak_model, ms)

    def route(self, prompt: str, router: str, threshold: float) -> str:
        """The model ``router`` picks for ``prompt`` at ``threshold`` (score >= threshold -> strong)."""
        return self.decide(prompt, router, threshold).model

    def _routed(self, kwargs: dict[str, Any], router: str | None, threshold: float | None) -> dict[str, Any]:
        if "model" in kwargs:
            router, threshold = self.parse_model_name(kwargs.pop("model"))
        if router is None or threshold is None:
            raise RoutingError("give model='router-<router>-<threshold>' or router= and threshold=")
        messages = kwargs.get("messages")
        if "prompt" in kwargs:
            prompt = kwargs["prompt"] if isinstance(kwargs["prompt"], str) else str(kwargs["prompt"][0])
        elif isinstance(messages, list) and messages:
            prompt = prompt_text(messages, self.context)
        else:
            raise RoutingError("messages must be a non-empty list")
        kwargs["model"] = self.decide(prompt, router, threshold).model
        return kwargs

    # ------------------------------------------------------------------ calls
    def _client(self) -> Any:
        if self._sync is None:
            import openai

            self._sync = openai.OpenAI(base_url=self.api_base, api_key=self.api_key or "unused", **self.client_options)
        return self._sync

    def _aclient(self) -> Any:
        if self._async is None:
            import openai

            self._async = openai.AsyncOpenAI(
                base_url=self.api_base, api_key=self.api_key or "unused", **self.client_options
            )
        return self._async

    def completion(self, *, router: str | None = None, threshold: float | None = None, **kwargs: Any) -> Any:
        """``chat.completions.create``: route, then call the chosen model; returns the SDK's ``ChatCompletion``
        (or its stream with ``stream=True``), whose ``model`` names the model that answered."""
        return self._client().chat.completions.create(**self._routed(kwargs, router, threshold))

    async def acompletion(self, *, router: str | None = None, threshold: float | None = None, **kwargs: Any) -> Any:
        """``chat.completions.acreate``: :meth:`completion` with the async client."""
        return await self._aclient().chat.completions.create(**self._routed(kwargs, router, threshold))

    def text_completion(self, *, router: str | None = None, threshold: float | None = None, **kwargs: Any) -> Any:
        """``completions.create`` (legacy text completions), routed on ``prompt``."""
        return self._client().completions.create(**self._routed(kwargs, router, threshold))

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.close()
