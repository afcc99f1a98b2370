"""hypothesis on what users feed the gateway: config files, message shapes, and what the router sees.

Config parsing either validates or raises ConfigError (one line per problem, naming where); a request never gets a
5xx from the gateway; the router never fails a request: on any router error the route's default (strong) model
answers, the response says `x-wayfare-reason: router_error` and the request log's error_class says why.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import orjson
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from wayfare.gateway.app import create_app
from wayfare.gateway.config import ConfigError, GatewayConfig, parse_config
from wayfare.gateway.core import Gateway
from wayfare.gateway.reqlog import MemorySink
from wayfare.gateway.routing import Router, load_scorer
from wayfare.mockllm.runner import MockUpstream, ThreadedServer

FAST = settings(
    max_examples=40, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)

# ------------------------------------------------------------------------------------------------ config parsing
VALID = """
models:
  - {name: strong, base_url: "http://127.0.0.1:1/v1", input_price: 10, output_price: 30}
  - {name: weak, base_url: "http://127.0.0.1:1/v1"}
routes:
  - {name: auto, router: random, strong: strong, weak: weak, threshold: 0.5}
fallbacks: {strong: [weak]}
retry: {max_retries: 2, deadline: 30}
database_url: none
"""

# floats from a fixed list: onnxruntime (the default router) sets flush-to-zero, which Hypothesis' float strategy
# refuses to run under
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from([0.0, -1.5, 0.5, 2.0, 1e308]) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


def _parses_or_config_error(text: str) -> None:
    try:
        cfg = parse_config(text, "fuzz.yaml")
    except ConfigError as exc:
        msg = str(exc)
        assert msg and all(line.startswith("fuzz.yaml") for line in msg.splitlines()), msg
    else:
        assert isinstance(cfg, GatewayConfig)


@FAST
@given(text=st.text(max_size=300))
@example(text="")
@example(text="models: [")
@example(text="- just a list")
@example(text="models: []")
@example(text="\x00\x01")
def test_config_text_parses_or_fails_with_a_located_error(text: str) -> None:
    _parses_or_config_error(text)


@FAST
@given(
    path=st.sampled_from(
        [
            "models.0",
            "models.1.name",
            "routes.0",
            "routes.0.threshold",
            "fallbacks",
            "retry",
            "retry.deadline",
            "database_url",
            "models.0.base_url",
            "routes.0.strong",
            "models",
        ]
    ),
    value=json_values,
)
@example(path="models.0", value={"a\nb": 1})
@example(path="routes.0", value={"name": "auto", "strong": "strong", "weak": "weak", "x\x85": 1})
def test_a_mutated_config_parses_or_fails_with_a_located_error(path: str, value: Any) -> None:
    data = yaml.safe_load(VALID)
    node = data
    *parents, last = path.split(".")
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    _parses_or_config_error(yaml.safe_dump(data))


# ------------------------------------------------------------------------------------------------ request path
class FlakyScorer:
    """A router that fails in the ways a router can: raises, returns NaN, out of range, the wrong shape."""

    def score(self, prompts: Sequence[str]) -> Any:
        text = prompts[0]
        kind = sum(text.encode("utf-8", "surrogatepass")) % 5
        if kind == 0:
            raise RuntimeError("flaky router exploded")
        if kind == 1:
            return [math.nan]
        if kind == 2:
            return [-0.5]
        if kind == 3:
            return [[0.1, 0.2, 0.3]]
        return [0.9]


CONFIG = """
models:
  - {name: strong, model: up-strong, base_url: URL, input_price: 10, output_price: 30}
  - {name: weak, model: up-weak, base_url: URL, input_price: 0.5, output_price: 1.5}
routes:
  - {name: auto, router: default, strong: strong, weak: weak, threshold: 0.5}
  - {name: flaky, router: flaky, strong: strong, weak: weak, threshold: 0.5}
