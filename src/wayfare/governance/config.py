"""The ``governance:`` section of the gateway config (and ``redis_url`` next to it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from wayfare.cache.config import SemanticCacheConfig
from wayfare.governance.periods import BudgetPeriod


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitConfig(_Strict):
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)


class TeamBudget(_Strict):
    max_budget_usd: float = Field(ge=0)
    budget_period: BudgetPeriod = "monthly"


class CacheConfig(_Strict):
    routes: list[str] = []
    """Models/routes whose responses are cached (opt-in); empty: no cache."""
    ttl_s: float = Field(default=300.0, gt=0)
    max_entries: int = Field(default=10_000, gt=0)
    """In-process LRU size (ignored with Redis, which evicts by TTL)."""
    force: bool = False
    """Cache even when temperature > 0 (a missing temperature counts as OpenAI's default, 1)."""
    share_across_keys: bool = False
    """Serve one caller's cached answer to another (virtual keys, or callers told apart by their Authorization
    header). Off by default: every caller has its own entries, so a cache hit never tells one tenant what another
    asked."""
    semantic: SemanticCacheConfig = SemanticCacheConfig()
    """Reuse answers for similar prompts (docs/GATEWAY.md "Semantic cache")."""


class GovernanceConfig(_Strict):
    model_limits: dict[str, LimitConfig] = {}
    """rpm/tpm per model or route name, shared by every caller."""
    teams: dict[str, TeamBudget] = {}
    """USD budgets per team (a key's ``metadata.team``)."""
    cache: CacheConfig = CacheConfig()
    key_cache_ttl_s: float = Field(default=1.0, ge=0, le=60)
    """How long a replica trusts a key lookup: the bound on revocation delay on the other replicas."""
    default_max_tokens: int = Field(default=4096, gt=0)
    """Output tokens assumed for the budget reservation when a request sets no max_tokens."""
    redis_prefix: str = "wf:"
    """Prefix of every Redis key governance writes (counters, cache)."""
    redis_lease_s: float = Field(default=0.25, ge=0, le=5)
    """With Redis: how long a replica may keep a lease of a busy key's headroom (requests and USD admitted without a
    Redis round trip while the key is far from its limits; docs/GOVERNANCE.md). 0: every request checked in Redis."""

    @property
    def active(self) -> bool:
        """Whether anything here needs the request path (model limits, team budgets or a cache)."""
        return bool(self.model_limits or self.teams or self.cache.routes or self.cache.semantic.routes)
