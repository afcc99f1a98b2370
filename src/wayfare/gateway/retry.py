"""Retries with exponential backoff and full jitter (honouring Retry-After), fallback chains, a total deadline, and
cooldown of deployments that keep failing.

A chain names models; a model may have several deployments (:class:`Targets` gives their order per request). Each
of a model's deployments is tried once, in that order, then the first ones again for ``max_retries`` more attempts
(with backoff) while the errors are retryable; then the chain moves on to the model's fallbacks. With one deployment
per model this is ``1 + max_retries`` attempts on it, as before deployments existed."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from wayfare.gateway.config import RetryConfig
from wayfare.providers.errors import ProviderError

T = TypeVar("T")


@dataclass(slots=True)
class Attempt:
    model: str
    error_class: str | None
    status: int | None
    message: str = ""
    deployment: str | None = None


class Targets(Protocol):
    """The deployments of each model (by id), in the order one request should try them."""

    def ids(self, model: str) -> list[str]: ...

    def fixed(self, model: str) -> list[str] | None:
        """The order without asking :meth:`order` (a model with one deployment and no quota), else None."""
        ...

    async def order(self, model: str, available: Callable[[str], bool]) -> list[str]:
        """Empty when none may take the request (every one at its quota): :meth:`exhausted` says why."""
        ...

    def exhausted(self, model: str) -> ProviderError: ...


class AllAttemptsFailed(Exception):
    """Every attempt on every deployment of the chain failed (or a client error stopped the chain)."""

    def __init__(self, last: ProviderError, attempts: list[Attempt]) -> None:
        super().__init__(last.message)
        self.last = last
        self.attempts = attempts


@dataclass
class Cooldowns:
    """A deployment that failed ``failures`` requests in a row is skipped for ``seconds`` (unless nothing else is
    left). One success resets its count."""

    failures: int
    seconds: float
    _count: dict[str, int] = field(default_factory=dict)
    _until: dict[str, float] = field(default_factory=dict)

    def available(self, model: str, now: float) -> bool:
        return self._until.get(model, 0.0) <= now

    def failure(self, model: str, now: float) -> None:
        n = self._count.get(model, 0) + 1
        self._count[model] = n
        if n >= self.failures:
            self._until[model] = now + self.seconds
            self._count[model] = 0

    def success(self, model: str) -> None:
        if self._count:
            self._count.pop(model, None)

    def cooling(self, now: float) -> list[str]:
        return [m for m, until in self._until.items() if until > now]


@dataclass
class RetryExecutor:
    """Runs ``call(model)`` over a fallback chain under :class:`RetryConfig`."""

    config: RetryConfig
    cooldowns: Cooldowns
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def from_config(cls, config: RetryConfig) -> RetryExecutor:
        return cls(config, Cooldowns(config.cooldown_failures, config.cooldown_seconds))

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]."""
        return self.rng.uniform(0.0, min(self.config.backoff_max, self.config.backoff_base * 2**attempt))

    async def run(
        self, chain: list[str], call: Callable[[str], Awaitable[T]], targets: Targets | None = None
    ) -> tuple[T, str, list[Attempt]]:
        """The first success as ``(result, deployment id, attempts)``; :class:`AllAttemptsFailed` otherwise.
        Without ``targets`` every model is its own single deployment (its id is the model name)."""
        cfg = self.config
        start = time.monotonic()
        deadline = start + cfg.deadline

        def available(dep: str) -> bool:
            return self.cooldowns.available(dep, start)

        if len(chain) > 1:
            ready = [m for m in chain if any(map(available, targets.ids(m) if targets else [m]))]
            chain = ready + [m for m in chain if m not in ready]
        attempts: list[Attempt] = []
        last: ProviderError | None = None
        for model in chain:
            order = [model] if targets is None else targets.fixed(model) or await targets.order(model, available)
            if not order:
                assert targets is not None
                last = targets.exhausted(model)
                attempts.append(Attempt(model, last.error_class, last.status, last.message))
                continue
            failed: list[str] = []
            budget = len(order) + cfg.max_retries
            for i in range(budget):
                dep = order[i % len(order)]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        result = await call(dep)
                except ProviderError as exc:
                    last = exc
                except TimeoutError:
                    last = ProviderError(f"deadline of {cfg.deadline:g} s reached", error_class="deadline")
                    attempts.append(Attempt(model, last.error_class, None, last.message, dep))
                    raise AllAttemptsFailed(last, attempts) from None
                else:
                    self.cooldowns.success(dep)
                    for other in failed:
                        if other != dep:
                            self.cooldowns.failure(other, time.monotonic())
                    return result, dep, attempts
                attempts.append(Attempt(model, last.error_class, last.status, last.message, dep))
                if not last.fallback_ok:
                    raise AllAttemptsFailed(last, attempts)
                if dep not in failed:
                    failed.append(dep)
                if i + 1 < len(order):
                    continue  # the model's next deployment, at once
                if not last.retryable or i == budget - 1:
                    break
                wait = last.retry_after if last.retry_after is not None else self.backoff(i + 1 - len(order))
                if wait > cfg.max_retry_after or time.monotonic() + wait >= deadline:
                    break
                await asyncio.sleep(wait)
            for dep in failed:
                self.cooldowns.failure(dep, time.monotonic())
            if time.monotonic() >= deadline:
                break
        if last is None:
            last = ProviderError("no deployment could be tried before the deadline", error_class="deadline")
        raise AllAttemptsFailed(last, attempts)
