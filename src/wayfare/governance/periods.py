"""Budget periods: when the current one started and when it ends (UTC calendar boundaries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

BudgetPeriod = Literal["daily", "weekly", "monthly", "total"]
PERIODS: tuple[str, ...] = get_args(BudgetPeriod)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def period_bounds(period: BudgetPeriod, now: datetime) -> tuple[datetime, datetime | None]:
    """[start, end) of the period containing ``now``: days start at 00:00 UTC, weeks on Monday, months on the
    1st; ``total`` never resets (end None)."""
    now = now.astimezone(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return day, day + timedelta(days=1)
    if period == "weekly":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == "monthly":
        start = day.replace(day=1)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        return start, end
    if period == "total":
        return EPOCH, None
    raise ValueError(f"budget_period must be one of {', '.join(PERIODS)} (got {period!r})")
