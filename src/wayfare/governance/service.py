"""``Governance``: the one object the gateway calls per request (authorize, reserve, settle, cache).

gov = Governance.from_config(gateway_config)       # None when nothing is configured: zero cost
principal = await gov.authorize(headers, model)     # raises GovernanceError (401/403)
ticket = await gov.reserve(principal, model, [chosen, *fallbacks], endpoint, body)   # 429 on limit/budget
... call the provider ...
await gov.settle(ticket, cost_usd, input_tokens + output_tokens)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson

from wayfare.governance.budgets import BudgetLedger, BudgetScope, MemoryLedger, RedisLedger, Reservation
from wayfare.governance.cache import MemoryCache, RedisCache, ResponseCache, cache_key
from wayfare.governance.config import GovernanceConfig
from wayfare.governance.errors import GovernanceError, unauthorized
from wayfare.governance.keys import KeyCache, SqlKeyStore, VirtualKey, constant_time_equal, hash_secret
from wayfare.governance.ratelimit import Limit, MemoryRateLimiter, RateLimiter, RedisRateLimiter
from wayfare.governance.redis_gate import RedisGate
from wayfare.store.base import RequestLogStore

MASTER_KEY_ENV = "WAYFARE_MASTER_KEY"


class CostModel(Protocol):
    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a virtual key, the master key, or anonymous (no master key configured)."""

    key_id: str | None = None
    team: str | None = None
    user: str | None = None
    key: VirtualKey | None = None
    is_master: bool = False


ANONYMOUS = Principal()
MASTER = Principal(key_id="master", is_master=True)


@dataclass(slots=True)
class Ticket:
    """What one admitted request holds until it is settled."""

    reservation: Reservation | None = None
    tpm_scopes: list[str] = field(default_factory=list)
    estimate_usd: float = 0.0


def estimate_cost(
    pricing: CostModel | None, models: Sequence[str], body: Mapping[str, Any], default_max_tokens: int
) -> float:
    """An upper-bound style estimate for the reservation: prompt bytes as input tokens (a token is at least a byte
    for BPE tokenizers), ``max_tokens`` (or the default) x ``n`` as output tokens, at the priciest model in the
    fallback chain."""
    if pricing is None:
        return 0.0
    prompt = body.get("messages", body.get("prompt", body.get("input", "")))
    input_tokens = len(orjson.dumps(prompt)) + 16
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens
    n = body.get("n") or 1
    try:
        output_tokens = int(limit) * max(1, int(n))
    except (TypeError, ValueError):
        output_tokens = default_max_tokens
    costs = [c for m in models if (c := pricing.cost(m, input_tokens, output_tokens)) is not None]
    return max(costs, default=0.0)


