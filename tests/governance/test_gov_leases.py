"""Headroom leases on the real Redis: a busy key far from its limits is admitted mostly without a round trip, the
limits still hold exactly across replicas near the end, and unused headroom goes back (only to the window it came
from)."""

from __future__ import annotations

import asyncio

import pytest

from wayfare.governance.budgets import BudgetScope, RedisLedger
from wayfare.governance.errors import GovernanceError
from wayfare.governance.ratelimit import RedisRateLimiter
from wayfare.governance.redis_gate import RedisGate
from wayfare.governance.service import connect_redis

pytestmark = pytest.mark.services


def _gate(
    redis_url: str, prefix: str, window_s: float = 60.0, lease_s: float = 0.25, flush: float = 0.005
) -> RedisGate:
    client = connect_redis(redis_url)
    return RedisGate(RedisLedger(client, None, prefix), RedisRateLimiter(client, window_s, prefix), flush, lease_s)


async def _scripts_run(gate: RedisGate) -> int:
    stats = await gate.ledger.redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


@pytest.mark.parametrize("lease_s", [0.0, 0.25], ids=["exact", "leases"])
def test_a_busy_key_far_from_its_limits_skips_most_round_trips(
    redis_url: str, redis_prefix: str, lease_s: float
) -> None:
    async def main() -> tuple[int, int, float, int]:
        gate = _gate(redis_url, redis_prefix, lease_s=lease_s, flush=30.0)  # settlements ride on admits
        scope = BudgetScope("key", "busy", 1_000.0, "daily")
        before = await _scripts_run(gate)
        for i in range(500):
            res = await gate.admit([scope], 0.01, [("key:busy:rpm", 100_000)], [("key:busy:tpm", 10**9)])
            gate.settle_soon(res, 0.004, ["key:busy:tpm"], 3)
            if i % 50 == 0:
                await asyncio.sleep(0.001)  # let other tasks run, as a server would
        calls = await _scripts_run(gate) - before
        await gate.aclose()  # gives back the unused headroom, applies the queued settlements
        redis = gate.ledger.redis
        requests = int(await redis.get(redis_prefix + "rl:key:busy:rpm"))
        tokens = int(await redis.get(redis_prefix + "rl:key:busy:tpm"))
        committed = await gate.ledger.committed(scope)
        await redis.aclose()
        return calls, requests, committed, tokens

    calls, requests, committed, tokens = asyncio.run(main())
    if lease_s == 0:
        assert calls >= 500  # one script per request (and a retry if Redis had to load the script)
    else:
        assert calls < 50, calls  # blocks of up to 64 requests
    # either way the counters end exactly where 500 requests put them
    assert requests == 500 and tokens == 1_500
    assert committed == pytest.approx(500 * 0.004, abs=1e-9)


def test_near_a_limit_two_replicas_admit_exactly_the_limit(redis_url: str, redis_prefix: str) -> None:
    async def main() -> tuple[list[bool], list[bool], float, float, int]:
        gates = [_gate(redis_url, redis_prefix) for _ in range(2)]
        budget = BudgetScope("team", "near", 2.0, "daily")
        by_rpm: list[bool] = []
        for i in range(300):  # interleaved, back to back: busy enough for leases on both replicas
            try:
                await gates[i % 2].admit([], 0.0, [("key:near:rpm", 100)], [])
                by_rpm.append(True)
            except GovernanceError as exc:
                assert exc.code == "rate_limit_exceeded"
                by_rpm.append(False)
        by_budget: list[bool] = []
        spent = 0.0
        for i in range(400):
            try:
                res = await gates[i % 2].admit([budget], 0.01, [], [])
            except GovernanceError as exc:
                assert exc.code == "budget_exceeded"
                by_budget.append(False)
                continue
            by_budget.append(True)
            await gates[i % 2].settle(res, 0.01, [], 0)
            spent += 0.01
        for g in gates:
            await g.aclose()
        committed = await gates[0].ledger.committed(budget)
        requests = int(await gates[0].ledger.redis.get(redis_prefix + "rl:key:near:rpm"))
        for g in gates:
            await g.ledger.redis.aclose()
        return by_rpm, by_budget, spent, committed, requests

    by_rpm, by_budget, spent, committed, requests = asyncio.run(main())
    assert by_rpm.count(True) == 100 and requests == 100  # not one more, and none lost to unused leases
    assert not any(by_rpm[by_rpm.index(False) + 10 :])  # once refused, refused (leftover slots end within a few)
    assert spent <= 2.0 + 0.01  # within one reservation
    assert by_budget.count(True) >= 199  # every cent of the budget admitted (float rounding may cost one)
    assert committed == pytest.approx(spent, abs=1e-9)


def test_unused_slots_go_back_only_to_the_window_they_came_from(redis_url: str, redis_prefix: str) -> None:
    async def main() -> int:
        # a 0.4 s window: the lease ends 50 ms before it; its return waits in the queue (flush timer 30 s) until
        # an admit in the NEXT window carries it, and must not lower that window
        gate = _gate(redis_url, redis_prefix, window_s=0.4, lease_s=5.0, flush=30.0)
        redis = gate.ledger.redis
        key = redis_prefix + "rl:key:roll:rpm"
        limits = [("key:roll:rpm", 1_000_000)]
        for _ in range(200):
            await gate.admit([], 0.0, limits, [])
        lent = int(await redis.get(key))
        assert lent > 200  # a lease is out: more counted than admitted
        await asyncio.sleep(0.5)  # the window ends; the lease expired and its return is queued
        assert gate._queue, "the expired lease's return should be waiting in the queue"
        await gate.admit([], 0.0, limits, [])  # first request of a new window, carrying the stale return
        fresh = int(await redis.get(key)) - sum(lease.slots for lease in gate.leases.leases.values())
        await gate.aclose()
        await redis.aclose()
        return fresh

    assert asyncio.run(main()) == 1  # the new window holds this request (and its own new lease) only


def test_returned_slots_land_in_their_own_window(redis_url: str, redis_prefix: str) -> None:
    async def main() -> int:
        gate = _gate(redis_url, redis_prefix, lease_s=0.1)
        for _ in range(100):
            await gate.admit([], 0.0, [("key:ret:rpm", 1_000_000)], [])
        await asyncio.sleep(0.3)  # leases expire after 0.1 s and their rest is sent back
        count = int(await gate.ledger.redis.get(redis_prefix + "rl:key:ret:rpm"))
        await gate.aclose()
        await gate.ledger.redis.aclose()
        return count

    assert asyncio.run(main()) == 100
