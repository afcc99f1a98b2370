"""Two gateway replicas on different ports sharing the real Redis and PostgreSQL: 200 concurrent requests spread
over both against one key. The rpm limit holds globally, a budget ends within one reservation, every request is in
PostgreSQL exactly once, and a key revoked on one replica stops working on the other within 1 s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from wayfare.gateway.app import create_app
from wayfare.gateway.config import parse_config
from wayfare.mockllm.runner import MockUpstream, ThreadedServer

pytestmark = pytest.mark.services

MASTER = "mk-replicas-" + "7" * 20
CONFIG = """
models:
  - {{name: strong, model: up-strong, base_url: {url}, input_price: 10, output_price: 30}}
retry: {{max_retries: 0, cooldown_failures: 100000}}
database_url: "{db}"
redis_url: "{redis}"
governance: {{redis_prefix: "{prefix}"}}
"""


class Replicas:
    def __init__(self, urls: list[str], pg_url: str) -> None:
        self.urls, self.pg_url = urls, pg_url

    def admin(self, i: int, method: str, path: str, **kw: Any) -> dict[str, Any]:
        resp = httpx.request(
            method, self.urls[i] + "/admin" + path, headers={"authorization": f"Bearer {MASTER}"}, **kw
        )
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body


@pytest.fixture
def replicas(pg_url: str, redis_url: str, redis_prefix: str) -> Iterator[Replicas]:
    with pytest.MonkeyPatch.context() as mp, MockUpstream() as mock:
        mp.setenv("WAYFARE_MASTER_KEY", MASTER)
        text = CONFIG.format(url=mock.base_url, db=pg_url, redis=redis_url, prefix=redis_prefix)
        servers = [ThreadedServer(create_app(parse_config(text))).start() for _ in range(2)]
        try:
            yield Replicas([s.url for s in servers], pg_url)
        finally:
            for s in servers:
                s.stop()  # graceful: flushes the request log


def _fire(urls: list[str], secret: str, n: int) -> list[httpx.Response]:
    async def main() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=n)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:

            async def one(i: int) -> httpx.Response:
                return await client.post(
                    urls[i % 2] + "/v1/chat/completions",
                    headers={"authorization": f"Bearer {secret}"},
                    json={"model": "strong", "messages": [{"role": "user", "content": f"req {i}"}], "max_tokens": 16},
                )

            return await asyncio.gather(*(one(i) for i in range(n)))

    return asyncio.run(main())


def _one(url: str, secret: str, i: int) -> httpx.Response:
    return httpx.post(
        url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {secret}"},
        json={"model": "strong", "messages": [{"role": "user", "content": f"more {i}"}], "max_tokens": 16},
    )


def _rows(pg_url: str, key_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute(
            "SELECT request_id, status, cost_usd FROM request_log WHERE key_id = %s", (key_id,)
        ).fetchall()


def test_rate_limit_and_budget_hold_across_replicas(replicas: Replicas) -> None:
    limited = replicas.admin(0, "POST", "/keys", json={"rpm": 50})
    responses = _fire(replicas.urls, limited["key"], 200)
    statuses = [r.status_code for r in responses]
    ok = statuses.count(200)
    assert ok <= 50 and statuses.count(429) == 200 - ok
    assert all(r.json()["error"]["code"] == "rate_limit_exceeded" and r.headers["retry-after"]
               for r in responses if r.status_code == 429)  # fmt: skip
    # Under a burst a replica's unused lease may refuse a few early (docs/GOVERNANCE.md); once the leases have
    # lapsed, what was left goes back and the window admits exactly its limit, never more.
    time.sleep(0.3)
    more = [_one(replicas.urls[i % 2], limited["key"], i) for i in range(50 - ok + 2)]
    assert [r.status_code for r in more] == [200] * (50 - ok) + [429, 429]

    budget = 0.002
    spender = replicas.admin(1, "POST", "/keys", json={"max_budget_usd": budget, "budget_period": "daily"})
    responses = _fire(replicas.urls, spender["key"], 200)
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert ok and refused and all(r.json()["error"]["code"] == "budget_exceeded" for r in refused)
    spent = sum(float(r.headers["x-wayfare-cost-usd"]) for r in ok)
    # one reservation: prompt bytes + 16 input tokens and max_tokens=16 output tokens at the strong model's prices
    one_reservation = (200 * 10 + 16 * 30) / 1e6
    assert spent <= budget + one_reservation
    committed = replicas.admin(0, "GET", f"/keys/{spender['id']}")["budget"]["committed_usd"]
    assert committed == pytest.approx(spent)

    replicas_rows = _stop_and_rows(replicas, [limited["id"], spender["id"]])
    sent = {limited["id"]: 200 + len(more), spender["id"]: 200}
    for key_id, rows in replicas_rows.items():
        ids = [r[0] for r in rows]
        assert len(ids) == len(set(ids)) == sent[key_id], key_id  # every request once, refusals included
    assert sum(r[2] for r in replicas_rows[spender["id"]]) == pytest.approx(spent)


def _stop_and_rows(replicas: Replicas, key_ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    deadline = time.monotonic() + 10
    while True:
        rows = {k: _rows(replicas.pg_url, k) for k in key_ids}
        if all(len(v) >= 200 for v in rows.values()) or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_revocation_reaches_the_other_replica_within_one_second(replicas: Replicas) -> None:
    created = replicas.admin(0, "POST", "/keys", json={})
    headers = {"authorization": f"Bearer {created['key']}"}
    body = {"model": "strong", "messages": [{"role": "user", "content": "hi"}]}
    for url in replicas.urls:  # warm both replicas' key caches
        assert httpx.post(url + "/v1/chat/completions", headers=headers, json=body).status_code == 200
    replicas.admin(0, "DELETE", f"/keys/{created['id']}")
    t0 = time.monotonic()
    assert httpx.post(replicas.urls[0] + "/v1/chat/completions", headers=headers, json=body).status_code == 401
    # The guarantee is about when a request is *sent*: every request sent 1 s or more after the revocation is
    # refused (how long the refusing request itself takes, e.g. its key lookup in PostgreSQL, is not part of it).
    while True:
        sent = time.monotonic() - t0
        status = httpx.post(replicas.urls[1] + "/v1/chat/completions", headers=headers, json=body).status_code
        if status != 200:
            break
        assert sent < 1.0, f"the other replica accepted the revoked key {sent:.2f} s after the revocation"
        time.sleep(0.05)
    assert status == 401  # refused (not failed otherwise), at the latest by the first request sent after 1 s
