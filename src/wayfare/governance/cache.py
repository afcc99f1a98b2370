"""Exact-match response cache: the key is a hash of the normalised request (sorted JSON keys; fields that do not
change the answer dropped), the value the upstream's JSON response. In-process LRU with TTL, or Redis (SET PX)."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any, Protocol

import orjson

from wayfare.cache.keys import IGNORED_FIELDS


def cache_key(endpoint: str, body: dict[str, Any], caller: str | None = None) -> str:
    """sha256 of the caller (when given), the endpoint and the request body with sorted keys, minus
    :data:`IGNORED_FIELDS`."""
    kept = {k: v for k, v in body.items() if k not in IGNORED_FIELDS}
    scope = b"" if caller is None else caller.encode() + b"\0"
    return hashlib.sha256(
        scope + endpoint.encode() + b"\0" + orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)
    ).hexdigest()


class ResponseCache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def aclose(self) -> None: ...


class MemoryCache:
    """LRU of at most ``max_entries`` responses, each valid for its TTL."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        self._entries[key] = (time.monotonic() + ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    async def aclose(self) -> None:
        return None


class RedisCache:
    """Responses in Redis under ``<prefix>cache:<hash>``, expiring after their TTL (shared by all replicas)."""

    def __init__(self, redis: Any, prefix: str = "wf:") -> None:
        self.redis, self.prefix = redis, prefix

    async def get(self, key: str) -> bytes | None:
        value = await self.redis.get(self.prefix + "cache:" + key)
        return None if value is None else bytes(value)

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        await self.redis.set(self.prefix + "cache:" + key, value, px=max(1, int(ttl_s * 1000)))

    async def aclose(self) -> None:
        return None
