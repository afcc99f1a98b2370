"""The request-log row and the spend-report row: plain dataclasses, no database types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

GroupBy = Literal["key", "team", "model", "route"]
"""What a spend report can be grouped by (request-log columns key_id, team, chosen_model, route)."""

GROUP_BY_VALUES: tuple[GroupBy, ...] = ("key", "team", "model", "route")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


@dataclass(slots=True, kw_only=True)
class RequestRecord:
    """One row of the request log: what was asked, how it was routed, what it cost, how it went.

    `time` must be timezone-aware (it is stored in UTC). Costs are in USD; `counterfactual_cost_usd` is what the
    route's strong (most expensive) model would have cost for the same tokens, so `savings_usd` is per request.
    """

    request_id: str
    chosen_model: str
    time: datetime = field(default_factory=utcnow)
    key_id: str | None = None
    team: str | None = None
    route: str | None = None
    candidates: list[str] = field(default_factory=list)
    score: float | None = None
    threshold: float | None = None
    decision_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    counterfactual_cost_usd: float = 0.0
    latency_ms: float = 0.0
    upstream_ms: float | None = None
    status: int = 200
    error_class: str | None = None
    attempts: int = 1
    fallback_used: bool = False
    stream: bool = False
    cache_hit: bool = False
    session_id: str | None = None
    prompt_preview: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError(f"RequestRecord.time must be timezone-aware (got naive {self.time.isoformat()})")
        if not self.request_id:
            raise ValueError("RequestRecord.request_id must be a non-empty string")

    @property
    def savings_usd(self) -> float:
        """Counterfactual cost minus actual cost (negative when routing spent more than the strong model)."""
        return self.counterfactual_cost_usd - self.cost_usd


RECORD_FIELDS: tuple[str, ...] = tuple(RequestRecord.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class SpendRow:
    """Spend of one group (a key, team, model or route; `group` is None for the total or for unset values)."""

    group: str | None
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    counterfactual_cost_usd: float

    @property
    def savings_usd(self) -> float:
        return self.counterfactual_cost_usd - self.cost_usd

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What `prune` did: rows deleted and the number of delete transactions (batches) it took."""

    deleted: int
    batches: int
