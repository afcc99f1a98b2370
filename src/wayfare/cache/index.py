"""`VectorIndex`: the entries of one replica's semantic cache, searched by exact cosine similarity.

Each entry belongs to a *bucket* (the hash of everything about the request except the last user message's text:
model, caller, system prompt, earlier turns, parameters), and only entries of the request's bucket are compared. A
bucket keeps its vectors in one contiguous float32 matrix (grown by doubling, halved when a quarter full; a removed
row is replaced by the last one), so a search is one matrix-vector product over a view, no copy. The whole index
holds at most ``max_entries`` entries: a new one replaces the least recently used (added or returned by a search).
Expired entries are never returned and are dropped when a search meets them.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from wayfare.embed.base import Vectors


@dataclass(frozen=True, slots=True)
class Match:
    entry_id: str
    similarity: float
    payload: Any


class _Bucket:
    __slots__ = ("expires", "ids", "matrix", "n", "payloads", "rows")

    def __init__(self, dim: int) -> None:
        self.matrix = np.zeros((4, dim), dtype=np.float32)
        self.expires = np.zeros(4, dtype=np.float64)
        self.ids: list[str] = []
        self.payloads: list[Any] = []
        self.rows: dict[str, int] = {}
        self.n = 0

    def _resize(self, capacity: int) -> None:
        matrix = np.zeros((capacity, self.matrix.shape[1]), dtype=np.float32)
        matrix[: self.n] = self.matrix[: self.n]
        expires = np.zeros(capacity, dtype=np.float64)
        expires[: self.n] = self.expires[: self.n]
        self.matrix, self.expires = matrix, expires

    def add(self, entry_id: str, vector: Vectors, expires_at: float, payload: Any) -> None:
        if self.n == self.matrix.shape[0]:
            self._resize(2 * self.n)
        row = self.n
        self.matrix[row], self.expires[row] = vector, expires_at
        self.ids.append(entry_id)
        self.payloads.append(payload)
        self.rows[entry_id] = row
        self.n += 1

    def remove(self, entry_id: str) -> None:
        row = self.rows.pop(entry_id)
        last = self.n - 1
        if row != last:  # the last entry takes the freed row
            moved = self.ids[last]
            self.matrix[row], self.expires[row] = self.matrix[last], self.expires[last]
            self.ids[row], self.payloads[row] = moved, self.payloads[last]
            self.rows[moved] = row
        self.ids.pop()
        self.payloads.pop()
        self.n = last
        if self.matrix.shape[0] > 4 and self.n * 4 <= self.matrix.shape[0]:
            self._resize(self.matrix.shape[0] // 2)


class VectorIndex:
    def __init__(self, dim: int, max_entries: int, clock: Callable[[], float] = time.time) -> None:
        self.dim, self.max_entries, self.clock = dim, max_entries, clock
        self._buckets: dict[str, _Bucket] = {}
        self._lru: OrderedDict[str, str] = OrderedDict()
        """entry id -> its bucket, least recently used first."""

    def __len__(self) -> int:
        return len(self._lru)

    def __contains__(self, entry_id: str) -> bool:
        return entry_id in self._lru

    def add(self, bucket: str, entry_id: str, vector: Vectors, expires_at: float, payload: Any = None) -> None:
        """Insert (or replace) an entry valid until ``expires_at`` (the clock's seconds)."""
        self.discard(entry_id)
        while len(self._lru) >= self.max_entries:
            self.discard(next(iter(self._lru)))
        b = self._buckets.get(bucket)
        if b is None:
            b = self._buckets[bucket] = _Bucket(self.dim)
        b.add(entry_id, vector, expires_at, payload)
        self._lru[entry_id] = bucket

    def search(self, bucket: str, query: Vectors) -> Match | None:
        """The most similar live entry of ``bucket`` (cosine: rows and query are L2-normalised), or None."""
        b = self._buckets.get(bucket)
        if b is None:
            return None
        sims = b.matrix[: b.n] @ np.asarray(query, dtype=np.float32)
        expired = b.expires[: b.n] <= self.clock()
        stale = [b.ids[i] for i in np.flatnonzero(expired).tolist()] if expired.any() else []
        if stale:
            sims[expired] = -np.inf
        best = int(np.argmax(sims))
        found = None
        if not expired[best]:
            entry_id = b.ids[best]
            found = Match(entry_id, float(sims[best]), b.payloads[best])
            self._lru.move_to_end(entry_id)
        for entry_id in stale:
            self.discard(entry_id)
        return found

    def discard(self, entry_id: str) -> None:
        bucket = self._lru.pop(entry_id, None)
        if bucket is None:
            return
        b = self._buckets[bucket]
        b.remove(entry_id)
        if b.n == 0:
            del self._buckets[bucket]
