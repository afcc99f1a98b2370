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

While a busy key is far from its limits, the same script may lend the replica a block of headroom (a lease,
:mod:`wayfare.governance.leases`), and the next requests with the same keys are admitted from it with no round trip
at all; near a limit every request is checked in Redis. The scripts are in :mod:`wayfare.governance.redis_scripts`.

Budget counters missing in Redis (first request of a period, or Redis restarted) are seeded from the request log
exactly as ``RedisLedger`` does: the script answers "seed me" without changing anything, the caller reads the spend
and runs the script once more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from wayfare.governance.budgets import _KEEP_AFTER_PERIOD_MS, BudgetScope, RedisLedger, Reservation, budget_exceeded
from wayfare.governance.leases import Lease, LeaseBook
from wayfare.governance.ratelimit import Limit, RedisRateLimiter, rate_limited
from wayfare.governance.redis_pipe import ConnectionLost, ScriptPipe
from wayfare.governance.redis_scripts import ADMIT, SETTLE
from wayfare.store.record import utcnow

_LEASE_MARGIN_MS = 50
"""A lease ends this long before its first rpm/tpm window does (its slots are counted in that window)."""

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Work:
    """Queued work for the next script: a settlement (budget delta + tokens) or a returned lease."""

    budget_keys: list[str]
    tpm_keys: list[str]
    delta: float
    tokens: int
    rpm_returns: list[tuple[str, int, int]] = field(default_factory=list)
    """(rpm window key, unused slots, the window's end in server ms when lent)."""


def _pack(work: Sequence[_Work]) -> tuple[list[str], list[Any]]:
    """Keys and ARGV of queued work (``redis_scripts``' format); settlements on the same keys are merged."""
    merged: dict[tuple[int, tuple[str, ...]], list[Any]] = {}
    returns: list[_Work] = []
    for w in work:
        if w.rpm_returns:
            returns.append(w)
            continue
        slot = merged.setdefault((len(w.budget_keys), (*w.budget_keys, *w.tpm_keys)), [0.0, 0])
        slot[0] += w.delta
        slot[1] += w.tokens
    keys: list[str] = []
    args: list[Any] = [len(merged) + len(returns)]
    for (nbk, item_keys), (delta, tokens) in merged.items():
        keys += item_keys
        args += [nbk, len(item_keys) - nbk, 0, repr(float(delta)), tokens]
    for w in returns:
        keys += [*w.budget_keys, *w.tpm_keys, *(k for k, _, _ in w.rpm_returns)]
        args += [len(w.budget_keys), len(w.tpm_keys), len(w.rpm_returns), repr(float(w.delta)), w.tokens]
        for _, n, ends in w.rpm_returns:
            args += [n, ends]
    return keys, args


