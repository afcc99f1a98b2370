"""Statement builders for the request log (pure SQLAlchemy Core, no connection): one place for the SQL.

Every filter is an equality on an indexed column plus a half-open time range [since, until), so each query can be
answered from one of the (column, time) indexes (see `schema.INDEXES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from wayfare.store.record import GROUP_BY_VALUES, GroupBy
from wayfare.store.schema import GROUP_COLUMNS, request_log

t = request_log.c


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Filters shared by `query`, `count` and `spend`. `since` is inclusive, `until` exclusive."""

    key_id: str | None = None
    team: str | None = None
    route: str | None = None
    model: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def clauses(self) -> list[sa.ColumnElement[bool]]:
        out: list[sa.ColumnElement[bool]] = []
        if self.key_id is not None:
            out.append(t.key_id == self.key_id)
        if self.team is not None:
            out.append(t.team == self.team)
        if self.route is not None:
            out.append(t.route == self.route)
        if self.model is not None:
            out.append(t.chosen_model == self.model)
        if self.since is not None:
            out.append(t.time >= self.since)
        if self.until is not None:
            out.append(t.time < self.until)
        return out


def recent_statement(where: LogFilter, limit: int) -> sa.Select[Any]:
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    return sa.select(request_log).where(*where.clauses()).order_by(t.time.desc(), t.id.desc()).limit(limit)


def count_statement(where: LogFilter) -> sa.Select[Any]:
    return sa.select(sa.func.count()).select_from(request_log).where(*where.clauses())


def spend_statement(group_by: GroupBy | None, where: LogFilter) -> sa.Select[Any]:
    """requests, tokens, cost and counterfactual cost, per group (or one total row when group_by is None)."""
    aggregates = (
        sa.func.count().label("requests"),
        sa.func.coalesce(sa.func.sum(t.input_tokens), 0).label("input_tokens"),
        sa.func.coalesce(sa.func.sum(t.output_tokens), 0).label("output_tokens"),
        sa.func.coalesce(sa.func.sum(t.cost_usd), 0.0).label("cost_usd"),
        sa.func.coalesce(sa.func.sum(t.counterfactual_cost_usd), 0.0).label("counterfactual_cost_usd"),
    )
    if group_by is None:
        return sa.select(sa.null().label("group"), *aggregates).select_from(request_log).where(*where.clauses())
    if group_by not in GROUP_COLUMNS:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY_VALUES)} (got {group_by!r})")
    column = GROUP_COLUMNS[group_by]
    return (
        sa.select(column.label("group"), *aggregates)
        .where(*where.clauses())
        .group_by(column)
        .order_by(sa.desc("cost_usd"), column)
    )


def prune_statement(older_than: datetime, batch_size: int) -> sa.Delete:
    """Delete at most `batch_size` rows older than `older_than` (one batch; run it until it deletes fewer)."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    batch = sa.select(t.id).where(t.time < older_than).limit(batch_size)
    return sa.delete(request_log).where(t.id.in_(batch))
