"""Budgets and rate limits, in-process and on the real Redis: concurrent callers never overshoot by more than one
reservation (budgets) or at all (request limits); windows and periods reset; counters seed from the request log."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from wayfare.governance.budgets import BudgetLedger, BudgetScope, MemoryLedger, RedisLedger
from wayfare.governance.errors import GovernanceError
from wayfare.governance.periods import period_bounds
from wayfare.governance.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from wayfare.governance.service import connect_redis

Factory = Callable[[Any], Any]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def backend(request: pytest.FixtureRequest) -> tuple[str, str | None, str]:
    if request.param == "memory":
        return "memory", None, ""
    return "redis", request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")


def _ledger(backend: tuple[str, str | None, str], client: Any, source: Any = None) -> BudgetLedger:
    if backend[0] == "memory":
        return MemoryLedger(source)
    return RedisLedger(client, source, prefix=backend[2])


def _limiter(backend: tuple[str, str | None, str], client: Any, window_s: float = 60.0) -> RateLimiter:
    if backend[0] == "memory":
        return MemoryRateLimiter(window_s=window_s)
    return RedisRateLimiter(client, window_s=window_s, prefix=backend[2])


def _client(backend: tuple[str, str | None, str]) -> Any:
    return connect_redis(backend[1]) if backend[1] else None


def test_concurrent_reservations_overshoot_by_at_most_one(backend: tuple[str, str | None, str]) -> None:
    limit, reserve = 1.0, 0.03
    rng = random.Random(7)
    actuals = [rng.uniform(0.0, reserve) for _ in range(400)]

    async def main() -> tuple[float, int, int]:
        client = _client(backend)
        # two ledgers on one backend: with Redis they stand for two replicas sharing the counter
        ledgers = [_ledger(backend, client), _ledger(backend, client)] if client else [_ledger(backend, None)] * 2
        scope = BudgetScope("key", "k1", limit, "monthly")
        spent, refused = 0.0, 0

        async def one(i: int) -> None:
            nonlocal spent, refused
            ledger = ledgers[i % 2]
            try:
                res = await ledger.reserve([scope], reserve)
            except GovernanceError as exc:
                assert exc.status == 429 and exc.code == "budget_exceeded" and exc.retry_after
                refused += 1
                return
            await asyncio.sleep(rng.uniform(0, 0.01))
            spent += actuals[i]
            await ledger.settle(res, actuals[i])

        await asyncio.gather(*(one(i) for i in range(len(actuals))))
        committed = await ledgers[0].committed(scope)
        if client:
            await client.aclose()
        return spent, refused, round(committed * 1e9)

    spent, refused, committed_nano = asyncio.run(main())
    assert refused > 0, "the budget never ran out: the test proves nothing"
    assert spent <= limit + reserve
    assert committed_nano == round(spent * 1e9)  # every reservation was replaced by its real cost


def test_two_scopes_and_refusal_reserves_nothing(backend: tuple[str, str | None, str]) -> None:
    async def main() -> None:
        client = _client(backend)
        ledger = _ledger(backend, client)
        key, team = BudgetScope("key", "k", 10.0, "total"), BudgetScope("team", "t", 0.05, "daily")
        r1 = await ledger.reserve([key, team], 0.04)
        r2 = await ledger.reserve([key, team], 0.04)  # team at 0.04 < 0.05: admitted, now 0.08
        with pytest.raises(GovernanceError) as info:
            await ledger.reserve([key, team], 0.04)
        assert "team t" in info.value.message and info.value.retry_after is not None
        assert await ledger.committed(key) == pytest.approx(0.08)  # the refused one added nothing
        await ledger.settle(r1, 0.0)
        await ledger.settle(r1, 0.0)  # idempotent
        await ledger.settle(r2, 0.01)
        assert await ledger.committed(team) == pytest.approx(0.01)
        if client:
            await client.aclose()

    asyncio.run(main())


def test_counters_start_from_the_request_log(backend: tuple[str, str | None, str]) -> None:
    calls: list[tuple[str, str, datetime]] = []

    async def source(kind: str, ident: str, since: datetime) -> float:
        calls.append((kind, ident, since))
        return 0.95

    async def main() -> None:
        client = _client(backend)
        ledger = _ledger(backend, client, source)
        scope = BudgetScope("key", "seeded", 1.0, "weekly")
        await ledger.reserve([scope], 0.1)  # 0.95 < 1.0: admitted
        with pytest.raises(GovernanceError):
            await ledger.reserve([scope], 0.1)
        if client:
            await client.aclose()

    asyncio.run(main())
    assert calls and calls[0][:2] == ("key", "seeded") and calls[0][2].weekday() == 0


def test_period_bounds() -> None:
    now = datetime(2026, 12, 31, 13, 5, tzinfo=UTC)  # a Thursday
    assert period_bounds("daily", now) == (datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert period_bounds("weekly", now) == (datetime(2026, 12, 28, tzinfo=UTC), datetime(2027, 1, 4, tzinfo=UTC))
    assert period_bounds("monthly", now) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert period_bounds("total", now)[1] is None
    scope = BudgetScope("key", "k", 1.0, "daily")
    assert scope.counter(now)[0] != scope.counter(datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC))[0]


def test_rpm_holds_under_concurrency_and_windows_reset(backend: tuple[str, str | None, str]) -> None:
    async def main() -> None:
        client = _client(backend)
        limiters = [_limiter(backend, client, 0.5), _limiter(backend, client, 0.5)] if client else None
        limiters = limiters or [_limiter(backend, None, 0.5)] * 2
        admitted, waits = 0, []

        async def one(i: int) -> None:
            nonlocal admitted
            try:
                await limiters[i % 2].acquire([("key:k:rpm", 17), ("model:m:rpm", 1000)], [])
                admitted += 1
            except GovernanceError as exc:
                assert exc.status == 429 and exc.code == "rate_limit_exceeded" and "key:k:rpm" in exc.message
                waits.append(exc.retry_after)

        await asyncio.gather(*(one(i) for i in range(200)))
        assert admitted == 17 and len(waits) == 183
        assert all(w is not None and 0 < w <= 0.5 for w in waits)
        await asyncio.sleep(0.55)
        await limiters[0].acquire([("key:k:rpm", 17)], [])  # a new window
        if client:
            await client.aclose()

    asyncio.run(main())


def test_tpm_blocks_once_tokens_are_used(backend: tuple[str, str | None, str]) -> None:
    async def main() -> None:
        client = _client(backend)
        limiter = _limiter(backend, client)
        await limiter.acquire([], [("key:k:tpm", 100)])
        await limiter.add_tokens(["key:k:tpm"], 60)
        await limiter.acquire([], [("key:k:tpm", 100)])
        await limiter.add_tokens(["key:k:tpm"], 60)
        with pytest.raises(GovernanceError) as info:
            await limiter.acquire([("key:k:rpm", 100)], [("key:k:tpm", 100)])
        assert 50 < (info.value.retry_after or 0) <= 60
        # the refused request was not counted against the rpm limit
        for _ in range(100):
            await limiter.acquire([("key:k:rpm", 100)], [])
        if client:
            await client.aclose()

    asyncio.run(main())
