"""One Redis round trip per request for budgets and rate limits together.

``RedisLedger`` and ``RedisRateLimiter`` each run their own Lua script; on the request path that is two scripts
before the call (reserve, acquire) and two after (settle, add tokens). ``RedisGate`` runs the same checks on the
same keys as ONE script before (``admit``) and, after the call, queues the settlement + token charge
(``settle_soon``) for the NEXT ``admit`` script to apply first, so under load a request costs one round trip in all
(an idle gateway sends a queue ``flush_after_s`` old on its own). The calls go through :class:`ScriptPipe`, one
pipelined connection per gate, not through the redis-py client's pool. The outcomes are those of running the ledger
and the limiter separately:

- a rate-limit refusal changes nothing (no request counted, no budget reserved);
- a budget refusal still counts the request against the rpm windows (as the separate limiter would have);
- otherwise the request is counted and the estimate is added to every budget counter, atomically (a Lua script
  runs alone on the Redis server), so committed spend never exceeds limit + one reservation.

Budget counters missing in Redis (first request of a period, or Redis restarted) are seeded from the request log
exactly as ``RedisLedger`` does: the script answers "seed me" without changing anything, the caller reads the spend
and runs the script once more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from wayfare.governance.budgets import _KEEP_AFTER_PERIOD_MS, BudgetScope, RedisLedger, Reservation, budget_exceeded
from wayfare.governance.ratelimit import Limit, RedisRateLimiter, rate_limited
from wayfare.governance.redis_pipe import ConnectionLost, ScriptPipe
from wayfare.store.record import utcnow

# KEYS: budget counters (nb), rpm windows (nr), tpm windows (nw - nr), then the keys of queued settlements.
# ARGV: nb, nr, window ms, amount, nw, (limit, seed, ttl ms) per budget counter, the limit per window, then the
# number of queued settlements and (budget keys, tpm keys, cost - reservation, tokens) per settlement.
_ADMIT = """
local nb, nr, win, amount, nw = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5])
local a, k = 6 + 3 * nb + nw, nb + nw
for _ = 1, tonumber(ARGV[a]) do
  local nbk, ntk, delta, tok = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), ARGV[a + 3], ARGV[a + 4]
  a = a + 4
  for _ = 1, nbk do
    k = k + 1
    if redis.call('EXISTS', KEYS[k]) == 1 then redis.call('INCRBYFLOAT', KEYS[k], delta) end
  end
  for _ = 1, ntk do
    k = k + 1
    redis.call('INCRBY', KEYS[k], tok)
    if redis.call('PTTL', KEYS[k]) < 0 then redis.call('PEXPIRE', KEYS[k], win) end
  end
end
for i = 1, nb do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local seed = ARGV[4 + 3 * i]
    if seed == '' then return {-1, i, ''} end
    redis.call('SET', KEYS[i], seed, 'NX')
    local ttl = tonumber(ARGV[5 + 3 * i])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
  end
end
local wait, blocker = 0, 0
for j = nb + 1, nb + nw do
  local c = tonumber(redis.call('GET', KEYS[j]) or '0')
  local lim = tonumber(ARGV[5 + 2 * nb + j])
  if (j <= nb + nr and c + 1 > lim) or (j > nb + nr and c >= lim) then
    local ttl = redis.call('PTTL', KEYS[j])
    if ttl < 0 then ttl = win end
    if ttl > wait then wait, blocker = ttl, j - nb end
  end
end
local refused, committed = 0, ''
for i = 1, nb do
  local c = redis.call('GET', KEYS[i])
  if tonumber(c) >= tonumber(ARGV[3 + 3 * i]) then refused, committed = i, c break end
end
if wait == 0 then
  for j = nb + 1, nb + nr do
    if redis.call('INCR', KEYS[j]) == 1 then redis.call('PEXPIRE', KEYS[j], win) end
  end
