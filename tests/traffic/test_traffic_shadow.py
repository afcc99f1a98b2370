"""Shadow traffic edge cases against a real gateway and replay upstream: a failing shadow call never reaches the
client, sample 0 shadows nothing, and misconfigurations are refused."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from wayfare.gateway.app import create_app
from wayfare.gateway.config import ConfigError, parse_config
from wayfare.mockllm.runner import ThreadedServer
from wayfare.store.tables import shadow_pairs
from wayfare.traffic.replay import replay_app
from wayfare.traffic.shadow import ShadowRunner


def _yaml(url: str, db: str, sample: float) -> str:
    return f"""models:
  - {{name: big, base_url: {url}/v1}}
  - {{name: small, base_url: {url}/v1}}
routes:
  - {{name: auto, router: strong, strong: big, weak: small, shadow: {{sample: {sample}}}}}
database_url: {db}
registry_poll_seconds: 0
"""


def test_a_failing_shadow_call_is_only_logged(tmp_path: Path) -> None:
    # The upstream knows "big"'s answers only: the shadow call to "small" gets a 404.
    answers = {"big": {"q1": "4", "q2": "5"}, "other": {}}
    db = f"sqlite:///{tmp_path / 'w.db'}"
    with ThreadedServer(replay_app(answers)) as upstream:
        gw_app = create_app(parse_config(_yaml(upstream.url, db, 1.0)))
        with ThreadedServer(gw_app) as gateway:
            for q, a in (("q1", "4"), ("q2", "5")):
                body = {"model": "auto", "messages": [{"role": "user", "content": q}]}
                resp = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)
                assert resp.status_code == 200 and resp.json()["choices"][0]["message"]["content"] == a
            stats = gw_app.state.gateway.shadow.stats
            deadline = time.monotonic() + 30
            while stats.failed < 2:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    assert stats.stored == 0 and "(small)" in stats.errors[-1], stats.errors
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(shadow_pairs)) == 0
    engine.dispose()


def test_sample_zero_and_no_database_mean_no_shadow_runner(tmp_path: Path) -> None:
    from wayfare.gateway.core import Gateway

    gw = Gateway(parse_config(_yaml("http://127.0.0.1:9", f"sqlite:///{tmp_path / 'w.db'}", 0.0)))
    assert gw.shadow is None
    gw = Gateway(parse_config(_yaml("http://127.0.0.1:9", "none", 0.5)))
    assert gw.shadow is None and ShadowRunner.for_gateway(gw) is None


def test_shadow_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="sample"):
        parse_config(_yaml("http://x", "none", 1.5))
    n_model = """models:
  - {name: a, base_url: http://x, input_price: 1, output_price: 1}
  - {name: b, base_url: http://x, input_price: 2, output_price: 2}
routes:
  - {name: r, models: [a, b], policy: {lam: 0.1}, shadow: {sample: 0.1}}
"""
    with pytest.raises(ConfigError, match="pair routes only"):
        parse_config(n_model)


def test_the_shadow_call_fails_over_to_the_models_next_deployment(tmp_path: Path) -> None:
    # "small" has two deployments: the first refuses connections (nothing listens on port 9), the second answers.
    # The shadow call must reach the second, as a client's request would, and store the pair.
    answers = {"big": {"q1": "4"}, "small": {"q1": "four"}}
    db = f"sqlite:///{tmp_path / 'w.db'}"
    with ThreadedServer(replay_app(answers)) as upstream:
        config = f"""models:
  - {{name: big, base_url: {upstream.url}/v1}}
  - {{name: small, base_url: http://127.0.0.1:9/v1}}
  - {{name: small, base_url: {upstream.url}/v1}}
load_balancing: {{strategy: least-busy}}
retry: {{max_retries: 0, backoff_base: 0.001}}
routes:
  - {{name: auto, router: strong, strong: big, weak: small, shadow: {{sample: 1.0}}}}
database_url: {db}
registry_poll_seconds: 0
"""
        gw_app = create_app(parse_config(config))
        with ThreadedServer(gw_app) as gateway:
            body = {"model": "auto", "messages": [{"role": "user", "content": "q1"}]}
            resp = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)
            assert resp.status_code == 200 and resp.json()["choices"][0]["message"]["content"] == "4"
            stats = gw_app.state.gateway.shadow.stats
            deadline = time.monotonic() + 30
            while stats.stored + stats.failed < 1:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    assert stats.stored == 1 and stats.failed == 0, stats.errors
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        row = conn.execute(sa.select(shadow_pairs.c.other_model, shadow_pairs.c.other_answer)).one()
    engine.dispose()
    assert tuple(row) == ("small", "four")
