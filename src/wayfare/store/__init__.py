"""Persistence: the request log (SQLite and PostgreSQL behind one interface) and its batched async writer.

    store = open_store("sqlite:///wayfare.db")          # or None (./wayfare.db), or "postgresql://..."
    async with RequestLogWriter(store) as writer:
        writer.submit(RequestRecord(request_id="r1", chosen_model="gpt-4o-mini", cost_usd=0.0002))
    store.spend("model")

See docs/STORE.md.
"""

from wayfare.store.base import RequestLogStore
from wayfare.store.record import GROUP_BY_VALUES, GroupBy, PruneResult, RequestRecord, SpendRow, utcnow
from wayfare.store.sql_store import SqlRequestLogStore, normalise_url, open_store
from wayfare.store.writer import RequestLogWriter, WriterStats

__all__ = [
    "GROUP_BY_VALUES",
    "GroupBy",
    "PruneResult",
    "RequestLogStore",
    "RequestLogWriter",
    "RequestRecord",
    "SpendRow",
    "SqlRequestLogStore",
    "WriterStats",
    "normalise_url",
    "open_store",
    "utcnow",
]
