"""The semantic response cache through a real gateway on 127.0.0.1 (mock upstream, openai SDK, httpx): a reworded
question gets the cached answer with its headers, log record and metric; different questions, callers, models,
system prompts, parameters, earlier turns, numbers and temperatures do not; streamed answers are stored and hits
replayed as streams; entries expire; a routed prompt is embedded once; two replicas share entries through the real
Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from wayfare.cache.index import VectorIndex
from wayfare.cache.vectors import open_shared
from wayfare.gateway.app import create_app
from wayfare.gateway.config import ConfigError, parse_config
from wayfare.gateway.testing import GatewayStack
from wayfare.mockllm.runner import MockUpstream, ThreadedServer
from wayfare.store.record import RequestRecord

MASTER = "mk-semantic-" + "5" * 20
QUESTION = "How do I reverse a list in Python?"
REWORDED = "How can I reverse a Python list?"

CONFIG = """
models:
  - {{name: strong, model: up-strong, base_url: {url}, input_price: 10, output_price: 30}}
  - {{name: weak, model: up-weak, base_url: {url}, input_price: 0.5, output_price: 1.5}}
routes:
  - {{name: auto, router: default, strong: strong, weak: weak, threshold: 0.0}}
retry: {{max_retries: 0, cooldown_failures: 1000}}
fallbacks: {{weak: [strong]}}
database_url: none
governance:
  cache:
    semantic: {{routes: [weak, strong, auto], embedder: static-tl-256, threshold: 0.9, ttl_s: 60}}
