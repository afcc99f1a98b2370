"""`VectorIndex`: the entries of one replica's semantic cache, searched by exact cosine similarity.

Entries live in one preallocated ``(max_entries, dim)`` float32 matrix. Each belongs to a *bucket* (the hash of
everything about the request except the last user message's text: model, caller, system prompt, earlier turns,
parameters), and only entries of the request's bucket are compared. A bucket's rows are kept in a dict of row
numbers, so a search costs one ``matrix[rows] @ query`` over that bucket (exact; at 10,000 entries of 256 dims in
one bucket it measured ~1 ms, docs/GATEWAY.md). Full: the least recently used entry is replaced. Expired entries
are skipped by the search and their rows reused.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from wayfare.embed.base import Vectors


@dataclass(frozen=True, slots=True)
class Match:
    entry_id: str
    similarity: float
    payload: Any


class VectorIndex:
    def __init__(self, dim: int, max_entries: int, clock: Any = time.time) -> None:
        self.dim, self.max_entries, self.clock = dim, max_entries, clock
        self.matrix = np.zeros((max_entries, dim), dtype=np.float32)
        self._ids: list[str | None] = [None] * max_entries
        self._expires = np.zeros(max_entries, dtype=np.float64)
        self._payloads: list[Any] = [None] * max_entries
        self._bucket_of: list[str | None] = [None] * max_entries
        self._buckets: dict[str, dict[int, None]] = {}
        self._rows: OrderedDict[str, int] = OrderedDict()
        """entry id -> row, least recently used first."""
        self._free = list(range(max_entries - 1, -1, -1))

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, entry_id: str) -> bool:
        return entry_id in self._rows

    def add(self, bucket: str, entry_id: str, vector: Vectors, expires_at: float, payload: Any = None) -> None:
        """Insert (or replace) an entry valid until ``expires_at`` (the clock's seconds)."""
        if entry_id in self._rows:
            self._drop(self._rows[entry_id])
        if not self._free:
            self._drop(next(iter(self._rows.values())))
        row = self._free.pop()
        self.matrix[row] = vector
        self._ids[row], self._expires[row], self._payloads[row], self._bucket_of[row] = (
            entry_id, expires_at, payload, bucket,
        )  # fmt: skip
        self._buckets.setdefault(bucket, {})[row] = None
        self._rows[entry_id] = row

    def search(self, bucket: str, query: Vectors) -> Match | None:
        """The most similar live entry of ``bucket`` (cosine: rows and query are L2-normalised), or None."""
        rows_of = self._buckets.get(bucket)
        if not rows_of:
            return None
        rows = np.fromiter(rows_of, dtype=np.int64, count=len(rows_of))
        now = self.clock()
        expired = self._expires[rows] <= now
        if expired.any():
            for row in rows[expired].tolist():
                self._drop(row)
            rows = rows[~expired]
            if rows.size == 0:
                return None
        sims = self.matrix[rows] @ np.asarray(query, dtype=np.float32)
        best = int(np.argmax(sims))
        row = int(rows[best])
        entry_id = self._ids[row]
        assert entry_id is not None
        self._rows.move_to_end(entry_id)
        return Match(entry_id, float(sims[best]), self._payloads[row])

    def discard(self, entry_id: str) -> None:
        row = self._rows.get(entry_id)
        if row is not None:
            self._drop(row)

    def _drop(self, row: int) -> None:
        entry_id, bucket = self._ids[row], self._bucket_of[row]
        if entry_id is None or bucket is None:
            return
        del self._rows[entry_id]
        rows = self._buckets[bucket]
        del rows[row]
        if not rows:
            del self._buckets[bucket]
        self._ids[row] = self._bucket_of[row] = self._payloads[row] = None
        self._free.append(row)
