"""Where semantic-cache entries live: one replica's memory, or Redis shared by every replica.

Redis 7 without the RediSearch module has no vector search, so each replica searches a local mirror
(:class:`~wayfare.cache.index.VectorIndex`) of the entries in Redis:

- ``<prefix>scache:b:<bucket>``: a stream per bucket; each entry ``{id, v: float32 vector, e: expiry (epoch s)}``,
  trimmed to about ``max_entries`` and expiring ``ttl_s`` after its last write;
- ``<prefix>scache:r:<id>``: the response JSON, ``SET PX ttl``.

A lookup first reads the bucket's stream entries newer than the last one this replica saw (``XRANGE`` with an
exclusive start: one round trip, usually returning nothing), adds them to the mirror, searches it, and on a hit
reads the response (a second round trip, skipped for entries this replica wrote itself). An entry written on
another replica is therefore visible to the very next lookup in its bucket. Responses evicted from Redis (memory
policy, TTL) turn a would-be hit into a miss.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from typing import Any, Protocol

import numpy as np
import orjson

from wayfare.cache.index import Match, VectorIndex
from wayfare.embed.base import Vectors

JSON = dict[str, Any]
SEEN_BUCKETS = 100_000
"""Buckets whose last-seen stream id a replica remembers (a forgotten one is re-read from its start)."""


class SemanticStore(Protocol):
    async def lookup(
        self, space: str, bucket: str, vector: Vectors, threshold: float
    ) -> tuple[float | None, JSON | None]:
        """(best similarity in the bucket or None when it is empty, the response when that is >= threshold)."""
        ...

    async def put(self, space: str, bucket: str, vector: Vectors, response: JSON, ttl_s: float) -> None: ...


class _Indexes:
    """One :class:`VectorIndex` per embedding space (embedder name): vectors of different models never mix."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.spaces: dict[str, VectorIndex] = {}

    def of(self, space: str, dim: int) -> VectorIndex:
        index = self.spaces.get(space)
        if index is None:
            index = self.spaces[space] = VectorIndex(dim, self.max_entries)
        return index


class MemoryStore(_Indexes):
    """Entries in this process only."""

    async def lookup(
        self, space: str, bucket: str, vector: Vectors, threshold: float
    ) -> tuple[float | None, JSON | None]:
        match = self.of(space, vector.shape[-1]).search(bucket, vector)
        if match is None:
            return None, None
        return match.similarity, (match.payload if match.similarity >= threshold else None)

    async def put(self, space: str, bucket: str, vector: Vectors, response: JSON, ttl_s: float) -> None:
        self.of(space, vector.shape[-1]).add(bucket, uuid.uuid4().hex, vector, time.time() + ttl_s, response)


class RedisStore(_Indexes):
    """Entries in Redis (shared by all replicas), searched in a local mirror (module docstring)."""

    def __init__(self, redis: Any, prefix: str, max_entries: int) -> None:
        super().__init__(max_entries)
        self.redis, self.prefix = redis, prefix + "scache:"
        self._seen: OrderedDict[str, str] = OrderedDict()
        """stream key -> id of the last entry mirrored."""

    def _stream(self, space: str, bucket: str) -> str:
        return f"{self.prefix}b:{space}:{bucket}"

    async def _sync(self, index: VectorIndex, stream: str) -> None:
        last = self._seen.get(stream)
        entries = await self.redis.xrange(stream, min="-" if last is None else "(" + last, max="+")
        now = time.time()
        for _sid, fields in entries:
            entry_id, expires = fields[b"id"].decode(), float(fields[b"e"])
            if expires > now and entry_id not in index:
                vector = np.frombuffer(fields[b"v"], dtype=np.float32)
                if vector.shape == (index.dim,):
                    index.add(stream, entry_id, vector, expires)
        if entries:
            self._seen[stream] = entries[-1][0].decode()
        elif last is None:
            self._seen[stream] = "0-0"
        self._seen.move_to_end(stream)
        while len(self._seen) > SEEN_BUCKETS:
            self._seen.popitem(last=False)

    async def lookup(
        self, space: str, bucket: str, vector: Vectors, threshold: float
    ) -> tuple[float | None, JSON | None]:
        stream = self._stream(space, bucket)
        index = self.of(space, vector.shape[-1])
        await self._sync(index, stream)
        match = index.search(stream, vector)
        if match is None:
            return None, None
        if match.similarity < threshold:
            return match.similarity, None
        response = match.payload if match.payload is not None else await self._response(index, match)
        return match.similarity, response

    async def _response(self, index: VectorIndex, match: Match) -> JSON | None:
        raw = await self.redis.get(f"{self.prefix}r:{match.entry_id}")
        if raw is None:  # evicted or expired in Redis: forget it here too
            index.discard(match.entry_id)
            return None
        value = orjson.loads(raw)
        return value if isinstance(value, dict) else None

    async def put(self, space: str, bucket: str, vector: Vectors, response: JSON, ttl_s: float) -> None:
        stream = self._stream(space, bucket)
        entry_id = uuid.uuid4().hex
        expires = time.time() + ttl_s
        vec = np.ascontiguousarray(vector, dtype=np.float32)
        ms = max(1, int(ttl_s * 1000))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(f"{self.prefix}r:{entry_id}", orjson.dumps(response), px=ms)
            pipe.xadd(stream, {"id": entry_id, "v": vec.tobytes(), "e": repr(expires)}, maxlen=self.max_entries)
            pipe.pexpire(stream, ms)
            await pipe.execute()
        self.of(space, vec.shape[-1]).add(stream, entry_id, vec, expires, response)
