"""The response cache (LRU, TTL, Redis) and its key normalisation; the governance queries use indexes (EXPLAIN)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from wayfare.governance.cache import MemoryCache, RedisCache, cache_key
from wayfare.governance.config import CacheConfig, GovernanceConfig
from wayfare.governance.keys import hash_secret
from wayfare.governance.service import Governance, connect_redis
from wayfare.store import RequestRecord, open_store
from wayfare.store.queries import LogFilter, spend_statement
from wayfare.store.sql_store import SqlRequestLogStore
from wayfare.store.tables import virtual_keys


def test_cache_key_normalises_the_request() -> None:
    a = {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0, "user": "u1"}
    b = {"temperature": 0, "messages": [{"content": "x", "role": "user"}], "model": "m", "user": "u2", "stream": False}
    assert cache_key("chat", a) == cache_key("chat", b)
    assert cache_key("chat", a) != cache_key("completions", a)
    assert cache_key("chat", a) != cache_key("chat", {**a, "max_tokens": 5})


def test_which_requests_are_cached() -> None:
    gov = Governance(GovernanceConfig(cache=CacheConfig(routes=["auto"])))
    body = {"model": "auto", "messages": [], "temperature": 0}
    assert gov.cache_key_for("auto", "chat", body) is not None
    assert gov.cache_key_for("other", "chat", body) is None  # not opted in
    assert gov.cache_key_for("auto", "chat", {**body, "temperature": 0.2}) is None
    assert gov.cache_key_for("auto", "chat", {"model": "auto", "messages": []}) is None  # default temperature 1
    assert gov.cache_key_for("auto", "chat", {**body, "stream": True}) is None
    forced = Governance(GovernanceConfig(cache=CacheConfig(routes=["auto"], force=True)))
    assert forced.cache_key_for("auto", "chat", {**body, "temperature": 0.9}) is not None


def test_callers_have_their_own_entries_unless_sharing_is_on() -> None:
    body = {"model": "auto", "messages": [{"role": "user", "content": "x"}], "temperature": 0}
    own = Governance(GovernanceConfig(cache=CacheConfig(routes=["auto"])))
    assert own.cache_key_for("auto", "chat", body, "key-a") != own.cache_key_for("auto", "chat", body, "key-b")
    assert own.cache_key_for("auto", "chat", body, "key-a") == own.cache_key_for("auto", "chat", body, "key-a")
    shared = Governance(GovernanceConfig(cache=CacheConfig(routes=["auto"], share_across_keys=True)))
    assert shared.cache_key_for("auto", "chat", body, "key-a") == shared.cache_key_for("auto", "chat", body, "key-b")


def test_memory_cache_lru_and_ttl() -> None:
    async def main() -> None:
        cache = MemoryCache(max_entries=2)
        await cache.set("a", b"1", 60)
        await cache.set("b", b"2", 60)
        assert await cache.get("a") == b"1"  # a is now the most recent
        await cache.set("c", b"3", 60)
        assert await cache.get("b") is None and await cache.get("a") == b"1" and len(cache) == 2
        await cache.set("d", b"4", 0.05)
        time.sleep(0.06)
        assert await cache.get("d") is None

    asyncio.run(main())


@pytest.mark.services
def test_redis_cache_shares_and_expires(redis_url: str, redis_prefix: str) -> None:
    async def main() -> None:
        one, two = connect_redis(redis_url), connect_redis(redis_url)
        await RedisCache(one, redis_prefix).set("k", b'{"x":1}', 0.2)
        assert await RedisCache(two, redis_prefix).get("k") == b'{"x":1}'
        await asyncio.sleep(0.25)
        assert await RedisCache(two, redis_prefix).get("k") is None
        await one.aclose()
        await two.aclose()

    asyncio.run(main())


def test_governance_queries_use_indexes(database_url: str) -> None:
    store = open_store(database_url)
    assert isinstance(store, SqlRequestLogStore)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        store.write_batch([RequestRecord(request_id=f"r{n}", chosen_model="m", key_id=f"key_{n % 200}",
                                         team=f"team{n % 20}", time=base + timedelta(minutes=7 * n), cost_usd=0.001)
                           for n in range(20_000)])  # fmt: skip
        now = datetime.now(UTC)
        with store.engine.begin() as conn:
            conn.execute(sa.insert(virtual_keys), [
                {"id": f"key_{n}", "key_hash": hash_secret(f"s{n}"), "key_hint": "wf-..", "metadata": {},
                 "created_at": now, "updated_at": now} for n in range(5000)
            ])  # fmt: skip
            conn.exec_driver_sql("ANALYZE")
        since = base + timedelta(days=30)
        seeds = {
            "ix_request_log_key_time": spend_statement(None, LogFilter(key_id="key_17", since=since)),
            "ix_request_log_team_time": spend_statement(None, LogFilter(team="team3", since=since)),
        }
        for index, statement in seeds.items():
            plan = "\n".join(store.explain(statement))
            assert index in plan and "Seq Scan" not in plan and "SCAN request_log" not in plan, plan
        lookup = sa.select(virtual_keys).where(virtual_keys.c.key_hash == hash_secret("s42"))
        plan = "\n".join(store.explain(lookup))
        assert "ux_virtual_keys_hash" in plan and "Seq Scan" not in plan, plan
    finally:
        store.close()