class RedisGate:
    """Budget reservation + rate-limit check in one script (or none, inside a lease), settlement + token accounting
    queued for the next script, on the keys of ``ledger`` and ``limiter`` (which must share one Redis client).
    ``lease_s`` = 0 turns headroom leases off (:mod:`wayfare.governance.leases`)."""

    def __init__(
        self, ledger: RedisLedger, limiter: RedisRateLimiter, flush_after_s: float = 0.005, lease_s: float = 0.25
    ) -> None:
        if ledger.redis is not limiter.redis:
            raise ValueError("RedisGate needs a ledger and a limiter on the same Redis client")
        self.ledger, self.limiter = ledger, limiter
        self.pipe = ScriptPipe(ledger.redis)
        """The gate's own pipelined connection (the client's pool is not used on the request path)."""
        self.flush_after_s = flush_after_s
        self.leases = LeaseBook(lease_s)
        self._queue: list[_Work] = []
        self._queued_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    @classmethod
    def for_pair(cls, ledger: object, limiter: object, lease_s: float = 0.25) -> RedisGate | None:
        """A gate when both are Redis-backed on the same client, else None (in-process counters need none)."""
        if isinstance(ledger, RedisLedger) and isinstance(limiter, RedisRateLimiter) and ledger.redis is limiter.redis:
            return cls(ledger, limiter, lease_s=lease_s)
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
        loop = asyncio.get_running_loop()
        t = loop.time()
        tag = (*keys, len(rpm), *(s.limit_usd for s in scopes), *(limit for _, limit in windows))
        if self.leases.take(tag, amount, t):
            return Reservation(budget_keys, amount) if scopes else None
        old = self.leases.pop(tag)
        if old is not None:
            self._give_back(old)  # rides on this call
        want = self.leases.want(tag, t)  # lease slots to ask for with this call
        try:
            seeds = [""] * len(scopes)
            lost = False
            for _ in range(3):
                args: list[Any] = [
                    len(scopes),
                    len(rpm),
                    self.limiter.window_ms,
                    repr(float(amount)),
                    len(windows),
                    want,
                ]
                for scope, seed, (_, _, end) in zip(scopes, seeds, counters, strict=True):
                    ttl = 0 if end is None else int((end - now).total_seconds() * 1000) + _KEEP_AFTER_PERIOD_MS
                    args += [repr(float(scope.limit_usd)), seed, ttl]
                args += [limit for _, limit in windows]
                # settlements and returned leases queued by settle_soon ride along (applied first, in the same step)
                queued, self._queue = self._queue, []
                work_keys, work_args = _pack(queued)
                try:
                    reply = await self.pipe.evalsha(ADMIT, [*keys, *work_keys], [*args, *work_args])
                except Exception as exc:
                    # maybe applied, maybe not: drop them rather than risk applying twice (a dropped settlement leaves
                    # the reservation counted in full, which errs on the side of the budget)
                    if queued:
                        _log.warning("%d budget/tpm settlements lost with a failed Redis call", len(queued))
                    if isinstance(exc, ConnectionLost) and not lost:  # e.g. Redis restarted: once more, reconnected
                        lost = True  # (if the lost call did run, this request is counted twice: errs on the safe side)
                        continue
                    raise
                code, index, detail = reply[0], reply[1], reply[2]
                if code == 1:
                    if index > 0:
                        self._lend(tag, reply, amount, budget_keys, keys[len(scopes) : len(scopes) + len(rpm)])
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
        finally:
            if want:
                self.leases.asked(tag)

    def _lend(
        self, tag: tuple[Any, ...], reply: Sequence[Any], amount: float, budget_keys: list[str], rpm_keys: list[str]
    ) -> None:
        """Keep the lease the script lent (``reply`` = {1, slots, life ms, rpm window ends...}) until ``lease_s`` or
        shortly before its first window ends."""
        slots, life_ms = int(reply[1]), int(reply[2])
        life = self.leases.lease_s if life_ms < 0 else min(self.leases.lease_s, (life_ms - _LEASE_MARGIN_MS) / 1000)
        loop = asyncio.get_running_loop()
        ends = [int(e) for e in reply[3:]]
        lease = Lease(slots, slots * amount if budget_keys else 0.0, loop.time() + life, budget_keys, rpm_keys, ends)
        if life <= 0:  # its window ends too soon to be worth keeping
            self._give_back(lease)
            return
        old = self.leases.put(tag, lease)
        if old is not None:  # lent to a request that asked before this one's lease came in
            self._give_back(old)
        loop.call_later(life, self._expire, tag, lease)

    def _expire(self, tag: tuple[Any, ...], lease: Lease) -> None:
        if self.leases.pop(tag, lease) is lease:
            self._give_back(lease)

    def _give_back(self, lease: Lease) -> None:
        """Queue the unused part of ``lease`` for the next script (sent on its own if none comes within
        ``flush_after_s``)."""
        slots, budget = lease.slots, max(lease.budget, 0.0)
        lease.slots, lease.budget = 0, 0.0
        returns = [(k, slots, e) for k, e in zip(lease.rpm_keys, lease.rpm_expiry_ms, strict=True)] if slots else []
        if returns or budget:
            self._enqueue(_Work(lease.budget_keys if budget else [], [], -budget, 0, returns))
            self._flush_later()

    def _settle_work(
        self, reservation: Reservation | None, actual: float, tpm: Sequence[str], tokens: int
    ) -> _Work | None:
        """The settlement of a reservation (once) and its tokens; None when there is nothing to do."""
        budget_keys: list[str] = []
        delta = 0.0
        if reservation is not None and not reservation.settled:
            reservation.settled = True
            budget_keys, delta = reservation.counters, actual - reservation.amount
        tpm_keys = [self.limiter.prefix + "rl:" + s for s in tpm] if tokens > 0 else []
        if not budget_keys and not tpm_keys:
            return None
        return _Work(budget_keys, tpm_keys, delta, max(tokens, 0))

    async def settle(self, reservation: Reservation | None, actual: float, tpm: Sequence[str], tokens: int) -> None:
        """Replace the reservation by the real cost (once) and charge ``tokens`` to the ``tpm`` windows."""
        work = self._settle_work(reservation, actual, tpm, tokens)
        if work is not None:
            keys, args = _pack([work])
            await self.pipe.evalsha(SETTLE, keys, [self.limiter.window_ms, *args])

    def settle_soon(self, reservation: Reservation | None, actual: float, tpm: Sequence[str], tokens: int) -> None:
        """:meth:`settle` off the response path: queued, then applied by the next :meth:`admit`'s script (same round
        trip) or, when the queue is ``flush_after_s`` old, sent on its own (one script for the whole queue).
        Until then the reservation stays counted in full, so budgets stay bounded as with :meth:`settle`.
        :meth:`aclose` flushes."""
        work = self._settle_work(reservation, actual, tpm, tokens)
        if work is not None:
            self._enqueue(work)
            self._flush_later()

    def _enqueue(self, work: _Work) -> None:
        if not self._queue:
            self._queued_at = asyncio.get_running_loop().time()
        self._queue.append(work)

    def _flush_later(self) -> None:
        if self._timer is None and self._queue:
            self._timer = asyncio.get_running_loop().call_later(self.flush_after_s, self._on_timer)

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
            keys, args = _pack(batch)
            try:
                await self.pipe.evalsha(SETTLE, keys, [self.limiter.window_ms, *args])
            except Exception as exc:
                _log.error("budget/tpm settlement of %d requests failed: %r", len(batch), exc)

    async def aclose(self) -> None:
        """Give back every lease, send the queued work now, then close the gate's connection."""
        for lease in self.leases.pop_all():
            self._give_back(lease)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
        await self._flush_now()
        await self.pipe.aclose()
