"""Spend reports from the request log: cost, the counterfactual cost (the route's strongest model for the same
tokens) and the savings, per key, team, model or route. Shared by ``GET /admin/spend`` and ``wayfare spend``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from wayfare.governance.errors import bad_request
from wayfare.store.base import RequestLogStore
from wayfare.store.record import GROUP_BY_VALUES, GroupBy, SpendRow


def parse_time(value: str | None, param: str) -> datetime | None:
    """ISO date or datetime (naive means UTC); None for empty. A bad value is a 400 GovernanceError."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            d = date.fromisoformat(text)
        except ValueError:
            raise bad_request(f"{param!r} must be an ISO date or datetime, got {value!r}", param) from None
        parsed = datetime(d.year, d.month, d.day)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_group_by(value: str | None) -> GroupBy | None:
    if value is None or value == "":
        return None
    if value not in GROUP_BY_VALUES:
        raise bad_request(f"group_by must be one of {', '.join(GROUP_BY_VALUES)} (got {value!r})", "group_by")
    return value


def row_json(row: SpendRow) -> dict[str, Any]:
    cf = row.counterfactual_cost_usd
    return {
        "group": row.group,
        "requests": row.requests,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cost_usd": row.cost_usd,
        "counterfactual_cost_usd": cf,
        "savings_usd": row.savings_usd,
        "savings_pct": (100.0 * row.savings_usd / cf) if cf > 0 else None,
    }


def spend_report(
    store: RequestLogStore, group_by: GroupBy | None, since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    """The report as JSON: totals, one row per group (most expensive first), and what it was measured on."""
    total = store.spend(None, since=since, until=until)
    rows = store.spend(group_by, since=since, until=until) if group_by is not None else []
    total_json = row_json(total[0]) if total else row_json(SpendRow(None, 0, 0, 0, 0.0, 0.0))
    span = f"from {since.isoformat() if since else 'the first row'} to {until.isoformat() if until else 'now'}"
    return {
        "object": "spend_report",
        "group_by": group_by,
        "from": since.isoformat() if since else None,
        "to": until.isoformat() if until else None,
        "measured_on": f"{total_json['requests']} requests in the request log ({store.backend}), {span}",
        "total": total_json,
        "data": [row_json(r) for r in rows],
    }