"""


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def stack() -> Iterator[GatewayStack]:
    with GatewayStack(CONFIG) as s:
        yield s


def _sdk(stack: GatewayStack, key: str = "sk-anything") -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key=key, max_retries=0, timeout=20)


def _ask(client: openai.OpenAI, text: str, model: str = "weak", **kw: Any) -> Any:
    kw.setdefault("temperature", 0)
    messages = kw.pop("messages", None) or _user(text)
    return client.chat.completions.with_raw_response.create(model=model, messages=messages, **kw)


def _record(stack: GatewayStack, request_id: str) -> RequestRecord:
    found = [r for r in stack.sink.records if r.request_id == request_id]
    assert len(found) == 1
    rec: RequestRecord = found[0]
    return rec


def _metric(stack: GatewayStack, result: str, route: str = "") -> float:
    text = httpx.get(stack.url + "/metrics").text
    line = f'wayfare_semantic_cache_lookups_total{{result="{result}",route="{route}"}}'
    for row in text.splitlines():
        if row.startswith(line):
            return float(row.split()[-1])
    return 0.0


def test_reworded_question_gets_the_cached_answer(stack: GatewayStack) -> None:
    client = _sdk(stack)
    hits_before, misses_before = _metric(stack, "hit"), _metric(stack, "miss")
    first = _ask(client, QUESTION)
    assert first.headers["x-wayfare-cache"] == "miss" and "x-wayfare-cache-similarity" not in first.headers
    assert _record(stack, first.headers["x-wayfare-request-id"]).metadata["cache"] == "semantic-miss"
    upstream_calls = len(stack.upstream_bodies())

    second = _ask(client, REWORDED)
    assert second.headers["x-wayfare-cache"] == "semantic-hit"
    similarity = float(second.headers["x-wayfare-cache-similarity"])
    assert 0.9 <= similarity < 1.0
    answer = second.parse()
    assert answer.choices[0].message.content == first.parse().choices[0].message.content
    assert "reverse a list in Python" in (answer.choices[0].message.content or "")
    assert second.headers["x-wayfare-cost-usd"] == "0" and answer.model == "weak"
    assert len(stack.upstream_bodies()) == upstream_calls  # the upstream was not called

    rec = _record(stack, second.headers["x-wayfare-request-id"])
    assert rec.cache_hit and rec.status == 200 and rec.cost_usd == 0
    assert rec.metadata["cache"] == "semantic" and rec.metadata["cache_similarity"] == pytest.approx(similarity, 1e-3)
    assert _metric(stack, "hit") == hits_before + 1 and _metric(stack, "miss") == misses_before + 1

    other = _ask(client, "What is the boiling point of water at sea level?")
    assert other.headers["x-wayfare-cache"] == "miss"
    assert "boiling point" in (other.parse().choices[0].message.content or "")
    assert _record(stack, other.headers["x-wayfare-request-id"]).metadata["cache_similarity"] < 0.9


def test_what_must_match_exactly(stack: GatewayStack) -> None:
    client = _sdk(stack, "sk-isolation")
    base = "Give me a short definition of photosynthesis."
    reworded = "Give me a brief definition of photosynthesis."
    assert _ask(client, base).headers["x-wayfare-cache"] == "miss"
    assert _ask(client, reworded).headers["x-wayfare-cache"] == "semantic-hit"
    system = [{"role": "system", "content": "Answer in French."}]
    differs: list[tuple[str, dict[str, Any]]] = [
        ("another model", {"model": "strong"}),
        ("a system prompt", {"messages": system + _user(reworded)}),
        ("max_tokens", {"max_tokens": 7}),
        ("response_format", {"response_format": {"type": "json_object"}}),
        ("tools", {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}),
        ("earlier turns", {"messages": [*_user("hello"), {"role": "assistant", "content": "hi"}, *_user(reworded)]}),
    ]
    for what, change in differs:
        resp = _ask(client, reworded, **change)
        assert resp.headers["x-wayfare-cache"] == "miss", what
    warm = _ask(client, reworded, temperature=0.7)
    assert "x-wayfare-cache" not in warm.headers  # temperature > 0: not consulted
    default_temperature = client.chat.completions.with_raw_response.create(model="weak", messages=_user(reworded))
    assert "x-wayfare-cache" not in default_temperature.headers
    # the same earlier turns and a reworded last message hit what the "earlier turns" request stored
    turns = [*_user("hello"), {"role": "assistant", "content": "hi"}, *_user(base)]
    assert _ask(client, base, messages=turns).headers["x-wayfare-cache"] == "semantic-hit"


def _stream(client: openai.OpenAI, text: str, **kw: Any) -> tuple[str, list[Any], Any]:
    """(the x-wayfare-cache header, the chunks, the raw response) of a streamed question at temperature 0."""
    with client.chat.completions.with_streaming_response.create(
        model="weak", messages=_user(text), temperature=0, stream=True, stream_options={"include_usage": True}, **kw
    ) as resp:
        return resp.headers["x-wayfare-cache"], list(resp.parse()), resp


def _text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_streams_are_stored_and_served_as_streams(stack: GatewayStack) -> None:
    client = _sdk(stack, "sk-streams")
    question = "Explain what a hash table is in one sentence."
    reworded = "Explain in one sentence what a hash table is."
    header, chunks, _ = _stream(client, question)
    assert header == "miss" and _text(chunks)
    calls = len(stack.upstream_bodies())
    plain = _ask(client, reworded)  # the streamed answer, collected, answers a plain request...
    assert plain.headers["x-wayfare-cache"] == "semantic-hit"
    assert plain.parse().choices[0].message.content == _text(chunks)
    header, replay, raw = _stream(client, reworded)  # ... and a streamed one, as a stream with its usage chunk
    assert header == "semantic-hit" and _text(replay) == _text(chunks)
    assert replay[-1].usage is not None and replay[-1].usage.total_tokens == chunks[-1].usage.total_tokens
    assert raw.headers["x-wayfare-cost-usd"] == "0" and len(stack.upstream_bodies()) == calls
    rec = _record(stack, raw.headers["x-wayfare-request-id"])
    assert rec.stream and rec.cache_hit and rec.metadata["cache"] == "semantic"
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    header, chunks, _ = _stream(client, "Look up the weather in Paris.", tools=tools)
    assert header == "miss" and any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
    again = _ask(client, "Look up the weather in Paris.", tools=tools)  # tool calls streamed in pieces: not kept
    assert again.headers["x-wayfare-cache"] == "miss"


def test_numbers_and_negations_must_match(stack: GatewayStack) -> None:
    client = _sdk(stack, "sk-numbers")
    q = "Tom has 3 apples and buys 5 more. How many apples does he have now?"
    assert _ask(client, q).headers["x-wayfare-cache"] == "miss"
    assert _ask(client, q.replace("3 apples", "4 apples")).headers["x-wayfare-cache"] == "miss"
    assert _ask(client, q.replace("buys", "purchases")).headers["x-wayfare-cache"] == "semantic-hit"
    assert _ask(client, "Is it safe to eat raw eggs?").headers["x-wayfare-cache"] == "miss"
    assert _ask(client, "Is it not safe to eat raw eggs?").headers["x-wayfare-cache"] == "miss"


def test_a_fallback_answer_is_not_stored(stack: GatewayStack) -> None:
    client = _sdk(stack, "sk-fallback")
    stack.mock.fault("up-weak", "500", times=1)
    first = _ask(client, "Describe the water cycle in two sentences.")
    assert first.parse().model == "strong" and first.headers["x-wayfare-cache"] == "miss"
    again = _ask(client, "Describe the water cycle in two sentences.")  # the same text: strong's answer was not kept
    assert again.headers["x-wayfare-cache"] == "miss" and again.parse().model == "weak"
    assert _ask(client, "Describe the water cycle in two sentences!").headers["x-wayfare-cache"] == "semantic-hit"


def test_routed_prompt_is_embedded_once(stack: GatewayStack) -> None:
    """The route's router (the shipped default, static-tl-256) and the cache share the vector."""
    shared = open_shared("static-tl-256", 128)
    client = _sdk(stack, "sk-routed")
    before = shared.computed
    first = _ask(client, "Name three primary colours of paint.", model="auto")
    assert first.headers["x-wayfare-cache"] == "miss" and first.headers["x-wayfare-route"] == "auto"
    assert shared.computed == before + 1  # the router embedded it; the cache read it from memory
    second = _ask(client, "Name the three primary colours of paint.", model="auto")
    assert second.headers["x-wayfare-cache"] == "semantic-hit"
    assert shared.computed == before + 2


