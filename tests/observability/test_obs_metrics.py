"""/metrics after mixed traffic through a real gateway and mock upstream: the counters add up to the request log."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from prometheus_client.parser import text_string_to_metric_families

from wayfare.gateway.testing import GatewayStack
from wayfare.observability.metrics import route_label
from wayfare.observability.preview import make_preview, redact

CONFIG = """
models:
  - {{name: strong, model: up-strong, base_url: {url}, input_price: 10, output_price: 30}}
  - {{name: weak, model: up-weak, base_url: {url}, input_price: 0.5, output_price: 1.5}}
  - {{name: primary, model: up-primary, base_url: {url}, input_price: 1, output_price: 2}}
  - {{name: backup, model: up-backup, base_url: {url}, input_price: 1, output_price: 2}}
  - {{name: lonely, model: up-lonely, base_url: {url}, input_price: 1, output_price: 2}}
routes:
  - {{name: auto, router: random, strong: strong, weak: weak, threshold: 0.5}}
  - {{name: broken, router: no-such-router-xyz, strong: strong, weak: weak}}
fallbacks:
  primary: [backup]
retry: {{max_retries: 1, backoff_base: 0.01, max_retry_after: 1, deadline: 10, cooldown_failures: 1000}}
database_url: none
governance:
  model_limits: {{lonely: {{rpm: 2}}}}
  cache: {{routes: [weak], ttl_s: 60}}
