"""``RedisGate`` on the real Redis: budget reservation + rate-limit check in one script, settlement + tokens in one
script, with the outcomes of the separate ledger and limiter (which the other counter tests check)."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime

import pytest

from wayfare.governance.budgets import BudgetScope, MemoryLedger, RedisLedger, SpendSource
from wayfare.governance.errors import GovernanceError
from wayfare.governance.ratelimit import MemoryRateLimiter, RedisRateLimiter
from wayfare.governance.redis_gate import RedisGate
from wayfare.governance.service import connect_redis

pytestmark = pytest.mark.services


def _gate(
    redis_url: str, prefix: str, source: SpendSource | None = None, window_s: float = 60.0, lease_s: float = 0.25
) -> RedisGate:
    client = connect_redis(redis_url)
    ledger, limiter = RedisLedger(client, source, prefix), RedisRateLimiter(client, window_s, prefix)
    gate = RedisGate.for_pair(ledger, limiter, lease_s)
    assert gate is not None
    return gate


def test_gate_only_for_two_redis_counters_on_one_client(redis_url: str, redis_prefix: str) -> None:
    client, other = connect_redis(redis_url), connect_redis(redis_url)
    assert RedisGate.for_pair(MemoryLedger(), MemoryRateLimiter()) is None
    assert RedisGate.for_pair(RedisLedger(client), MemoryRateLimiter()) is None
    assert RedisGate.for_pair(RedisLedger(client), RedisRateLimiter(other)) is None
    with pytest.raises(ValueError, match="same Redis client"):
        RedisGate(RedisLedger(client), RedisRateLimiter(other))


@pytest.mark.parametrize("lease_s", [0.0, 0.25], ids=["exact", "leases"])
def test_concurrent_admits_hold_rpm_exactly_and_budget_within_one_reservation(
    redis_url: str, redis_prefix: str, lease_s: float
) -> None:
    limit, reserve, rpm = 1.0, 0.03, 150
    rng = random.Random(3)
    actuals = [rng.uniform(0.0, reserve) for _ in range(300)]

    async def main() -> tuple[int, int, int, int, float, float]:
        gates = [_gate(redis_url, redis_prefix, lease_s=lease_s) for _ in range(2)]  # two replicas
        scope = BudgetScope("key", "k1", limit, "monthly")
        admitted = budget_refused = rate_refused = 0
        spent = 0.0

        async def one(i: int) -> None:
            nonlocal admitted, budget_refused, rate_refused, spent
            gate = gates[i % 2]
            try:
                res = await gate.admit([scope], reserve, [("key:k1:rpm", rpm)], [("key:k1:tpm", 10**9)])
            except GovernanceError as exc:
                if exc.code == "budget_exceeded":
                    budget_refused += 1
                else:
                    assert exc.code == "rate_limit_exceeded" and exc.retry_after is not None
                    rate_refused += 1
                return
            admitted += 1
            await asyncio.sleep(rng.uniform(0, 0.002))
            await gate.settle(res, actuals[i], ["key:k1:tpm"], 10)
            spent += actuals[i]

        await asyncio.gather(*(one(i) for i in range(300)))
        redis = gates[0].ledger.redis
        peak = int(await redis.get(redis_prefix + "rl:key:k1:rpm"))
        for g in gates:  # gives back what is left of their leases
            await g.aclose()
        committed = await gates[0].ledger.committed(scope)
        tokens = int(await redis.get(redis_prefix + "rl:key:k1:tpm"))
        requests = int(await redis.get(redis_prefix + "rl:key:k1:rpm"))
        assert tokens == 10 * admitted
        for g in gates:
            await g.ledger.redis.aclose()
        return admitted, budget_refused, rate_refused, requests, peak, spent, committed

    admitted, budget_refused, rate_refused, requests, peak, spent, committed = asyncio.run(main())
    assert admitted + budget_refused + rate_refused == 300
    assert peak == rpm  # the window filled (with lent slots counted), never beyond
    # every admitted request counts, a budget refusal counts unless the window is full too; unused lent slots return
    assert admitted <= requests <= admitted + budget_refused
    if lease_s == 0:
        assert requests == rpm  # exact: every request checked in Redis
    assert 0 < admitted < rpm and budget_refused > 0  # rate refusals only once settlements free budget again
    assert spent <= limit + reserve
    assert committed == pytest.approx(spent, abs=1e-9)  # every reservation was replaced by its real cost


def test_refusals_and_what_they_count(redis_url: str, redis_prefix: str) -> None:
    async def main() -> None:
        gate = _gate(redis_url, redis_prefix)
        redis = gate.ledger.redis
        scope = BudgetScope("team", "t", 0.05, "daily")
        res = await gate.admit([scope], 0.06, [("key:a:rpm", 2)], [])
        assert res is not None and await gate.ledger.committed(scope) == pytest.approx(0.06)
        # the budget is used up: refused with the committed amount, and the request still counts one rpm
        with pytest.raises(GovernanceError) as exc:
            await gate.admit([scope], 0.01, [("key:a:rpm", 2)], [])
        assert exc.value.code == "budget_exceeded" and "$0.060000 of $0.050000" in exc.value.message
        assert exc.value.retry_after is not None and exc.value.retry_after > 0
        assert int(await redis.get(redis_prefix + "rl:key:a:rpm")) == 2
        # rpm used up: refused, and neither the window nor the budget moves
        await gate.settle(res, 0.0, [], 0)
        with pytest.raises(GovernanceError) as exc:
            await gate.admit([scope], 0.01, [("key:a:rpm", 2)], [])
        assert exc.value.code == "rate_limit_exceeded" and "key:a:rpm" in exc.value.message
        assert 0 < (exc.value.retry_after or 0) <= 60
        assert int(await redis.get(redis_prefix + "rl:key:a:rpm")) == 2
        assert await gate.ledger.committed(scope) == pytest.approx(0.0)
        # tpm: a window that has used its tokens refuses; settle charges tokens once, the budget delta once
        res2 = await gate.admit([], 0.0, [], [("key:b:tpm", 100)])
        assert res2 is None
        await gate.settle(res2, 0.0, ["key:b:tpm"], 100)
        with pytest.raises(GovernanceError, match="key:b:tpm"):
            await gate.admit([], 0.0, [("key:b:rpm", 10)], [("key:b:tpm", 100)])
        assert await redis.get(redis_prefix + "rl:key:b:rpm") is None
        await redis.aclose()

    asyncio.run(main())


def test_counters_seed_from_the_request_log_once(redis_url: str, redis_prefix: str) -> None:
    calls: list[tuple[str, str]] = []

    async def source(kind: str, ident: str, since: datetime) -> float:
        calls.append((kind, ident))
        return 0.5

    async def main() -> None:
        gate = _gate(redis_url, redis_prefix, source)
        key, team = BudgetScope("key", "k", 0.6, "weekly"), BudgetScope("team", "t", 10.0, "total")
        r1 = await gate.admit([key, team], 0.2, [], [])
        assert r1 is not None and sorted(calls) == [("key", "k"), ("team", "t")]
        assert await gate.ledger.committed(key) == pytest.approx(0.7)
        with pytest.raises(GovernanceError, match="Budget exceeded for key k"):  # 0.7 >= 0.6
            await gate.admit([key, team], 0.2, [], [])
        await gate.settle(r1, 0.05, [], 0)
        await gate.settle(r1, 0.05, [], 0)  # idempotent
        assert await gate.ledger.committed(key) == pytest.approx(0.55)
        assert await gate.ledger.committed(team) == pytest.approx(0.55)
        assert len(calls) == 2  # seeded once
        await gate.ledger.redis.aclose()

    asyncio.run(main())


def test_settle_soon_batches_land_before_aclose_returns(redis_url: str, redis_prefix: str) -> None:
    async def main() -> None:
        gate = _gate(redis_url, redis_prefix, lease_s=0.0)
        scope = BudgetScope("key", "s", 100.0, "daily")
        reservations = await asyncio.gather(
            *(gate.admit([scope], 0.5, [("key:s:rpm", 1000)], [("key:s:tpm", 10**6)]) for _ in range(40))
        )
        assert await gate.ledger.committed(scope) == pytest.approx(20.0)
        for res in reservations:
            gate.settle_soon(res, 0.01, ["key:s:tpm"], 7)
            gate.settle_soon(res, 0.01, [], 0)  # settled already: no second budget correction
        await gate.aclose()
        assert await gate.ledger.committed(scope) == pytest.approx(0.4)
        assert int(await gate.ledger.redis.get(redis_prefix + "rl:key:s:tpm")) == 280
        assert int(await gate.ledger.redis.get(redis_prefix + "rl:key:s:rpm")) == 40
        await gate.ledger.redis.aclose()

    asyncio.run(main())


def test_queued_settlements_ride_on_the_next_admit(redis_url: str, redis_prefix: str) -> None:
    async def main() -> None:
        client = connect_redis(redis_url)
        ledger, limiter = RedisLedger(client, None, redis_prefix), RedisRateLimiter(client, 60.0, redis_prefix)
        gate = RedisGate(ledger, limiter, 30.0, lease_s=0.0)
        scope = BudgetScope("key", "q", 1.0, "total")
        first = await gate.admit([scope], 0.6, [], [("key:q:tpm", 10**6)])
        gate.settle_soon(first, 0.1, ["key:q:tpm"], 9)  # not sent: the flush timer is 30 s away
        assert await gate.ledger.committed(scope) == pytest.approx(0.6)
        # the next admit applies it before checking: 0.1 < 1.0 admits (0.6 would have too, so reserve past it)
        second = await gate.admit([scope], 0.95, [], [("key:q:tpm", 10**6)])
        assert await gate.ledger.committed(scope) == pytest.approx(1.05)
        assert int(await client.get(redis_prefix + "rl:key:q:tpm")) == 9
        gate.settle_soon(second, 0.0, [], 0)
        # without the queued settlement 1.05 >= 1.0 would refuse; it lands first (0.1 left), so this is admitted
        third = await gate.admit([scope], 0.5, [], [])
        assert third is not None and await gate.ledger.committed(scope) == pytest.approx(0.6)
        await gate.aclose()  # nothing queued: returns at once instead of waiting for the timer
        await client.aclose()

    asyncio.run(main())