def test_never_crosses_virtual_keys(tmp_path: Any) -> None:
    config = CONFIG.replace("database_url: none", f"database_url: sqlite:///{tmp_path}/gw.db")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WAYFARE_MASTER_KEY", MASTER)
        with GatewayStack(config) as s:
            admin = {"authorization": f"Bearer {MASTER}"}
            one, two = (httpx.post(s.url + "/admin/keys", json={}, headers=admin).json()["key"] for _ in range(2))
            assert _ask(_sdk(s, one), QUESTION).headers["x-wayfare-cache"] == "miss"
            assert _ask(_sdk(s, two), REWORDED).headers["x-wayfare-cache"] == "miss"
            assert _ask(_sdk(s, one), REWORDED).headers["x-wayfare-cache"] == "semantic-hit"
    shared = config.replace("ttl_s: 60}", "ttl_s: 60, share_across_keys: true}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WAYFARE_MASTER_KEY", MASTER)
        with GatewayStack(shared.replace("gw.db", "gw2.db")) as s:
            admin = {"authorization": f"Bearer {MASTER}"}
            one, two = (httpx.post(s.url + "/admin/keys", json={}, headers=admin).json()["key"] for _ in range(2))
            assert _ask(_sdk(s, one), QUESTION).headers["x-wayfare-cache"] == "miss"
            assert _ask(_sdk(s, two), REWORDED).headers["x-wayfare-cache"] == "semantic-hit"


def test_entries_expire() -> None:
    with GatewayStack(CONFIG.replace("ttl_s: 60", "ttl_s: 1.5")) as s:  # wide enough for a loaded machine
        client = _sdk(s)
        assert _ask(client, QUESTION).headers["x-wayfare-cache"] == "miss"
        assert _ask(client, REWORDED).headers["x-wayfare-cache"] == "semantic-hit"
        time.sleep(1.6)
        assert _ask(client, REWORDED).headers["x-wayfare-cache"] == "miss"


