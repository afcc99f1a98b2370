"""Call models through the gateway's configured deployments: bounded concurrency, the same load balancing, retries
and failover as a client's request (never to a fallback model), a progress bar, and the on-disk
:class:`ResponseCache` (a cached answer is never requested again)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from wayfare.gateway.config import GatewayConfig
from wayfare.gateway.cost import Pricing, usage_tokens
from wayfare.gateway.deployments import Deployments, request_model
from wayfare.gateway.retry import AllAttemptsFailed, RetryExecutor
from wayfare.gateway.upstreams import make_provider
from wayfare.gateway.usage import LocalUsage
from wayfare.providers.base import JSON
from wayfare.providers.http import HttpClients
from wayfare.traffic.cache import ResponseCache, request_key


class CollectError(RuntimeError):
    """A model could not be called (unknown name, or every retry failed)."""


@dataclass(frozen=True)
class Answer:
    text: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    cost_usd: float | None
    cached: bool


@dataclass(frozen=True)
class Call:
    """One request to make: ``model`` is a model name of the gateway config, ``messages`` the chat."""

    model: str
    messages: list[dict[str, Any]]
    max_tokens: int | None = None


def _text_of(resp: JSON) -> str:
    choices = resp.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return ""
    content = (choices[0].get("message") or {}).get("content")
    return content if isinstance(content, str) else ""


class Collector:
    """Runs :class:`Call` s against the models of a gateway config (no fallbacks: the named model must answer)."""

    def __init__(
        self,
        config: GatewayConfig,
        cache: ResponseCache,
        *,
        concurrency: int = 16,
        temperature: float = 0.0,
        show_progress: bool = True,
        deployments: Deployments | None = None,
        executor: RetryExecutor | None = None,
    ) -> None:
        """``deployments`` and ``executor``: a running gateway's own (its judge then shares the gateway's connection
        pools, cooldowns and quotas); by default each :meth:`run` opens the config's deployments for itself."""
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.config = config
        self.cache = cache
        self.concurrency = concurrency
        self.temperature = temperature
        self.show_progress = show_progress
        self.pricing = Pricing(config)
        self.paid_calls = 0
        self.deployments = deployments
        self.executor = executor

    def check_models(self, names: Sequence[str]) -> None:
        known = {m.name for m in self.config.models}
        for n in names:
            if n not in known:
                raise CollectError(f"model {n!r} is not in the config (models: {', '.join(sorted(known))})")

    def body(self, call: Call) -> JSON:
        cfg = self.config.model(call.model)
        body: JSON = {"model": cfg.upstream_model, "messages": call.messages, "temperature": self.temperature}
        if call.max_tokens is not None:
            body["max_tokens"] = call.max_tokens
        return body

    def key(self, call: Call) -> str:
        cfg = self.config.model(call.model)
        # providers with a default endpoint (bedrock, gemini, vertex) are told apart by their region
        where = cfg.base_url or f"{cfg.provider}:{cfg.aws_region_name or cfg.vertex_location or ''}"
        return request_key(f"{call.model}|{where}", self.body(call))

    async def run(self, calls: Sequence[Call], description: str = "calling models") -> list[Answer]:
        """Answers in the order of ``calls``; :class:`CollectError` if any call fails after its retries."""
        self.check_models(sorted({c.model for c in calls}))
        clients = None
        deployments = self.deployments
        if deployments is None:
            clients = HttpClients(shards=4, max_connections=max(8, self.concurrency))
            deployments = Deployments.from_config(self.config, lambda m: make_provider(m, clients), LocalUsage())
        executor = self.executor if self.executor is not None else RetryExecutor.from_config(self.config.retry)
        sem = asyncio.Semaphore(self.concurrency)
        results: list[Answer | None] = [None] * len(calls)
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=not self.show_progress,
            transient=False,
        )

        async def one(i: int, call: Call) -> None:
            key = self.key(call)
            hit = self.cache.get(key)
            if hit is not None:
                # Cost is recomputed from the cached tokens: prices in the config may have changed since.
                cost = self.pricing.cost(call.model, int(hit["input_tokens"]), int(hit["output_tokens"]))
                results[i] = Answer(**{**hit, "cost_usd": cost, "cached": True})
                progress.advance(task)
                return
            async with sem:
                body = self.body(call)
                t0 = time.perf_counter()
                try:
                    resp = await request_model(deployments, executor, call.model, "chat", body)
                except AllAttemptsFailed as exc:
                    raise CollectError(f"{call.model}: {exc.last.message}") from None
                ms = (time.perf_counter() - t0) * 1000
            tin, tout = usage_tokens(resp.get("usage"))
            answer = Answer(_text_of(resp), tin, tout, ms, self.pricing.cost(call.model, tin, tout), cached=False)
            self.cache.put(key, {k: v for k, v in answer.__dict__.items() if k != "cached"})
            self.paid_calls += 1
            results[i] = answer
            progress.advance(task)

        with progress:
            task = progress.add_task(description, total=len(calls))
            try:
                async with asyncio.TaskGroup() as tg:
                    for i, c in enumerate(calls):
                        tg.create_task(one(i, c))
            except* CollectError as eg:
                raise eg.exceptions[0] from None
            finally:
                if clients is not None:
                    await clients.aclose()
        return [r for r in results if r is not None]