database_url: none
"""


class Served:
    def __init__(self, url: str, sink: MemorySink) -> None:
        self.url, self.sink = url, sink
        self.client = httpx.Client(base_url=url + "/v1", timeout=60)

    def record(self, request_id: str) -> Any:
        return next(r for r in reversed(self.sink.records) if r.request_id == request_id)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with MockUpstream() as mock:
        config = parse_config(CONFIG.replace("URL", mock.base_url))
        router = Router(config, {"default": load_scorer("default"), "flaky": FlakyScorer()})
        sink = MemorySink()
        gateway = Gateway(config, sink=sink, router=router)
        with ThreadedServer(create_app(config, gateway=gateway)) as server:
            s = Served(server.url, sink)
            yield s
            s.client.close()


def _check(served: Served, resp: httpx.Response, route: str | None) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.text[:300])
    if resp.status_code >= 400:
        err = resp.json()["error"]
        assert err["message"] and err["type"] and "param" in err and "code" in err
        return
    body = resp.json()
    assert body["model"] == resp.headers["x-wayfare-model"]
    if route is None:
        return
    reason = resp.headers["x-wayfare-reason"]
    rec = served.record(resp.headers["x-wayfare-request-id"])
    assert rec.status == 200
    if reason == "router_error":
        assert body["model"] == "strong", "on a router error the route's default model answers"
        assert rec.error_class and rec.error_class.startswith("router_error: "), rec.error_class
    else:
        assert reason in ("router", "session", "pinned_tools", "pinned_images"), reason
        if reason == "router":
            assert 0.0 <= float(resp.headers["x-wayfare-score"]) <= 1.0


text_content = st.text(max_size=200) | st.sampled_from(["", " ", "\x00", "\ud800", "é" * 50, "🙂" * 30])
part = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": text_content}),
    st.fixed_dictionaries(
        {
            "type": st.just("image_url"),
            "image_url": st.fixed_dictionaries(
                {"url": st.sampled_from(["https://example.invalid/cat.png", "data:image/png;base64,iVBORw0KGgo=", ""])}
            ),
        }
    ),
    st.fixed_dictionaries({"type": st.text(max_size=8)}),
)
content = st.none() | text_content | st.lists(part, max_size=4)
message = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "developer", "user", "assistant"]), "content": content}),
    st.fixed_dictionaries({"role": st.just("tool"), "tool_call_id": st.text(max_size=10), "content": content}),
    st.fixed_dictionaries(
        {
            "role": st.just("assistant"),
            "content": st.none(),
            "tool_calls": st.just([{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]),
        }
    ),
    json_values,
)


@FAST
@given(
    model=st.sampled_from(["auto", "flaky", "strong", "router-default-0.2"]),
    messages=st.lists(message, min_size=0, max_size=5),
    stream=st.booleans(),
)
@example(model="auto", messages=[], stream=False)
@example(model="auto", messages=[{"role": "system", "content": "no user turn"}], stream=False)
@example(model="auto", messages=[{"role": "assistant", "content": None}], stream=True)
@example(model="flaky", messages=[{"role": "tool", "tool_call_id": "x", "content": "result"}], stream=False)
def test_message_shapes_never_5xx_and_the_router_never_fails_a_request(
    served: Served, model: str, messages: list[Any], stream: bool
) -> None:
    body = {"model": model, "messages": messages, "stream": stream}
    resp = served.client.post("/chat/completions", content=orjson.dumps(body))
    if stream and resp.status_code == 200:
        assert resp.text.endswith("data: [DONE]\n\n") and '"error"' not in resp.text
        return
    _check(served, resp, None if model == "strong" else model)


@FAST
@given(raw=st.binary(min_size=1, max_size=40))
def test_non_utf8_bytes_get_an_openai_400(served: Served, raw: bytes) -> None:
    body = b'{"model": "auto", "messages": [{"role": "user", "content": "' + raw + b'"}]}'
    resp = served.client.post("/chat/completions", content=body, headers={"content-type": "application/json"})
    _check(served, resp, "auto")
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        assert resp.status_code == 400


@FAST
@given(text=st.text(max_size=2000))
def test_any_prompt_text_gets_a_routed_answer(served: Served, text: str) -> None:
    for model in ("auto", "flaky"):
        body = {"model": model, "messages": [{"role": "user", "content": text}]}
        resp = served.client.post("/chat/completions", content=orjson.dumps(body))
        assert resp.status_code == 200, resp.text[:300]
        _check(served, resp, model)


@pytest.mark.parametrize("model", ["auto", "flaky"])
def test_a_one_megabyte_prompt_is_routed_not_refused(served: Served, model: str) -> None:
    text = ("lorem ipsum dolor sit amet " * 40_000)[:1_000_000]
    resp = served.client.post(
        "/chat/completions", json={"model": model, "messages": [{"role": "user", "content": text}]}
    )
    assert resp.status_code == 200, resp.text[:300]
    _check(served, resp, model)
    if model == "auto":
        assert resp.headers["x-wayfare-reason"] == "router"
        assert float(resp.headers["x-wayfare-decision-ms"]) < 1000


def test_the_flaky_router_really_failed_and_the_default_model_answered(served: Served) -> None:
    """Guard: the property tests above saw router errors (else they would prove nothing about the fallback)."""
    for i in range(10):
        served.client.post(
            "/chat/completions", json={"model": "flaky", "messages": [{"role": "user", "content": f"{i}"}]}
        )
    errors = [r for r in served.sink.records if r.error_class and r.error_class.startswith("router_error")]
    kinds = {r.error_class.split(":")[1].strip() for r in errors if r.error_class}
    assert len(kinds) >= 3, kinds  # raised, NaN, wrong shape...
    assert all(r.chosen_model == "strong" and r.status == 200 for r in errors)


class NoRowsScorer:
    def score(self, prompts: Sequence[str]) -> Any:
        return []  # fewer rows than prompts


def test_a_router_returning_no_rows_does_not_hang_the_request() -> None:
    with MockUpstream() as mock:
        config = parse_config(CONFIG.replace("URL", mock.base_url).replace("router: default", "router: norows"))
        router = Router(config, {"norows": NoRowsScorer(), "flaky": FlakyScorer()})
        gateway = Gateway(config, sink=MemorySink(), router=router)
        with ThreadedServer(create_app(config, gateway=gateway)) as server:
            body = {"model": "auto", "messages": [{"role": "user", "content": "hello"}]}
            try:
                resp = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=5)
            except httpx.ReadTimeout:
                pytest.fail("the request hung on a router that returned no rows")
            assert resp.status_code == 200 and resp.headers["x-wayfare-reason"] == "router_error"