@pytest.mark.services
def test_two_replicas_share_entries_through_redis(redis_url: str, redis_prefix: str) -> None:
    text = CONFIG.replace("database_url: none", f'database_url: none\nredis_url: "{redis_url}"').replace(
        "governance:\n", f'governance:\n  redis_prefix: "{redis_prefix}"\n'
    )
    with MockUpstream() as mock:
        servers = [ThreadedServer(create_app(parse_config(text.format(url=mock.base_url)))).start() for _ in range(2)]
        try:
            clients = [openai.OpenAI(base_url=s.url + "/v1", api_key="sk-r", max_retries=0) for s in servers]
            first = _ask(clients[0], QUESTION)
            assert first.headers["x-wayfare-cache"] == "miss"
            second = _ask(clients[1], REWORDED)  # the other replica: found through Redis
            assert second.headers["x-wayfare-cache"] == "semantic-hit"
            assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
            third = _ask(clients[1], "Which planet is the largest in the solar system?")
            assert third.headers["x-wayfare-cache"] == "miss"
            fourth = _ask(clients[0], "Which planet is the biggest in the solar system?")
            assert fourth.headers["x-wayfare-cache"] == "semantic-hit"
            assert len(mock.mock.requests) == 2
        finally:
            for s in servers:
                s.stop()


def test_defaults_minilm_at_its_measured_threshold() -> None:
    """Without embedder/threshold: minilm-l6-int8 at 0.985 answers surface variants, not looser rewordings."""
    config = CONFIG.replace("embedder: static-tl-256, threshold: 0.9, ", "")
    assert parse_config(config.format(url="http://x")).governance.cache.semantic.min_similarity == 0.985
    with GatewayStack(config) as s:
        client = _sdk(s)
        assert _ask(client, QUESTION).headers["x-wayfare-cache"] == "miss"
        polite = _ask(client, "Please tell me: " + QUESTION)
        assert polite.headers["x-wayfare-cache"] == "semantic-hit"
        assert float(polite.headers["x-wayfare-cache-similarity"]) >= 0.985
        assert _ask(client, REWORDED).headers["x-wayfare-cache"] == "miss"  # 0.975: below the default


def test_config_errors_name_the_field() -> None:
    bad = {
        "threshold: 0.9": ("threshold: 1.5", "threshold"),
        "routes: [weak, strong, auto]": ("routes: [weak, nope]", "'nope' is not a configured model or route"),
        "embedder: static-tl-256": ("embedder: bert-huge", "unknown embedding model 'bert-huge'"),
        "threshold: 0.9, ": ("", "no measured default for embedder 'static-tl-256'"),
    }
    for old, (new, message) in bad.items():
        with pytest.raises(ConfigError) as info:
            parse_config(CONFIG.replace(old, new).format(url="http://127.0.0.1:1"), "gw.yaml")
        assert message in str(info.value) and "gw.yaml:" in str(info.value)
    with pytest.raises(ConfigError, match="colour"):
        parse_config(CONFIG.replace("ttl_s: 60", "ttl_s: 60, colour: red").format(url="http://x"), "gw.yaml")


def test_index_is_bounded_and_fast() -> None:
    dim, n = 256, 10_000
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n + 10, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(dim, n)
    for i, v in enumerate(vectors):
        index.add("b", f"e{i}", v, time.time() + 60)
    assert len(index) == n and "e0" not in index and f"e{n + 9}" in index  # least recently used went first
    match = index.search("b", vectors[n + 5])
    assert match is not None and match.entry_id == f"e{n + 5}" and match.similarity == pytest.approx(1.0, abs=1e-5)
    assert index.search("other", vectors[n + 5]) is None
    t0 = time.perf_counter()
    for i in range(100):
        index.search("b", vectors[i + 20])
    per_search_ms = (time.perf_counter() - t0) * 10
    assert per_search_ms < 20, per_search_ms  # ~0.5 ms measured on the shared 2-core machine


def test_index_expiry_and_removal_keep_the_right_rows() -> None:
    now = [1000.0]
    index = VectorIndex(4, 100, clock=lambda: now[0])
    eye = np.eye(4, dtype=np.float32)
    for i in range(4):
        index.add("b", f"e{i}", eye[i], expires_at=1000.0 + 10 * (i + 1), payload={"i": i})
    index.discard("e0")  # e3 moves into e0's row
    match = index.search("b", eye[3])
    assert match is not None and match.entry_id == "e3" and match.payload == {"i": 3}
    now[0] = 1035.0  # e1 (1020) and e2 (1030) expired
    assert index.search("b", eye[1]) is not None and "e1" not in index and "e2" not in index
    assert index.search("b", eye[1]).entry_id == "e3"  # type: ignore[union-attr]
    now[0] = 1041.0
    assert index.search("b", eye[3]) is None and len(index) == 0
