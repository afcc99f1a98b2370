"""Several deployments behind one model name, and the strategy that orders them for each request.

A model with several ``models:`` entries (two Azure regions, three vLLM replicas, two keys with their own quotas)
has one :class:`DeploymentPool`. For every request the pool gives the order in which its deployments are tried:
the strategy's pick first, then the others, deployments in cooldown last, deployments at their rpm/tpm quota left
out (:mod:`wayfare.gateway.usage` counts the minute, in process or in Redis). The retry executor
(:mod:`wayfare.gateway.retry`) walks that order before it moves on to the model's fallbacks.

Strategies: ``weighted`` (random in proportion to ``weight``), ``least-busy`` (fewest requests in flight on this
replica), ``latency`` (lowest moving average of time to first byte; deployments without a sample first),
``usage`` (most rpm/tpm room left in the current minute). Ties go to config order.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from wayfare.gateway.config import GatewayConfig, ModelConfig, Strategy
from wayfare.gateway.cost import usage_tokens
from wayfare.gateway.retry import RetryExecutor
from wayfare.gateway.usage import UsageBook, minute_left
from wayfare.providers.base import JSON, Endpoint, Provider
from wayfare.providers.errors import ProviderError


@dataclass(eq=False)
class Deployment:
    """One ``models:`` entry: where a request for ``model`` can go, and what this replica knows about it."""

    id: str
    model: str
    config: ModelConfig
    provider: Provider
    in_flight: int = 0
    ttfb_ms: float | None = None
    """Moving average of time to first byte (a unary response, or a stream's first chunk)."""
    alpha: float = 0.3
    """Weight of the newest sample in ``ttfb_ms``."""

    def __post_init__(self) -> None:
        self.limited = self.config.rpm is not None or self.config.tpm is not None
        """Whether it has a per-minute quota (read on every attempt)."""

    def first_byte(self, t0: float) -> None:
        """Update the latency average with an attempt that started at ``t0`` (``time.perf_counter``) and got its
        first byte now."""
        ms = (time.perf_counter() - t0) * 1000
        self.ttfb_ms = ms if self.ttfb_ms is None else self.alpha * ms + (1 - self.alpha) * self.ttfb_ms

    def room(self, requests: int, tokens: int) -> float:
        """Share of the quota left this minute (1.0 without a quota; <= 0 at the limit)."""
        shares = [1.0]
        if self.config.rpm is not None:
            shares.append(1.0 - requests / self.config.rpm)
        if self.config.tpm is not None:
            shares.append(1.0 - tokens / self.config.tpm)
        return min(shares)


@dataclass(eq=False)
class DeploymentPool:
    """The deployments of one model and the strategy that orders them."""

    model: str
    deployments: list[Deployment]
    strategy: Strategy
    usage: UsageBook
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.limited = any(d.limited for d in self.deployments)
        # the hot path of a one-deployment model without a quota: no strategy, no usage lookup
        self.single = len(self.deployments) == 1 and not self.limited
        self.ids = [d.id for d in self.deployments]

    async def order(self, available: Callable[[str], bool]) -> list[str]:
        """Deployment ids in the order to try them; empty when every one is at its quota (see :meth:`exhausted`).
        (A pool that is :attr:`single` needs no order: :meth:`Deployments.fixed`.)"""
        deps = self.deployments
        counts = await self.usage.counts(self.ids) if self.limited else [(0, 0)] * len(deps)
        rooms = [d.room(*c) for d, c in zip(deps, counts, strict=True)]
        open_ = [i for i in range(len(deps)) if rooms[i] > 0]
        ranked = self._rank(open_, rooms)
        ready = [i for i in ranked if available(deps[i].id)]
        return [deps[i].id for i in ready + [i for i in ranked if i not in ready]]

    def _rank(self, idx: list[int], rooms: list[float]) -> list[int]:
        deps = self.deployments
        if self.strategy == "weighted":
            return self._weighted(idx)
        if self.strategy == "least-busy":
            return sorted(idx, key=lambda i: deps[i].in_flight)
        if self.strategy == "latency":
            return sorted(idx, key=lambda i: (deps[i].ttfb_ms is not None, deps[i].ttfb_ms or 0.0))
        return sorted(idx, key=lambda i: -rooms[i])  # usage

    def _weighted(self, idx: list[int]) -> list[int]:
        """Weighted random order without replacement (the first pick is in proportion to weight)."""
        left, out = list(idx), []
        while left:
            weights = [self.deployments[i].config.weight for i in left]
            pick = self.rng.choices(range(len(left)), weights=weights)[0]
            out.append(left.pop(pick))
        return out

    def exhausted(self) -> ProviderError:
        """The error of a request that found every deployment at its rpm/tpm quota (no upstream was called)."""
        return ProviderError(
            f"every deployment of model {self.model!r} is at its rpm/tpm quota for this minute",
            error_class="quota_exhausted",
            status=429,
            retry_after=minute_left(),
        )


class Deployments:
    """Every pool of a gateway, by model name, and every deployment, by id."""

    def __init__(self, pools: dict[str, DeploymentPool], usage: UsageBook) -> None:
        self.pools = pools
        self.usage = usage
        self.by_id: dict[str, Deployment] = {d.id: d for p in pools.values() for d in p.deployments}

    @classmethod
    def from_config(
        cls, config: GatewayConfig, make_provider: Callable[[ModelConfig], Provider], usage: UsageBook
    ) -> Deployments:
        lb = config.load_balancing
        rng = random.Random(lb.seed)
        pools: dict[str, DeploymentPool] = {}
        for name in dict.fromkeys(m.name for m in config.models):
            entries = config.deployments(name)
            deps = [
                Deployment(did, name, m, make_provider(m), alpha=lb.latency_alpha)
                for did, m in zip(config.deployment_ids(name), entries, strict=True)
            ]
            pools[name] = DeploymentPool(name, deps, config.strategy(name), usage, rng)
        return cls(pools, usage)

    def ids(self, model: str) -> list[str]:
        return self.pools[model].ids

    def fixed(self, model: str) -> list[str] | None:
        """The order when it needs no strategy (one deployment, no quota), else None."""
        pool = self.pools[model]
        return pool.ids if pool.single else None

    async def order(self, model: str, available: Callable[[str], bool]) -> list[str]:
        return await self.pools[model].order(available)

    def exhausted(self, model: str) -> ProviderError:
        return self.pools[model].exhausted()

    async def request(self, dep_id: str, endpoint: Endpoint, body: JSON, timeout: float | None = None) -> JSON:
        """One unary attempt on deployment ``dep_id``: a request of its quota counted, in flight while it runs, its
        latency average updated; ``body`` goes out with the deployment's own upstream model name. ``timeout``
        defaults to the deployment's."""
        dep = self.by_id[dep_id]
        if dep.limited:  # one more request of its quota this minute
            await self.usage.add(dep.id, 1, 0)
        dep.in_flight += 1
        t0 = time.perf_counter()
        try:
            result = await dep.provider.request(
                endpoint,
                {**body, "model": dep.config.upstream_model},
                dep.config.timeout if timeout is None else timeout,
            )
        finally:
            dep.in_flight -= 1
        dep.first_byte(t0)
        return result

    def status(self, available: Callable[[str, float], bool], now: float) -> dict[str, list[dict[str, object]]]:
        """What this replica knows of each model with several deployments (for ``/ready``): requests in flight, the
        time-to-first-byte average, whether it is cooling down."""
        return {
            name: [
                {"id": d.id, "in_flight": d.in_flight, "cooling_down": not available(d.id, now),
                 "ttfb_ms": round(d.ttfb_ms, 3) if d.ttfb_ms is not None else None}
                for d in pool.deployments
            ]
            for name, pool in self.pools.items()
            if len(pool.deployments) > 1
        }  # fmt: skip


async def request_model(
    deployments: Deployments,
    executor: RetryExecutor,
    model: str,
    endpoint: Endpoint,
    body: JSON,
    timeout: float | None = None,
) -> JSON:
    """One unary request that ``model`` must answer (never a fallback model), sent the way a client's request is:
    its deployments in the strategy's order, retries and cooldowns under the executor, each deployment's own
    upstream model name, in-flight counts, quotas and latency averages kept. For the gateway's own background calls
    (shadow traffic, the quality judge) and the traffic tools, so that they balance and fail over like clients do.
    ``timeout`` (seconds per attempt) defaults to each deployment's own. Raises
    :class:`~wayfare.gateway.retry.AllAttemptsFailed` when every attempt failed."""
    result, dep_id, _ = await executor.run(
        [model], lambda dep_id: deployments.request(dep_id, endpoint, body, timeout), deployments
    )
    dep = deployments.by_id[dep_id]
    tokens = usage_tokens(result.get("usage"))
    if dep.limited and (tokens[0] or tokens[1]):
        await deployments.usage.add(dep.id, 0, sum(tokens))
    return result
