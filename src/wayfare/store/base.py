"""The request-log repository interface. Implementations: `SqlRequestLogStore` (SQLite and PostgreSQL).

All methods are synchronous and thread-safe (each call checks a connection out of a pool). From async code call
them in a worker thread (`await asyncio.to_thread(store.spend, ...)`); the request path should not call the store
at all but submit records to a `RequestLogWriter`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from wayfare.store.record import GroupBy, PruneResult, RequestRecord, SpendRow


@runtime_checkable
class RequestLogStore(Protocol):
    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        ...

    @property
    def url(self) -> str:
        """The database URL with any password masked (safe to print)."""
        ...

    def schema_version(self) -> int:
        """The applied schema version."""
        ...

    def write_batch(self, records: Sequence[RequestRecord]) -> None:
        """Insert records in one transaction (executemany); a request_id already stored is skipped silently."""
        ...

    def get(self, request_id: str) -> RequestRecord | None:
        """The record with this request id, or None."""
        ...

    def query(
        self,
        *,
        limit: int = 100,
        key_id: str | None = None,
        team: str | None = None,
        route: str | None = None,
        model: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[RequestRecord]:
        """The most recent records matching every given filter, newest first (`since` inclusive, `until` not)."""
        ...

    def count(
        self,
        *,
        key_id: str | None = None,
        team: str | None = None,
        route: str | None = None,
        model: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """How many records match every given filter."""
        ...

    def spend(
        self,
        group_by: GroupBy | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        key_id: str | None = None,
        team: str | None = None,
        route: str | None = None,
        model: str | None = None,
    ) -> list[SpendRow]:
        """Spend per key, team, model or route (most expensive first), or one total row when group_by is None."""
        ...

    def prune(self, older_than: datetime, *, batch_size: int = 5000) -> PruneResult:
        """Delete records with time < older_than, `batch_size` rows per transaction."""
        ...

    def close(self) -> None:
        """Release the connection pool."""
        ...