class Governance:
    """Keys, budgets, rate limits and the response cache of one gateway process (``shared`` when on Redis)."""

    def __init__(
        self,
        config: GovernanceConfig | None = None,
        *,
        master_key: str | None = None,
        keys: SqlKeyStore | None = None,
        log_store: RequestLogStore | None = None,
        ledger: BudgetLedger | None = None,
        limiter: RateLimiter | None = None,
        cache: ResponseCache | None = None,
        pricing: CostModel | None = None,
        redis: Any = None,
    ) -> None:
        self.config = config or GovernanceConfig()
        self.master_key = master_key or None
        self.keys = keys
        self.log_store = log_store
        self.key_cache = KeyCache(self.config.key_cache_ttl_s)
        self.ledger: BudgetLedger = ledger or MemoryLedger(self._spent_since)
        self.limiter: RateLimiter = limiter or MemoryRateLimiter()
        self.cache: ResponseCache = cache or MemoryCache(self.config.cache.max_entries)
        self.pricing = pricing
        self.redis = redis
        self.shared = redis is not None
        self.gate = RedisGate.for_pair(self.ledger, self.limiter, self.config.redis_lease_s)
        """Budgets + rate limits in one Redis script per side of the call (None with in-process counters)."""
        self._pending: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(
        cls,
        config: GovernanceConfig,
        *,
        database_url: str | None,
        redis_url: str | None = None,
        master_key: str | None = None,
        pricing: CostModel | None = None,
        force: bool = False,
    ) -> Governance | None:
        """Build from the gateway's settings; None when there is nothing to enforce (no master key, no model
        limits, team budgets or cache, no Redis) unless ``force``. ``master_key`` defaults to $WAYFARE_MASTER_KEY."""
        master = master_key if master_key is not None else os.environ.get(MASTER_KEY_ENV) or None
        if not (force or master or config.active or redis_url):
            return None
        log_store: RequestLogStore | None = None
        keys: SqlKeyStore | None = None
        if database_url is None or database_url.lower() not in ("none", "memory"):
            from wayfare.store import open_store

            log_store = open_store(database_url)
            keys = SqlKeyStore(log_store.engine)  # type: ignore[attr-defined]
        gov = cls(config, master_key=master, keys=keys, log_store=log_store, pricing=pricing)
        if redis_url:
            client = connect_redis(redis_url)
            prefix = config.redis_prefix
            gov.redis, gov.shared = client, True
            gov.ledger = RedisLedger(client, gov._spent_since, prefix)
            gov.limiter = RedisRateLimiter(client, prefix=prefix)
            gov.cache = RedisCache(client, prefix)
            gov.gate = RedisGate.for_pair(gov.ledger, gov.limiter, config.redis_lease_s)
        return gov

    async def aclose(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self.gate is not None:
            await self.gate.aclose()
        await self.ledger.aclose()
        await self.limiter.aclose()
        await self.cache.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        if self.log_store is not None:
            self.log_store.close()

    async def _spent_since(self, kind: str, ident: str, since: datetime) -> float:
        """USD spent by a key or team since ``since``, from the request log (0 without one)."""
        store = self.log_store
        if store is None:
            return 0.0
        filters = {"key_id": ident} if kind == "key" else {"team": ident}
        rows = await asyncio.to_thread(store.spend, None, since=since, **filters)  # type: ignore[arg-type]
        return rows[0].cost_usd if rows else 0.0

    # ------------------------------------------------------------------ authentication
    @property
    def auth_required(self) -> bool:
        return self.master_key is not None

    def is_master(self, headers: Mapping[str, str]) -> bool:
        token = bearer_token(headers)
        return self.master_key is not None and token is not None and constant_time_equal(token, self.master_key)

    async def lookup(self, secret: str) -> VirtualKey | None:
        """The key for a presented secret (cached for ``key_cache_ttl_s``), or None."""
        digest = hash_secret(secret)
        hit, key = self.key_cache.get(digest)
        if hit:
            return key
        found = None if self.keys is None else await asyncio.to_thread(self.keys.by_secret, secret)
        key = found[1] if found is not None and constant_time_equal(found[0], digest) else None
        self.key_cache.put(digest, key)
        return key

    async def authorize(self, headers: Mapping[str, str], model: str, known: Principal | None = None) -> Principal:
        """The caller, or :class:`GovernanceError` 401 (no/invalid/revoked/expired key) or 403 (model not allowed).
        Without a master key configured, every caller is anonymous. ``known``: the caller, already authenticated
        from these headers (only the model is checked)."""
        principal = known if known is not None else await self.authenticate(headers)
        key = principal.key
        if key is not None and key.models is not None and model not in key.models:
            raise GovernanceError(
                403,
                "permission_error",
                f"This API key may not use model `{model}` (allowed: {', '.join(key.models) or 'none'}).",
                code="model_not_allowed",
                param="model",
            )
        return principal

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """The caller without a model check (``GET /v1/models``); 401 as in :meth:`authorize`."""
        if self.master_key is None:
            return ANONYMOUS
        token = bearer_token(headers)
        if token is None:
            raise unauthorized()
        if constant_time_equal(token, self.master_key):
            return MASTER
        key = await self.lookup(token)
        if key is None:
            raise unauthorized("Incorrect API key provided.")
        status = key.status()
        if status != "active":
            raise unauthorized(f"This API key ({key.key_hint}) is {status}.")
        return Principal(key_id=key.id, team=key.team, user=key.user, key=key)

    # ------------------------------------------------------------------ budgets and limits
    def budget_scopes_for_key(self, key: VirtualKey) -> list[BudgetScope]:
        if key.max_budget_usd is None:
            return []
        return [BudgetScope("key", key.id, key.max_budget_usd, key.budget_period or "total")]

    def budget_scopes(self, principal: Principal) -> list[BudgetScope]:
        scopes = [] if principal.key is None else self.budget_scopes_for_key(principal.key)
        team = self.config.teams.get(principal.team) if principal.team is not None else None
        if team is not None and principal.team is not None:
            scopes.append(BudgetScope("team", principal.team, team.max_budget_usd, team.budget_period))
        return scopes

    def limits(self, principal: Principal, models: Sequence[str]) -> tuple[list[Limit], list[Limit]]:
        rpm: list[Limit] = []
        tpm: list[Limit] = []
        key = principal.key
        if key is not None:
            if key.rpm is not None:
                rpm.append((f"key:{key.id}:rpm", key.rpm))
            if key.tpm is not None:
                tpm.append((f"key:{key.id}:tpm", key.tpm))
        for name in dict.fromkeys(models):
            lim = self.config.model_limits.get(name)
            if lim is not None:
                if lim.rpm is not None:
                    rpm.append((f"model:{name}:rpm", lim.rpm))
                if lim.tpm is not None:
                    tpm.append((f"model:{name}:tpm", lim.tpm))
        return rpm, tpm

    async def reserve(
        self, principal: Principal, models: Sequence[str], body: Mapping[str, Any], fallbacks: Sequence[str] = ()
    ) -> Ticket:
        """Reserve the estimated cost against the key's and team's budgets and count the request against the
        rpm/tpm limits of the key and of ``models`` (the requested name and the model chosen for it). On Redis both
        run as one script (one round trip). Raises a 429 :class:`GovernanceError`; a reservation is released when a
        rate limit refuses (a budget refusal still counts one request)."""
        ticket = Ticket()
        scopes = self.budget_scopes(principal)
        rpm, tpm = self.limits(principal, models)
        if not scopes and not rpm and not tpm:
            return ticket
        if scopes:
            ticket.estimate_usd = estimate_cost(
                self.pricing, [*models, *fallbacks], body, self.config.default_max_tokens
            )
        if self.gate is not None:
            ticket.reservation = await self.gate.admit(scopes, ticket.estimate_usd, rpm, tpm)
            ticket.tpm_scopes = [s for s, _ in tpm]
            return ticket
        reserve = self.ledger.reserve(scopes, ticket.estimate_usd) if scopes else _none()
        acquire = self.limiter.acquire(rpm, tpm) if rpm or tpm else _none()
        if self.shared:  # network round trips: overlap them
            reserved, limited = await asyncio.gather(reserve, acquire, return_exceptions=True)
        else:  # in-process: no I/O, and tasks would cost more than they save
            reserved, limited = await _outcome(reserve), await _outcome(acquire)
        if isinstance(reserved, BaseException):
            raise reserved
        ticket.reservation = reserved
        if isinstance(limited, BaseException):
            if reserved is not None:
                await self.ledger.settle(reserved, 0.0)
            raise limited
        ticket.tpm_scopes = [s for s, _ in tpm]
        return ticket

    async def settle(self, ticket: Ticket, cost_usd: float | None, tokens: int) -> None:
        """Replace the reservation by the real cost and charge the tokens to the tpm windows (one script on
        Redis)."""
        if self.gate is not None:
            await self.gate.settle(ticket.reservation, cost_usd or 0.0, ticket.tpm_scopes, tokens)
            return
        settle = self.ledger.settle(ticket.reservation, cost_usd or 0.0) if ticket.reservation is not None else _none()
        add = self.limiter.add_tokens(ticket.tpm_scopes, tokens) if ticket.tpm_scopes and tokens > 0 else _none()
        if self.shared:
            await asyncio.gather(settle, add)
        else:
            await settle
            await add

    def settle_soon(self, ticket: Ticket, cost_usd: float | None, tokens: int) -> None:
        """:meth:`settle` in a task (from synchronous code such as the request-log hook); awaited on close."""
        if ticket.reservation is None and not ticket.tpm_scopes:
            return
        if self.gate is not None:  # batched with the other settlements in flight: one round trip for all
            self.gate.settle_soon(ticket.reservation, cost_usd or 0.0, ticket.tpm_scopes, tokens)
            return
        ledger, limiter = self.ledger, self.limiter
        if isinstance(ledger, MemoryLedger) and isinstance(limiter, MemoryRateLimiter):  # no I/O: settle inline
            if ticket.reservation is not None:
                ledger.settle_now(ticket.reservation, cost_usd or 0.0)
            if ticket.tpm_scopes and tokens > 0:
                limiter.add_tokens_now(ticket.tpm_scopes, tokens)
            return
        task = asyncio.get_running_loop().create_task(self.settle(ticket, cost_usd, tokens))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # ------------------------------------------------------------------ response cache
    def cache_key_for(
        self, requested: str, endpoint: str, body: Mapping[str, Any], caller: str | None = None
    ) -> str | None:
        """The cache key of a request, or None when it must not be cached (route not opted in, streaming,
        temperature > 0 (default 1) unless forced). ``caller`` (who sent it) is part of the key unless
        ``share_across_keys``."""
        cfg = self.config.cache
        if requested not in cfg.routes:
            return None
        if body.get("stream"):  # streams are neither served from nor stored in the cache
            return None
        temperature = body.get("temperature")
        if not cfg.force and (temperature is None or not isinstance(temperature, int | float) or temperature > 0):
            return None
        return cache_key(endpoint, dict(body), None if cfg.share_across_keys else caller)

    async def cache_get(self, key: str) -> dict[str, Any] | None:
        raw = await self.cache.get(key)
        if raw is None:
            return None
        value = orjson.loads(raw)
        return value if isinstance(value, dict) else None

    async def cache_put(self, key: str, response: Mapping[str, Any]) -> None:
        await self.cache.set(key, orjson.dumps(response), self.config.cache.ttl_s)


async def _none() -> None:
    return None


async def _outcome(aw: Awaitable[Any]) -> Any:
    """The awaitable's result, or the exception it raised (like ``gather(..., return_exceptions=True)``)."""
    try:
        return await aw
    except Exception as exc:
        return exc


def connect_redis(url: str, max_connections: int = 64, wait_s: float = 10.0) -> Any:
    """An asyncio Redis client whose pool makes callers wait for a free connection (up to ``wait_s``) instead of
    failing when ``max_connections`` requests use Redis at once."""
    import redis.asyncio as aioredis

    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=wait_s)
    return aioredis.Redis(connection_pool=pool)


def bearer_token(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization")
    if not auth:
        return None
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
