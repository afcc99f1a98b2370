"""observability.metrics_auth: /metrics answers only to the master key, with OpenAI-style errors otherwise."""

from __future__ import annotations

import httpx
import pytest

from wayfare.gateway.testing import GatewayStack

CONFIG = """
models:
  - {{name: weak, model: up-weak, base_url: {url}}}
database_url: none
observability: {{metrics_auth: true}}
"""
MASTER = "sk-master-metrics-test"


def test_metrics_need_the_master_key_when_metrics_auth_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYFARE_MASTER_KEY", MASTER)
    with GatewayStack(CONFIG) as s:
        r = httpx.post(
            s.base_url + "/chat/completions",
            json={"model": "weak", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {MASTER}"},
        )
        assert r.status_code == 200
        anonymous = httpx.get(s.url + "/metrics")
        wrong = httpx.get(s.url + "/metrics", headers={"authorization": "Bearer sk-wrong"})
        ok = httpx.get(s.url + "/metrics", headers={"authorization": f"Bearer {MASTER}"})
    for r in (anonymous, wrong):
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_api_key" and "master key" in r.json()["error"]["message"]
    assert ok.status_code == 200 and "wayfare_requests_total" in ok.text


def test_metrics_auth_without_a_master_key_refuses_everyone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAYFARE_MASTER_KEY", raising=False)
    with GatewayStack(CONFIG) as s:
        r = httpx.get(s.url + "/metrics", headers={"authorization": "Bearer anything"})
    assert r.status_code == 403 and "WAYFARE_MASTER_KEY" in r.json()["error"]["message"]


def test_metrics_stay_open_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYFARE_MASTER_KEY", MASTER)
    with GatewayStack(CONFIG.replace("observability: {{metrics_auth: true}}", "")) as s:
        assert httpx.get(s.url + "/metrics").status_code == 200
