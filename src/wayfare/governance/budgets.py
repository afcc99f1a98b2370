"""USD budgets per key and per team: reserve an estimate before the call, settle with the real cost after.

A counter per (scope, period) holds spent + reserved ("committed") USD. ``reserve`` admits a request only while
every scope's committed amount is below its limit, and adds the reservation in the same atomic step, so the
committed amount never exceeds limit + one reservation; when each call's real cost is at most its reservation,
spend is bounded the same way. Counters start from the spend already in the request log for the period (the store
answers that from its (key_id, time) / (team, time) indexes), so a restart or a new replica continues where the
log is.

- ``MemoryLedger``: one process; check-and-add runs without an ``await`` in between, which is atomic on the loop.
- ``RedisLedger``: all replicas; check-and-add is one Lua script (INCRBYFLOAT after the checks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from wayfare.governance.errors import GovernanceError
from wayfare.governance.periods import BudgetPeriod, period_bounds
from wayfare.store.record import utcnow

SpendSource = Callable[[str, str, datetime], Awaitable[float]]
"""``await source(kind, ident, since)``: USD already spent by key/team ``ident`` since ``since`` (the request log)."""


@dataclass(frozen=True, slots=True)
class BudgetScope:
    kind: str
    """``key`` or ``team``."""
    ident: str
    limit_usd: float
    period: BudgetPeriod = "total"

    def counter(self, now: datetime) -> tuple[str, datetime, datetime | None]:
        start, end = period_bounds(self.period, now)
        return f"{self.kind}:{self.ident}:{self.period}:{int(start.timestamp())}", start, end


@dataclass(slots=True)
class Reservation:
    counters: list[str]
    amount: float
    settled: bool = False


def budget_exceeded(scope: BudgetScope, committed: float, end: datetime | None, now: datetime) -> GovernanceError:
    retry = (end - now).total_seconds() if end is not None else None
    when = f"; it resets at {end.isoformat()}" if end is not None else ""
    return GovernanceError(
        429,
        "insufficient_quota",
        f"Budget exceeded for {scope.kind} {scope.ident}: ${committed:.6f} of ${scope.limit_usd:.6f} "
        f"({scope.period}) is spent or reserved{when}.",
        code="budget_exceeded",
        retry_after=retry,
    )


class BudgetLedger(Protocol):
    async def reserve(self, scopes: Sequence[BudgetScope], amount: float) -> Reservation:
        """Add ``amount`` to every scope, or raise a 429 :class:`GovernanceError` if any scope is used up."""
        ...

    async def settle(self, reservation: Reservation, actual: float) -> None:
        """Replace the reservation by the real cost (idempotent)."""
        ...

    async def committed(self, scope: BudgetScope) -> float:
        """Spent + reserved USD of the scope's current period."""
        ...

    async def aclose(self) -> None: ...


async def _no_spend(kind: str, ident: str, since: datetime) -> float:
    return 0.0


class MemoryLedger:
    """Budgets of one process."""

    def __init__(self, source: SpendSource | None = None) -> None:
        self.source = source or _no_spend
        self._committed: dict[str, float] = {}
        self._current: dict[tuple[str, str], str] = {}

    async def _ensure(self, scope: BudgetScope, now: datetime) -> tuple[str, datetime | None]:
        name, start, end = scope.counter(now)
        if name not in self._committed:
            seed = await self.source(scope.kind, scope.ident, start)
            if name not in self._committed:  # another request may have seeded it while we awaited
                self._committed[name] = seed
                old = self._current.get((scope.kind, scope.ident))
                if old is not None and old != name:
                    self._committed.pop(old, None)
                self._current[(scope.kind, scope.ident)] = name
        return name, end

    async def reserve(self, scopes: Sequence[BudgetScope], amount: float) -> Reservation:
        now = utcnow()
        names = [await self._ensure(s, now) for s in scopes]
        # check and add with no await in between: atomic on the event loop
        for scope, (name, end) in zip(scopes, names, strict=True):
            if self._committed[name] >= scope.limit_usd:
                raise budget_exceeded(scope, self._committed[name], end, now)
        for name, _ in names:
            self._committed[name] += amount
        return Reservation([n for n, _ in names], amount)

    async def settle(self, reservation: Reservation, actual: float) -> None:
        self.settle_now(reservation, actual)

    def settle_now(self, reservation: Reservation, actual: float) -> None:
        """:meth:`settle` without the coroutine (nothing here waits)."""
        if reservation.settled:
            return
        reservation.settled = True
        for name in reservation.counters:
            if name in self._committed:
                self._committed[name] += actual - reservation.amount

    async def committed(self, scope: BudgetScope) -> float:
        name, _ = await self._ensure(scope, utcnow())
        return self._committed[name]

    async def aclose(self) -> None:
        return None


_RESERVE = """
local amount = tonumber(ARGV[1])
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local seed = ARGV[3 * i]
    if seed == '' then return {-1, i} end
    redis.call('SET', KEYS[i], seed, 'NX')
    local ttl = tonumber(ARGV[3 * i + 1])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
  end
end
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i])) >= tonumber(ARGV[3 * i - 1]) then return {0, i} end
end
for i = 1, #KEYS do redis.call('INCRBYFLOAT', KEYS[i], amount) end
return {1, 0}
"""

_SETTLE = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBYFLOAT', KEYS[i], ARGV[1]) end
end
return 1
"""

_KEEP_AFTER_PERIOD_MS = 86_400_000


class RedisLedger:
    """Budgets shared by every replica using the same Redis (keys ``<prefix>budget:...``)."""

    def __init__(self, redis: Any, source: SpendSource | None = None, prefix: str = "wf:") -> None:
        self.redis, self.source, self.prefix = redis, source or _no_spend, prefix
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)

    async def reserve(self, scopes: Sequence[BudgetScope], amount: float) -> Reservation:
        now = utcnow()
        counters = [s.counter(now) for s in scopes]
        keys = [self.prefix + "budget:" + name for name, _, _ in counters]
        seeds = [""] * len(scopes)
        for _ in range(2):
            args: list[Any] = [repr(float(amount))]
            for scope, seed, (_, _, end) in zip(scopes, seeds, counters, strict=True):
                ttl = 0 if end is None else int((end - now).total_seconds() * 1000) + _KEEP_AFTER_PERIOD_MS
                args += [repr(float(scope.limit_usd)), seed, ttl]
            ok, index = await self._reserve(keys=keys, args=args)
            if ok == 1:
                return Reservation(keys, amount)
            if ok == 0:
                scope = scopes[index - 1]
                committed = float(await self.redis.get(keys[index - 1]) or 0.0)
                raise budget_exceeded(scope, committed, counters[index - 1][2], now)
            # a counter is missing: seed every scope from the request log, then retry once (SET NX keeps a race's
            # first seed)
            seeds = [
                repr(float(await self.source(s.kind, s.ident, start)))
                for s, (_, start, _) in zip(scopes, counters, strict=True)
            ]
        raise RuntimeError("budget counters could not be seeded in Redis")

    async def settle(self, reservation: Reservation, actual: float) -> None:
        if reservation.settled:
            return
        reservation.settled = True
        await self._settle(keys=reservation.counters, args=[repr(float(actual - reservation.amount))])

    async def committed(self, scope: BudgetScope) -> float:
        now = utcnow()
        name, start, _ = scope.counter(now)
        value = await self.redis.get(self.prefix + "budget:" + name)
        if value is None:
            return await self.source(scope.kind, scope.ident, start)
        return float(value)

    async def aclose(self) -> None:
        return None