end
if refused > 0 then return {0, refused, committed} end
if wait > 0 then return {2, blocker, tostring(wait)} end
for i = 1, nb do redis.call('INCRBYFLOAT', KEYS[i], amount) end
return {1, 0, ''}
"""

# KEYS: budget counters (nb), then tpm windows. ARGV: nb, cost - reservation, tokens, window ms.
_SETTLE = """
local nb = tonumber(ARGV[1])
for i = 1, nb do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBYFLOAT', KEYS[i], ARGV[2]) end
end
if tonumber(ARGV[3]) > 0 then
  for j = nb + 1, #KEYS do
    redis.call('INCRBY', KEYS[j], ARGV[3])
    if redis.call('PTTL', KEYS[j]) < 0 then redis.call('PEXPIRE', KEYS[j], ARGV[4]) end
  end
end
return 1
"""


_log = logging.getLogger(__name__)


class RedisGate:
    """Budget reservation + rate-limit check in one script, settlement + token accounting in one script, on the
    keys of ``ledger`` and ``limiter`` (which must share one Redis client)."""

    def __init__(self, ledger: RedisLedger, limiter: RedisRateLimiter, flush_after_s: float = 0.005) -> None:
        if ledger.redis is not limiter.redis:
            raise ValueError("RedisGate needs a ledger and a limiter on the same Redis client")
        self.ledger, self.limiter = ledger, limiter
        self.pipe = ScriptPipe(ledger.redis)
        """The gate's own pipelined connection (the client's pool is not used on the request path)."""
        self.flush_after_s = flush_after_s
        self._queue: list[tuple[list[str], list[Any]]] = []
        self._queued_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    @classmethod
    def for_pair(cls, ledger: object, limiter: object) -> RedisGate | None:
        """A gate when both are Redis-backed on the same client, else None (in-process counters need none)."""
        if isinstance(ledger, RedisLedger) and isinstance(limiter, RedisRateLimiter) and ledger.redis is limiter.redis:
            return cls(ledger, limiter)
        return None

    async def admit(
        self, scopes: Sequence[BudgetScope], amount: float, rpm: Sequence[Limit], tpm: Sequence[Limit]
    ) -> Reservation | None:
        """Count the request against ``rpm`` (if ``tpm`` has tokens left) and reserve ``amount`` on every budget
        scope; a 429 :class:`GovernanceError` names the budget or window that refused. None when there are no
        budget scopes."""
        now = utcnow()
        counters = [s.counter(now) for s in scopes]
        budget_keys = [self.ledger.prefix + "budget:" + name for name, _, _ in counters]
        windows = [*rpm, *tpm]
        keys = [*budget_keys, *(self.limiter.prefix + "rl:" + s for s, _ in windows)]
        seeds = [""] * len(scopes)
        lost = False
        for _ in range(3):
            args: list[Any] = [len(scopes), len(rpm), self.limiter.window_ms, repr(float(amount)), len(windows)]
            for scope, seed, (_, _, end) in zip(scopes, seeds, counters, strict=True):
                ttl = 0 if end is None else int((end - now).total_seconds() * 1000) + _KEEP_AFTER_PERIOD_MS
                args += [repr(float(scope.limit_usd)), seed, ttl]
            args += [limit for _, limit in windows]
            # settlements queued by settle_soon ride along (applied first, in the same atomic step)
            queued, self._queue = self._queue, []
            args.append(len(queued))
            settle_keys: list[str] = []
            for s_keys, (nbk, delta, tokens, _) in queued:
                settle_keys += s_keys
                args += [nbk, len(s_keys) - nbk, delta, tokens]
            try:
                code, index, detail = await self.pipe.evalsha(_ADMIT, [*keys, *settle_keys], args)
            except Exception as exc:
                # maybe applied, maybe not: drop them rather than risk applying twice (a dropped settlement leaves
                # the reservation counted in full, which errs on the side of the budget)
                if queued:
                    _log.warning("%d budget/tpm settlements lost with a failed Redis call", len(queued))
                if isinstance(exc, ConnectionLost) and not lost:  # e.g. Redis restarted: once more, reconnected
                    lost = True  # (if the lost call did run, this request is counted twice: errs on the safe side)
                    continue
                raise
            if code == 1:
                return Reservation(budget_keys, amount) if scopes else None
            if code == 0:
                committed = float(detail)
                raise budget_exceeded(scopes[index - 1], committed, counters[index - 1][2], now)
            if code == 2:
                raise rate_limited(int(detail) / 1000, windows[index - 1][0])
            # a budget counter is missing: seed every scope from the request log, then retry once (SET NX keeps a
            # racing replica's first seed)
            seeds = [
                repr(float(await self.ledger.source(s.kind, s.ident, start)))
                for s, (_, start, _) in zip(scopes, counters, strict=True)
            ]
        raise RuntimeError("budget counters could not be seeded in Redis")

    def _settle_call(
        self, reservation: Reservation | None, actual: float, tpm: Sequence[str], tokens: int
    ) -> tuple[list[str], list[Any]] | None:
        """(keys, args) of the settle script, marking the reservation settled; None when there is nothing to do."""
        budget_keys: list[str] = []
        delta = 0.0
        if reservation is not None and not reservation.settled:
            reservation.settled = True
            budget_keys, delta = reservation.counters, actual - reservation.amount
        tpm_keys = [self.limiter.prefix + "rl:" + s for s in tpm] if tokens > 0 else []
        if not budget_keys and not tpm_keys:
            return None
        return [*budget_keys, *tpm_keys], [len(budget_keys), repr(float(delta)), max(tokens, 0), self.limiter.window_ms]

    async def settle(self, reservation: Reservation | None, actual: float, tpm: Sequence[str], tokens: int) -> None:
        """Replace the reservation by the real cost (once) and charge ``tokens`` to the ``tpm`` windows."""
        call = self._settle_call(reservation, actual, tpm, tokens)
        if call is not None:
            await self.pipe.evalsha(_SETTLE, call[0], call[1])

    def settle_soon(self, reservation: Reservation | None, actual: float, tpm: Sequence[str], tokens: int) -> None:
        """:meth:`settle` off the response path: queued, then applied by the next :meth:`admit`'s script (same round
        trip) or, when the queue is ``flush_after_s`` old, sent on its own (one pipelined write for the whole queue).
        Until then the reservation stays counted in full, so budgets stay bounded as with :meth:`settle`.
        :meth:`aclose` flushes."""
        call = self._settle_call(reservation, actual, tpm, tokens)
        if call is None:
            return
        loop = asyncio.get_running_loop()
        if not self._queue:
            self._queued_at = loop.time()
        self._queue.append(call)
        if self._timer is None:
            self._timer = loop.call_later(self.flush_after_s, self._on_timer)

    def _on_timer(self) -> None:
        # the next admit usually carries the queue (no call of its own); this sends a queue that has waited
        # flush_after_s, so a counter lags the real cost by at most that plus one round trip
        self._timer = None
        if not self._queue:
            return
        loop = asyncio.get_running_loop()
        wait = self._queued_at + self.flush_after_s - loop.time()
        if wait > 0:  # a newer queue than the one this timer was set for
            self._timer = loop.call_later(wait, self._on_timer)
            return
        task = loop.create_task(self._flush_now())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush_now(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            results = await asyncio.gather(
                *(self.pipe.evalsha(_SETTLE, keys, args) for keys, args in batch), return_exceptions=True
            )
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                _log.error("budget/tpm settlement of %d of %d requests failed: %r", len(failed), len(batch), failed[0])

    async def aclose(self) -> None:
        """Send the queued settlements now, then close the gate's connection."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
        await self._flush_now()
        await self.pipe.aclose()