observability: {{prompt_preview: redacted, preview_chars: 60}}
"""


@pytest.fixture(scope="module")
def stack() -> Iterator[GatewayStack]:
    with GatewayStack(CONFIG, retry_after_ms=20) as s:
        yield s


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _sum(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(
        v for (n, lab), v in samples.items() if n == name and all(dict(lab).get(k) == x for k, x in labels.items())
    )


def user(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


def _flush_wait(stack: GatewayStack, n: int) -> None:
    import time

    deadline = time.monotonic() + 5
    while len(stack.sink.records) < n and time.monotonic() < deadline:
        time.sleep(0.02)


def test_metrics_add_up_to_the_request_log(stack: GatewayStack) -> None:
    client = openai.OpenAI(base_url=stack.base_url, api_key="sk-test", max_retries=0, timeout=20)
    for i in range(12):  # routed: the random baseline splits these between strong and weak
        client.chat.completions.create(model="auto", messages=user(f"metrics question {i} mail me at a@b.co"))
    for i in range(3):  # RouteLLM-style names fold into one route label
        client.chat.completions.create(model=f"router-random-0.{i + 3}", messages=user(f"threshold probe {i}"))
    client.chat.completions.create(model="broken", messages=user("router fails to load"))
    stream = client.chat.completions.create(model="auto", messages=user("stream me"), stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    # a fault on primary: retried once, then the fallback answers
    stack.mock.fault("up-primary", "500", times=2)
    assert client.chat.completions.create(model="primary", messages=user("x")).model == "backup"
    # rate limit on `lonely`: the third request in the minute is refused
    body = {"model": "lonely", "messages": user("hi")}
    statuses = [httpx.post(stack.base_url + "/chat/completions", json=body).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    # cache: second identical temperature-0 request is a hit
    for _ in range(2):
        client.chat.completions.create(model="weak", messages=user("cache me"), temperature=0)
    # an upstream failure with no fallback: 502 after retries
    stack.mock.fault("up-strong", "500", times=2)
    fail = httpx.post(stack.base_url + "/chat/completions", json={"model": "strong", "messages": user("boom")})
    assert fail.status_code == 502

    n_sent = 12 + 3 + 1 + 1 + 1 + 3 + 2 + 1
    _flush_wait(stack, n_sent)
    records = list(stack.sink.records)
    assert len(records) == n_sent
    resp = httpx.get(stack.url + "/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    m = _samples(resp.text)

    # every record counted once, by route / model / status
    assert _sum(m, "wayfare_requests_total") == len(records)
    by_key = Counter((route_label(r.route), r.chosen_model, str(r.status)) for r in records)
    for (route, model, status), n in by_key.items():
        assert _sum(m, "wayfare_requests_total", route=route, model=model, status=status) == n
    # routed share per route and model
    routed = Counter(
        (route_label(r.route), r.chosen_model)
        for r in records
        if r.route is not None and (r.error_class is None or r.error_class.startswith("router_error"))
    )
    for (route, model), n in routed.items():
        assert _sum(m, "wayfare_routed_requests_total", route=route, model=model) == n
    assert _sum(m, "wayfare_routed_requests_total", route="auto", model="weak") > 0
    assert _sum(m, "wayfare_routed_requests_total", route="auto", model="strong") > 0
    assert _sum(m, "wayfare_routed_requests_total", route="router-random") == 3
    assert not any(dict(lab).get("route", "").startswith("router-random-") for (_, lab) in m)
    # money
    assert _sum(m, "wayfare_cost_usd_total") == pytest.approx(sum(r.cost_usd for r in records))
    assert _sum(m, "wayfare_counterfactual_cost_usd_total") == pytest.approx(
        sum(r.counterfactual_cost_usd for r in records)
    )
    net = _sum(m, "wayfare_savings_usd_total") - _sum(m, "wayfare_overspend_usd_total")
    assert net == pytest.approx(sum(r.savings_usd for r in records)) and net > 0
    assert _sum(m, "wayfare_tokens_total", direction="input") == sum(r.input_tokens for r in records)
    # latency histograms: one observation per record; decision time for each router-decided request
    assert _sum(m, "wayfare_request_duration_seconds_count") == len(records)
    assert _sum(m, "wayfare_request_duration_seconds_sum") == pytest.approx(
        sum(r.latency_ms for r in records) / 1000, rel=1e-6
    )
    upstream = [r for r in records if r.upstream_ms is not None]
    assert len(upstream) == len(records) - 2  # the cache hit and the rate-limited request never went upstream
    assert _sum(m, "wayfare_upstream_duration_seconds_count") == len(upstream)
    assert all(r.upstream_ms is not None and r.upstream_ms <= r.latency_ms for r in upstream)
    decided = [r for r in records if r.decision_ms and r.error_class is None]
    assert _sum(m, "wayfare_decision_duration_seconds_count") == len(decided) > 0
    # failures, retries, fallbacks, cache, governance
    assert _sum(m, "wayfare_fallbacks_total", model="backup") == 1
    assert _sum(m, "wayfare_retries_total") == sum(max(0, r.attempts - 1) for r in records) >= 3
    assert _sum(m, "wayfare_cache_hits_total") == sum(r.cache_hit for r in records) == 1
    assert _sum(m, "wayfare_rejections_total", reason="rate_limit") == 1
    assert _sum(m, "wayfare_upstream_errors_total", model="strong") == 1
    assert _sum(m, "wayfare_router_errors_total", route="broken") == 1
    # prompt previews are redacted in the log too
    previews = [r.prompt_preview for r in records if r.prompt_preview and "metrics question" in r.prompt_preview]
    assert len(previews) == 12 and all("[email]" in p and "a@b.co" not in p for p in previews)


def test_no_secret_and_bounded_labels(stack: GatewayStack) -> None:
    text = httpx.get(stack.url + "/metrics").text
    assert "sk-test" not in text
    labels = {dict(lab).get("route") for (_, lab) in _samples(text) if "route" in dict(lab)}
    assert labels <= {"", "auto", "broken", "router-random"}


def test_metrics_can_be_disabled() -> None:
    cfg = CONFIG.replace("prompt_preview: redacted, preview_chars: 60", "metrics: false, prompt_preview: 'off'")
    with GatewayStack(cfg) as s:
        openai.OpenAI(base_url=s.base_url, api_key="x", max_retries=0).chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hello there"}]
        )
        r = httpx.get(s.url + "/metrics")
        assert r.status_code == 404 and "disabled" in r.json()["error"]["message"]
        _flush_wait(s, 1)
        assert s.sink.records[0].prompt_preview is None


def test_preview_redaction_and_cut() -> None:
    assert redact("call +1 (555) 123-4567 or mail jo.x@corp.example.com, key sk-abcdef1234567890") == (
        "call +[number] or mail [email], key [secret]"
    )
    assert make_preview("a " * 100, "full", 10) == "a a a a a…"
    assert make_preview("anything", "off", 10) is None
    assert make_preview("x  y\n z", "full", 80) == "x y z"
    assert not math.isnan(len(make_preview("é" * 5, "redacted", 3) or ""))


def test_grafana_dashboard_queries_only_metrics_that_exist(stack: GatewayStack) -> None:
    import json
    import re
    from pathlib import Path

    dash = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\bwayfare_[a-z_]+", e)}
    exposed = {n for (n, _) in _samples(httpx.get(stack.url + "/metrics").text)}
    exposed |= {n.removesuffix("_count") + "_bucket" for n in exposed if n.endswith("_count")}
    assert used and used <= exposed, used - exposed
