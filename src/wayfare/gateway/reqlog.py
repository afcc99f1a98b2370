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


def open_sink(database_url: str | None) -> LogSink:
    """The store's batched writer for ``database_url``; a :class:`MemorySink` when it is ``none``."""
    if database_url is not None and database_url.lower() in ("none", "memory"):
        return MemorySink()
    from wayfare import store

    open_store = getattr(store, "open_store", None)
    writer_cls = getattr(store, "RequestLogWriter", None)
    if open_store is None or writer_cls is None:
        raise RuntimeError("the request-log store is not available in this install (set database_url: none)")
    sink: LogSink = writer_cls(open_store(database_url))
    return sink
