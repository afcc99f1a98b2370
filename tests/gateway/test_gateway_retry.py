"""The retry executor and cooldowns on their own (plain coroutines standing in for upstream calls)."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from wayfare.gateway.config import RetryConfig
from wayfare.gateway.retry import AllAttemptsFailed, Cooldowns, RetryExecutor
from wayfare.providers.errors import ProviderError, parse_retry_after


def _executor(**kw: float) -> RetryExecutor:
    cfg = RetryConfig(**{"max_retries": 2, "backoff_base": 0.001, "cooldown_failures": 2, "cooldown_seconds": 60, **kw})
    return RetryExecutor(cfg, Cooldowns(cfg.cooldown_failures, cfg.cooldown_seconds), random.Random(0))


def test_retries_then_falls_back_then_cools_down() -> None:
    ex = _executor()
    calls: list[str] = []

    async def call(model: str) -> str:
        calls.append(model)
        if model == "a":
            raise ProviderError("boom", error_class="server_error", status=500)
        return f"ok {model}"

    result, used, attempts = asyncio.run(ex.run(["a", "b"], call))
    assert (result, used) == ("ok b", "b") and calls == ["a", "a", "a", "b"] and len(attempts) == 3
    calls.clear()
    asyncio.run(ex.run(["a", "b"], call))  # second failed request: "a" goes into cooldown
    calls.clear()
    asyncio.run(ex.run(["a", "b"], call))
    assert calls == ["b"]  # "a" is skipped while cooling down
    assert ex.cooldowns.cooling(time.monotonic()) == ["a"]


def test_client_errors_stop_the_chain() -> None:
    ex = _executor()

    async def call(model: str) -> str:
        raise ProviderError("bad request", error_class="client_error", status=400)

    with pytest.raises(AllAttemptsFailed) as info:
        asyncio.run(ex.run(["a", "b"], call))
    assert [a.model for a in info.value.attempts] == ["a"]


def test_long_retry_after_moves_to_fallback_and_deadline_bounds_everything() -> None:
    ex = _executor(max_retry_after=0.5)
    calls: list[str] = []

    async def call(model: str) -> str:
        calls.append(model)
        if model == "a":
            raise ProviderError("slow down", error_class="rate_limited", status=429, retry_after=30)
        return "ok"

    assert asyncio.run(ex.run(["a", "b"], call))[1] == "b" and calls == ["a", "b"]

    async def hang(model: str) -> str:
        await asyncio.sleep(10)
        return "never"

    with pytest.raises(AllAttemptsFailed) as info:
        asyncio.run(_executor(deadline=0.05).run(["a", "b"], hang))
    assert info.value.last.error_class == "deadline"


def test_backoff_is_bounded_full_jitter() -> None:
    ex = _executor(backoff_base=0.1, backoff_max=0.3)
    waits = [ex.backoff(i) for i in range(6) for _ in range(50)]
    assert min(waits) >= 0 and max(waits) <= 0.3 and len(set(waits)) > 100


def test_parse_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after({}) is None
