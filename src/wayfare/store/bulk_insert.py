"""The request-log INSERT at driver level: one prepared statement, `executemany` over plain tuples.

SQLAlchemy's per-row parameter processing cost more than the database work for our batches (about half of the
time of `write_batch`), so the hot write path converts records to driver tuples itself. The conversions match what
the SQLAlchemy column types in `schema.py` store (tests read rows written here back through those types):
SQLite gets naive-UTC `YYYY-MM-DD HH:MM:SS.ffffff` text, PostgreSQL aware datetimes; JSON columns get
orjson text (cast to JSONB on PostgreSQL); booleans stay Python bools.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

import orjson

from wayfare.store.record import RECORD_FIELDS, RequestRecord
from wayfare.store.schema import request_log

_JSON_FIELDS = frozenset({"candidates", "metadata"})

# The order of the tuples built by driver_rows().
COLUMNS: tuple[str, ...] = (
    *("request_id", "chosen_model", "time", "key_id", "team", "route", "candidates", "score", "threshold"),
    *("decision_ms", "input_tokens", "output_tokens", "cost_usd", "counterfactual_cost_usd", "latency_ms"),
    *("upstream_ms", "status", "error_class", "attempts", "fallback_used", "stream", "cache_hit", "session_id"),
    *("prompt_preview", "metadata"),
)
assert sorted(COLUMNS) == sorted(RECORD_FIELDS), "driver_rows() must cover exactly the RequestRecord fields"


def insert_sql(dialect: str) -> str:
    """INSERT ... ON CONFLICT (request_id) DO NOTHING, in the driver's positional parameter style."""
    columns = ", ".join(f'"{name}"' for name in COLUMNS)
    if dialect == "sqlite":
        marks = ", ".join("?" for _ in COLUMNS)
    elif dialect == "postgresql":
        marks = ", ".join("%s::jsonb" if name in _JSON_FIELDS else "%s" for name in COLUMNS)
    else:
        raise ValueError(f"unsupported dialect {dialect!r}")
    return f'INSERT INTO "{request_log.name}" ({columns}) VALUES ({marks}) ON CONFLICT ("request_id") DO NOTHING'


def driver_rows(records: Sequence[RequestRecord], dialect: str) -> list[tuple[Any, ...]]:
    sqlite = dialect == "sqlite"
    rows: list[tuple[Any, ...]] = []
    for r in records:
        when = r.time
        if when.tzinfo is None:
            raise ValueError(f"RequestRecord {r.request_id!r} has a naive time {when.isoformat()}: use UTC-aware times")
        when = when.astimezone(UTC)
        rows.append(
            (
                r.request_id,
                r.chosen_model,
                when.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else when,
                r.key_id,
                r.team,
                r.route,
                orjson.dumps(r.candidates).decode(),
                r.score,
                r.threshold,
                r.decision_ms,
                r.input_tokens,
                r.output_tokens,
                r.cost_usd,
                r.counterfactual_cost_usd,
                r.latency_ms,
                r.upstream_ms,
                r.status,
                r.error_class,
                r.attempts,
                r.fallback_used,
                r.stream,
                r.cache_hit,
                r.session_id,
                r.prompt_preview,
                orjson.dumps(r.metadata).decode(),
            )
        )
    return rows
