"""Requests and tokens per minute, per key and per model: fixed 60-second windows that start at a scope's first
request, in-process or in Redis (one Lua script per check, so all replicas share one limit).

``acquire`` counts one request against every rpm scope if each is below its limit and each tpm scope has tokens
left, else raises 429 with ``retry_after`` = the time until the blocking window ends. Tokens are known only after
the call: ``add_tokens`` charges them then (so a tpm limit can be exceeded by the requests already in flight).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from wayfare.governance.errors import GovernanceError

WINDOW_S = 60.0
Limit = tuple[str, int]
"""(scope name such as ``key:key_ab12:rpm``, limit per window)."""


def rate_limited(retry_after: float, scope: str) -> GovernanceError:
    return GovernanceError(
        429,
        "rate_limit_error",
        f"Rate limit reached for {scope}: try again in {retry_after:.1f} s.",
        code="rate_limit_exceeded",
        retry_after=retry_after,
    )


class RateLimiter(Protocol):
    async def acquire(self, rpm: Sequence[Limit], tpm: Sequence[Limit]) -> None: ...

    async def add_tokens(self, tpm: Sequence[str], tokens: int) -> None: ...

    async def aclose(self) -> None: ...


class MemoryRateLimiter:
    """Windows of one process (``window_s`` is settable for tests)."""

    def __init__(self, window_s: float = WINDOW_S, max_scopes: int = 1_000_000) -> None:
        self.window_s, self.max_scopes = window_s, max_scopes
        self._windows: dict[str, list[float]] = {}  # scope -> [window end (monotonic), count]

    def _count(self, scope: str, now: float) -> tuple[float, float]:
        w = self._windows.get(scope)
        if w is None or w[0] <= now:
            return 0.0, now + self.window_s
        return w[1], w[0]

    async def acquire(self, rpm: Sequence[Limit], tpm: Sequence[Limit]) -> None:
        now = time.monotonic()
        wait, blocker = 0.0, ""
        for scope, limit in rpm:
            count, end = self._count(scope, now)
            if count + 1 > limit and end - now > wait:
                wait, blocker = end - now, scope
        for scope, limit in tpm:
            count, end = self._count(scope, now)
            if count >= limit and end - now > wait:
                wait, blocker = end - now, scope
        if wait > 0:
            raise rate_limited(wait, blocker)
        if len(self._windows) > self.max_scopes:
            self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
        for scope, _ in rpm:
            self._bump(scope, 1, now)

    def _bump(self, scope: str, n: int, now: float) -> None:
        w = self._windows.get(scope)
        if w is None or w[0] <= now:
            self._windows[scope] = [now + self.window_s, float(n)]
        else:
            w[1] += n

    async def add_tokens(self, tpm: Sequence[str], tokens: int) -> None:
        self.add_tokens_now(tpm, tokens)

    def add_tokens_now(self, tpm: Sequence[str], tokens: int) -> None:
        """:meth:`add_tokens` without the coroutine (nothing here waits)."""
        now = time.monotonic()
        for scope in tpm:
            self._bump(scope, tokens, now)

    async def aclose(self) -> None:
        return None


_ACQUIRE = """
local nr = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local wait, blocker = 0, 0
for i = 1, #KEYS do
  local c = tonumber(redis.call('GET', KEYS[i]) or '0')
  local lim = tonumber(ARGV[2 + i])
  if (i <= nr and c + 1 > lim) or (i > nr and c >= lim) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then ttl = win end
    if ttl > wait then wait, blocker = ttl, i end
  end
end
if wait > 0 then return {wait, blocker} end
for i = 1, nr do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], win) end
end
return {0, 0}
"""

_ADD = """
for i = 1, #KEYS do
  redis.call('INCRBY', KEYS[i], ARGV[1])
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
return 1
"""


class RedisRateLimiter:
    """Windows shared by every replica using the same Redis (keys ``<prefix>rl:<scope>``)."""

    def __init__(self, redis: Any, window_s: float = WINDOW_S, prefix: str = "wf:") -> None:
        self.redis, self.prefix = redis, prefix
        self.window_ms = int(window_s * 1000)
        self._acquire = redis.register_script(_ACQUIRE)
        self._add = redis.register_script(_ADD)

    async def acquire(self, rpm: Sequence[Limit], tpm: Sequence[Limit]) -> None:
        scopes = [*rpm, *tpm]
        if not scopes:
            return
        keys = [self.prefix + "rl:" + s for s, _ in scopes]
        wait_ms, blocker = await self._acquire(
            keys=keys, args=[len(rpm), self.window_ms, *[limit for _, limit in scopes]]
        )
        if wait_ms > 0:
            raise rate_limited(wait_ms / 1000, scopes[blocker - 1][0])

    async def add_tokens(self, tpm: Sequence[str], tokens: int) -> None:
        if tpm and tokens > 0:
            await self._add(keys=[self.prefix + "rl:" + s for s in tpm], args=[tokens, self.window_ms])

    async def aclose(self) -> None:
        return None
