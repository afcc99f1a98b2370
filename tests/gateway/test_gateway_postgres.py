"""The gateway writing its request log to PostgreSQL (database_url): rows arrive, and shutdown flushes them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote

import openai
import psycopg
import pytest

from wayfare.gateway.reqlog import StoreSink
from wayfare.gateway.testing import GatewayStack
from wayfare.store import open_store

pytestmark = pytest.mark.services

CONFIG = """
models:
  - {{name: strong, model: up-strong, base_url: {url}, input_price: 10, output_price: 30}}
  - {{name: weak, model: up-weak, base_url: {url}, input_price: 0.5, output_price: 1.5}}
routes:
  - {{name: auto, router: random, strong: strong, weak: weak, threshold: 0.5}}
"""


@pytest.fixture()
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """A fresh schema (dropped afterwards); the URL's search_path points at it."""
    schema = f"wayfare_gw_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in postgres_url else "?"
        yield f"{postgres_url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_request_log_rows_reach_postgresql(pg_schema_url: str) -> None:
    sent: dict[str, tuple[str, bool]] = {}
    with GatewayStack(CONFIG, sink=StoreSink(pg_schema_url)) as stack:
        client = openai.OpenAI(base_url=stack.base_url, api_key="sk-pg", max_retries=0, timeout=20)
        for i in range(5):
            raw = client.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": f"postgres prompt {i}"}]
            )
            sent[raw.headers["x-wayfare-request-id"]] = (raw.headers["x-wayfare-model"], False)
        with client.chat.completions.with_streaming_response.create(
            model="weak", messages=[{"role": "user", "content": "streamed to postgres"}], stream=True
        ) as resp:
            list(resp.iter_lines())
            sent[resp.headers["x-wayfare-request-id"]] = ("weak", True)
    # the stack has shut down gracefully: every record must be in the database now
    store = open_store(pg_schema_url)
    try:
        rows = {r.request_id: r for r in store.query(limit=100)}
    finally:
        store.close()
    assert set(rows) == set(sent)
    for rid, (model, stream) in sent.items():
        r = rows[rid]
        assert r.chosen_model == model and r.stream == stream and r.status == 200
        assert r.input_tokens > 0 and r.output_tokens > 0 and r.cost_usd > 0 and r.key_id is not None
        if not stream:
            assert r.route == "auto" and r.candidates == ["weak", "strong"] and r.score is not None
            assert r.counterfactual_cost_usd == pytest.approx((r.input_tokens * 10 + r.output_tokens * 30) / 1e6)
