"""Several deployments behind one model name: two local mock upstreams serve model ``m``; each strategy's choices,
cooldown and recovery, rpm quotas shared by two replicas through the real Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from wayfare.gateway.app import create_app
from wayfare.gateway.config import ConfigError, GatewayConfig, parse_config
from wayfare.gateway.reqlog import MemorySink
from wayfare.mockllm.runner import MockUpstream, ThreadedServer


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[MockUpstream, MockUpstream]]:
    with MockUpstream() as a, MockUpstream(latency_ms=40) as b:
        yield a, b


@pytest.fixture(autouse=True)
def _no_faults(upstreams: tuple[MockUpstream, MockUpstream]) -> Iterator[None]:
    yield
    for up in upstreams:
        httpx.delete(up.url + "/_mock/faults").raise_for_status()


def two_deployments(
    a: MockUpstream, b: MockUpstream, strategy: str = "weighted", extra_a: str = "", extra_b: str = "", tail: str = ""
) -> GatewayConfig:
    return parse_config(f"""
models:
  - {{name: m, model: mock-strong, base_url: {a.base_url}, input_price: 1, output_price: 2{extra_a}}}
  - {{name: m, model: mock-strong, base_url: {b.base_url}, input_price: 10, output_price: 20{extra_b}}}
  - {{name: backup, model: mock-weak, base_url: {a.base_url}}}
