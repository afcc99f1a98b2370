"""Table definitions (SQLAlchemy Core) shared by the SQLite and PostgreSQL backends.

This is the *current* shape of the schema, used to build queries. The DDL that creates or changes it lives in
`migrations.py`, one ordered step per schema version.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both backends.

    PostgreSQL stores `timestamptz`; SQLite stores naive UTC text (SQLAlchemy's fixed-width ISO format, so text
    order is time order and range queries use the index). Naive datetimes are refused on the way in.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the store: use timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

metadata = sa.MetaData()

schema_version = sa.Table(
    "wayfare_schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

request_log = sa.Table(
    "request_log",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Column("request_id", sa.Text, nullable=False),
    sa.Column("key_id", sa.Text),
    sa.Column("team", sa.Text),
    sa.Column("route", sa.Text),
    sa.Column("candidates", JSONType, nullable=False),
    sa.Column("chosen_model", sa.Text, nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("threshold", sa.Float),
    sa.Column("decision_ms", sa.Float),
    sa.Column("input_tokens", sa.Integer, nullable=False),
    sa.Column("output_tokens", sa.Integer, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=False),
    sa.Column("counterfactual_cost_usd", sa.Float, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("upstream_ms", sa.Float),
    sa.Column("status", sa.SmallInteger, nullable=False),
    sa.Column("error_class", sa.Text),
    sa.Column("attempts", sa.SmallInteger, nullable=False),
    sa.Column("fallback_used", sa.Boolean, nullable=False),
    sa.Column("stream", sa.Boolean, nullable=False),
    sa.Column("cache_hit", sa.Boolean, nullable=False),
    sa.Column("session_id", sa.Text),
    sa.Column("prompt_preview", sa.Text),
    sa.Column("metadata", JSONType, nullable=False),
)

# Index names are part of the schema (migrations create them; tests check EXPLAIN uses them).
INDEXES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("ux_request_log_request_id", ("request_id",), True),
    ("ix_request_log_time", ("time",), False),
    ("ix_request_log_key_time", ("key_id", "time"), False),
    ("ix_request_log_team_time", ("team", "time"), False),
    ("ix_request_log_route_time", ("route", "time"), False),
    ("ix_request_log_model_time", ("chosen_model", "time"), False),
)
for _name, _cols, _unique in INDEXES:
    sa.Index(_name, *(request_log.c[c] for c in _cols), unique=_unique)

GROUP_COLUMNS: dict[str, sa.Column[Any]] = {
    "key": request_log.c.key_id,
    "team": request_log.c.team,
    "model": request_log.c.chosen_model,
    "route": request_log.c.route,
}
