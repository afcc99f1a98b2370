"""Requests and tokens each deployment took in the current minute: what its ``rpm`` / ``tpm`` quota is checked
against and what the ``usage`` strategy ranks by.

Minutes are fixed windows of the wall clock (``floor(time / 60)``), the windows providers' own per-minute quotas
roughly follow. :class:`LocalUsage` counts in this process; :class:`RedisUsage` counts in Redis so that every replica
sharing ``redis_url`` sees the same numbers (one hash per deployment and minute, expiring after two minutes; one
round trip to read a pool, one to count a request).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, Protocol


def current_minute(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 60)


def minute_left(now: float | None = None) -> float:
    """Seconds until the current minute's window ends (at least 1)."""
    now = time.time() if now is None else now
    return max(1.0, math.ceil(60 - now % 60))


class UsageBook(Protocol):
    async def counts(self, ids: Sequence[str]) -> list[tuple[int, int]]:
        """(requests, tokens) of each deployment in the current minute."""
        ...

    async def add(self, dep_id: str, requests: int, tokens: int) -> None: ...


class LocalUsage:
    """Per-minute counts in this process."""

    def __init__(self) -> None:
        self._minute = current_minute()
        self._counts: dict[str, tuple[int, int]] = {}

    def _roll(self) -> None:
        minute = current_minute()
        if minute != self._minute:
            self._minute, self._counts = minute, {}

    async def counts(self, ids: Sequence[str]) -> list[tuple[int, int]]:
        self._roll()
        return [self._counts.get(i, (0, 0)) for i in ids]

    async def add(self, dep_id: str, requests: int, tokens: int) -> None:
        self._roll()
        r, t = self._counts.get(dep_id, (0, 0))
        self._counts[dep_id] = (r + requests, t + tokens)


class RedisUsage:
    """Per-minute counts shared by every replica on one Redis (``{prefix}dep:{id}:{minute}`` hashes), on the
    governance's client (this does not close it)."""

    def __init__(self, client: Any, prefix: str = "wf:") -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, dep_id: str, minute: int) -> str:
        return f"{self.prefix}dep:{dep_id}:{minute}"

    async def counts(self, ids: Sequence[str]) -> list[tuple[int, int]]:
        minute = current_minute()
        pipe = self.client.pipeline(transaction=False)
        for i in ids:
            pipe.hmget(self._key(i, minute), "r", "t")
        rows = await pipe.execute()
        return [(int(r or 0), int(t or 0)) for r, t in rows]

    async def add(self, dep_id: str, requests: int, tokens: int) -> None:
        key = self._key(dep_id, current_minute())
        pipe = self.client.pipeline(transaction=False)
        if requests:
            pipe.hincrby(key, "r", requests)
        if tokens:
            pipe.hincrby(key, "t", tokens)
        pipe.expire(key, 120)
        await pipe.execute()