fallbacks: {{m: [backup]}}
load_balancing: {{strategy: {strategy}, seed: 7}}
retry: {{max_retries: 0, backoff_base: 0.001, cooldown_failures: 1, cooldown_seconds: 2}}
database_url: none
{tail}""")


class Serving:
    def __init__(self, config: GatewayConfig) -> None:
        self.sink = MemorySink()
        self.server = ThreadedServer(create_app(config, sink=self.sink))

    def __enter__(self) -> Serving:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def chat(self, text: str = "hello") -> httpx.Response:
        body = {"model": "m", "messages": [{"role": "user", "content": text}]}
        return httpx.post(self.server.url + "/v1/chat/completions", json=body, timeout=20)

    def deployment(self, text: str = "hello") -> str:
        resp = self.chat(text)
        assert resp.status_code == 200, resp.text
        return resp.headers["x-wayfare-deployment"]


def test_weighted_serves_model_m_from_both_deployments_in_proportion(
    upstreams: tuple[MockUpstream, MockUpstream],
) -> None:
    a, b = upstreams
    seen_a, seen_b = a.mock.request_count, b.mock.request_count
    with Serving(two_deployments(a, b, extra_a=", weight: 3")) as gw:
        picks = Counter(gw.deployment(f"q{i}") for i in range(60))
    assert set(picks) == {"m#1", "m#2"}
    assert picks["m#1"] > picks["m#2"] >= 5  # weight 3 : 1 (seeded, so repeatable)
    assert a.mock.request_count - seen_a == picks["m#1"] and b.mock.request_count - seen_b == picks["m#2"]
    records = list(gw.sink.records)
    assert Counter(r.metadata["deployment"] for r in records) == picks
    assert {r.chosen_model for r in records} == {"m"}


def test_each_deployment_is_priced_on_its_own(upstreams: tuple[MockUpstream, MockUpstream]) -> None:
    a, b = upstreams
    with Serving(two_deployments(a, b)) as gw:
        costs: dict[str, float] = {}
        for i in range(30):
            resp = gw.chat(f"price {i}")
            tokens = resp.json()["usage"]
            unit = float(resp.headers["x-wayfare-cost-usd"]) * 1e6
            costs[resp.headers["x-wayfare-deployment"]] = unit / (
                tokens["prompt_tokens"] + 2 * tokens["completion_tokens"]
            )
    assert costs["m#1"] == pytest.approx(1.0) and costs["m#2"] == pytest.approx(10.0)


def test_least_busy_sends_the_second_concurrent_request_elsewhere(
    upstreams: tuple[MockUpstream, MockUpstream],
) -> None:
    b = upstreams[1]
    slow = MockUpstream(latency_ms=400).start()
    try:
        with Serving(two_deployments(slow, b, strategy="least-busy")) as gw:

            async def two_at_once() -> list[str]:
                async with httpx.AsyncClient(timeout=20) as client:
                    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
                    first = asyncio.create_task(client.post(gw.server.url + "/v1/chat/completions", json=body))

                    async def in_flight() -> int:  # what /ready says of m#1
                        ready = (await client.get(gw.server.url + "/ready")).json()
                        return int(next(d["in_flight"] for d in ready["deployments"]["m"] if d["id"] == "m#1"))

                    for _ in range(100):  # until the first is in flight on m#1 (400 ms upstream)
                        if await in_flight():
                            break
                        await asyncio.sleep(0.01)
                    second = await client.post(gw.server.url + "/v1/chat/completions", json=body)
                    return [(await first).headers["x-wayfare-deployment"], second.headers["x-wayfare-deployment"]]

            assert asyncio.run(two_at_once()) == ["m#1", "m#2"]
            assert gw.deployment() == "m#1"  # nothing in flight: ties go to config order
    finally:
        slow.stop()


def test_latency_tries_each_once_then_prefers_the_faster(upstreams: tuple[MockUpstream, MockUpstream]) -> None:
    a = upstreams[0]
    with MockUpstream(latency_ms=200) as slow, Serving(two_deployments(slow, a, strategy="latency")) as gw:
        picks = [gw.deployment(f"q{i}") for i in range(6)]
    assert picks == ["m#1", "m#2", "m#2", "m#2", "m#2", "m#2"]


def test_a_failing_deployment_cools_down_then_recovers(upstreams: tuple[MockUpstream, MockUpstream]) -> None:
    a, b = upstreams
    with Serving(two_deployments(a, b, strategy="least-busy")) as gw:
        a.fault("mock-strong", "500", times=1)
        resp = gw.chat("first")
        assert resp.status_code == 200 and resp.headers["x-wayfare-deployment"] == "m#2"
        assert resp.headers["x-wayfare-model"] == "m"  # the next deployment, not the fallback model
        assert gw.sink.records[-1].attempts == 2
        health = httpx.get(gw.server.url + "/ready").json()
        assert health["cooling_down"] == ["m#1"]
        pool = {d["id"]: d for d in health["deployments"]["m"]}
        assert pool["m#1"]["cooling_down"] and not pool["m#2"]["cooling_down"] and pool["m#2"]["ttfb_ms"] > 0
        assert set(health["deployments"]) == {"m"}  # models with one deployment are not listed
        listed = httpx.get(gw.server.url + "/v1/models").json()["data"]
        assert [(d["id"], d.get("deployments")) for d in listed] == [("m", ["m#1", "m#2"]), ("backup", None)]
        assert gw.deployment("while cooling") == "m#2"  # m#1 would win the tie, but it is cooling down
        time.sleep(2.1)
        assert gw.deployment("after") == "m#1"  # recovered
        metrics = httpx.get(gw.server.url + "/metrics").text
    assert 'wayfare_deployment_attempts_total{deployment="m#1",model="m",outcome="server_error"} 1.0' in metrics
    assert 'wayfare_deployment_attempts_total{deployment="m#2",model="m",outcome="ok"} 2.0' in metrics


def test_every_deployment_failing_moves_on_to_the_fallback_model(
    upstreams: tuple[MockUpstream, MockUpstream],
) -> None:
    a, b = upstreams
    with Serving(two_deployments(a, b, strategy="least-busy")) as gw:
        a.fault("mock-strong", "500", times=1)
        b.fault("mock-strong", "500", times=1)
        resp = gw.chat()
    assert resp.status_code == 200 and resp.headers["x-wayfare-model"] == "backup"
    assert resp.headers["x-wayfare-deployment"] == "backup"
    assert gw.sink.records[-1].attempts == 3 and gw.sink.records[-1].fallback_used


def _fresh_minute() -> None:
    """Quota windows are wall-clock minutes: start a quota test early in one so it does not straddle two."""
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)


def test_usage_prefers_room_and_answers_429_when_every_quota_is_spent(
    upstreams: tuple[MockUpstream, MockUpstream],
) -> None:
    a, b = upstreams
    cfg = two_deployments(a, b, strategy="usage", extra_a=", rpm: 2", extra_b=", rpm: 3")
    cfg = cfg.model_copy(update={"fallbacks": {}})
    _fresh_minute()
    with Serving(cfg) as gw:
        picks = [gw.deployment(f"q{i}") for i in range(5)]
        refused = gw.chat("one too many")
    assert picks == ["m#1", "m#2", "m#2", "m#1", "m#2"]  # most room left: 1/1, then 1/2 vs 3/3, ...
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "quota_exhausted"


def test_a_deployment_past_its_tpm_is_passed_over_until_the_minute_ends(
    upstreams: tuple[MockUpstream, MockUpstream],
) -> None:
    a, b = upstreams
    _fresh_minute()
    with Serving(two_deployments(a, b, strategy="least-busy", extra_a=", tpm: 5")) as gw:
        first = gw.chat("a prompt long enough to spend more than five tokens in one go")
        assert first.headers["x-wayfare-deployment"] == "m#1" and first.json()["usage"]["total_tokens"] > 5
        time.sleep(0.2)  # tokens are counted off the request path
        assert [gw.deployment(f"later {i}") for i in range(3)] == ["m#2"] * 3


def test_rpm_usage_is_shared_by_two_replicas_on_redis(
    upstreams: tuple[MockUpstream, MockUpstream], redis_url: str
) -> None:
    a, b = upstreams
    prefix = f"wftest-{uuid.uuid4().hex[:8]}:"
    tail = f"redis_url: {redis_url}\ngovernance: {{redis_prefix: '{prefix}'}}\n"
    cfg = two_deployments(a, b, strategy="usage", extra_a=", rpm: 2", extra_b=", rpm: 2", tail=tail)
    cfg = cfg.model_copy(update={"fallbacks": {}})
    _fresh_minute()
    with Serving(cfg) as one, Serving(cfg) as two:
        picks = [one.deployment(), two.deployment(), one.deployment(), two.deployment()]
        refused = [one.chat(), two.chat()]
    assert picks == ["m#1", "m#2", "m#1", "m#2"]  # each replica sees what the other sent
    assert [r.status_code for r in refused] == [429, 429]


def test_tpm_usage_is_shared_by_two_replicas_on_redis(
    upstreams: tuple[MockUpstream, MockUpstream], redis_url: str
) -> None:
    a, b = upstreams
    prefix = f"wftest-{uuid.uuid4().hex[:8]}:"
    tail = f"redis_url: {redis_url}\ngovernance: {{redis_prefix: '{prefix}'}}\n"
    cfg = two_deployments(a, b, strategy="least-busy", extra_a=", tpm: 5", tail=tail)
    _fresh_minute()
    with Serving(cfg) as one, Serving(cfg) as two:
        assert one.deployment("a prompt long enough to spend more than five tokens in one go") == "m#1"
        time.sleep(0.2)  # tokens are counted off the request path, in Redis
        assert [two.deployment(f"other replica {i}") for i in range(2)] == ["m#2", "m#2"]


def test_one_deployment_config_is_unchanged_but_named() -> None:
    with MockUpstream() as up:
        cfg = parse_config(f"models:\n  - {{name: solo, model: mock-strong, base_url: {up.base_url}}}\n"
                           "database_url: none\n")  # fmt: skip
        with Serving(cfg) as gw:
            resp = httpx.post(
                gw.server.url + "/v1/chat/completions",
                json={"model": "solo", "messages": [{"role": "user", "content": "x"}]},
            )
    assert resp.status_code == 200 and resp.headers["x-wayfare-deployment"] == "solo"
    assert resp.json()["model"] == "solo"


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        (
            "models:\n  - {name: m, base_url: http://a, id: x}\n  - {name: m, base_url: http://b, id: x}\n",
            "deployment ids must be unique: x",
        ),
        (
            "models:\n  - {name: m, base_url: http://a}\nload_balancing: {models: {nope: latency}}\n",
            "load_balancing.models: nope is not a configured model",
        ),
        (
            "models:\n  - {name: m, base_url: http://a}\nload_balancing: {strategy: fastest}\n",
            "load_balancing.strategy",
        ),
        ("models:\n  - {name: m, base_url: http://a, weight: 0}\n", "models.0.weight"),
    ],
)
def test_bad_deployment_config_is_a_clear_error(yaml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(yaml, "wayfare.yaml")


def test_ids_default_to_name_and_position() -> None:
    cfg = parse_config(
        "models:\n  - {name: m, base_url: http://a}\n  - {name: m, base_url: http://b, id: eu}\n"
        "  - {name: m, base_url: http://c}\n  - {name: solo, base_url: http://d}\n"
    )
    assert cfg.deployment_ids("m") == ["m#1", "eu", "m#3"] and cfg.deployment_ids("solo") == ["solo"]
    assert cfg.model("m").base_url == "http://a"
