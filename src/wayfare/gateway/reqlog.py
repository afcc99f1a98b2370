"""The one seam between the gateway and the request-log store: ``submit(record)`` never blocks a request."""

from __future__ import annotations

from collections import deque
from typing import Protocol

from wayfare.store.record import RequestRecord


class LogSink(Protocol):
    def submit(self, record: RequestRecord) -> None: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class MemorySink:
    """Keeps the last ``size`` records in memory (``database_url: none``, and tests)."""

    def __init__(self, size: int = 10_000) -> None:
        self.records: deque[RequestRecord] = deque(maxlen=size)

    def submit(self, record: RequestRecord) -> None:
        self.records.append(record)

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class StoreSink:
    """The store's batched :class:`~wayfare.store.RequestLogWriter`; closing flushes it, then closes the store."""

    def __init__(self, database_url: str | None) -> None:
        from wayfare.store import RequestLogWriter, open_store

        self.store = open_store(database_url)
        self.writer = RequestLogWriter(self.store)

    def submit(self, record: RequestRecord) -> None:
        self.writer.submit(record)

    async def start(self) -> None:
        await self.writer.start()

    async def aclose(self) -> None:
        try:
            await self.writer.aclose()
        finally:
            self.store.close()


def open_sink(database_url: str | None) -> LogSink:
    """The store for ``database_url`` (SQLite ``./wayfare.db`` when None); a :class:`MemorySink` for ``none``."""
    if database_url is not None and database_url.lower() in ("none", "memory"):
        return MemorySink()
    return StoreSink(database_url)
