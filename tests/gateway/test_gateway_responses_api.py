"""OpenAI's Responses API in front of the gateway, with the real `openai` SDK: plain, streaming, a function tool
round trip, previous_response_id across calls, a JSON-schema text.format, for an OpenAI-compatible and an
Anthropic upstream; routing on `auto`, per-caller storage, OpenAI-shaped errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from wayfare.gateway.testing import GatewayStack

CONFIG = """
models:
  - {{name: gpt-big, model: up-big, base_url: {url}, input_price: 10, output_price: 30}}
  - {{name: gpt-small, model: up-small, base_url: {url}, input_price: 0.5, output_price: 1.5}}
  - {{name: claude, provider: anthropic, model: claude-up, base_url: {url}, api_key: sk-ant-test,
      input_price: 3, output_price: 15}}
routes:
  - {{name: auto, router: random, strong: gpt-big, weak: gpt-small, threshold: 0.5, session_affinity: false}}
database_url: none
"""
TOOLS: list[Any] = [{"type": "function", "name": "lookup", "description": "look it up",
                     "parameters": {"type": "object", "properties": {}}}]  # fmt: skip


@pytest.fixture(scope="module")
def stack() -> Iterator[GatewayStack]:
    with GatewayStack(CONFIG) as s:
        yield s


def sdk(stack: GatewayStack, key: str = "client-key") -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key=key, max_retries=0, timeout=20)


@pytest.mark.parametrize("model", ["gpt-small", "claude"])
def test_plain_and_streaming(stack: GatewayStack, model: str) -> None:
    raw = sdk(stack).responses.with_raw_response.create(model=model, input="hello responses", instructions="be brief")
    resp = raw.parse()
    assert resp.status == "completed" and "hello responses" in resp.output_text
    assert resp.usage is not None and resp.usage.output_tokens > 0 and raw.headers["x-wayfare-model"] == model
    events = list(sdk(stack).responses.create(model=model, input="stream it", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    final = events[-1].response  # type: ignore[union-attr]
    assert "stream it" in final.output_text


@pytest.mark.parametrize("model", ["gpt-small", "claude"])
def test_function_tool_round_trip_and_previous_response_id(stack: GatewayStack, model: str) -> None:
    client = sdk(stack)
    first = client.responses.create(model=model, input="use the tool", tools=TOOLS)
    call = next(o for o in first.output if o.type == "function_call")
    assert call.name == "lookup"
    second = client.responses.create(
        model=model, previous_response_id=first.id, tools=TOOLS,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "42"}],
    )  # fmt: skip
    assert second.status == "completed" and second.previous_response_id == first.id
    third = client.responses.create(model=model, previous_response_id=second.id, input="and now?")
    assert third.output_text
    sent = stack.mock.mock.requests[-1]["body"]
    texts = json.dumps(sent)
    assert "use the tool" in texts and "42" in texts and "and now?" in texts  # the whole conversation went upstream


@pytest.mark.parametrize("model", ["gpt-small", "claude"])
def test_json_schema_text_format_reaches_the_upstream(stack: GatewayStack, model: str) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    resp = sdk(stack).responses.create(
        model=model, input="json please",
        text={"format": {"type": "json_schema", "name": "reply", "schema": schema, "strict": True}},
    )  # fmt: skip
    assert resp.status == "completed" and isinstance(json.loads(resp.output_text), dict)  # JSON on both upstreams
    sent = stack.mock.mock.requests[-1]["body"]
    if model == "gpt-small":
        expected = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}
        assert sent["response_format"] == expected


def test_routing_on_auto_and_storage_per_caller(stack: GatewayStack) -> None:
    raw = sdk(stack).responses.with_raw_response.create(model="auto", input="route me")
    chat = httpx.post(stack.base_url + "/chat/completions",
                      json={"model": "auto", "messages": [{"role": "user", "content": "route me"}]})  # fmt: skip
    for h in ("x-wayfare-route", "x-wayfare-model", "x-wayfare-score"):
        assert raw.headers[h] == chat.headers[h], h
    resp = raw.parse()
    assert [r.metadata.get("api") for r in stack.sink.records if r.route == "auto"][-2:] == ["responses", None]
    assert sdk(stack).responses.retrieve(resp.id).id == resp.id
    with pytest.raises(openai.NotFoundError):  # another caller cannot read it, nor continue it
        sdk(stack, "someone-else").responses.retrieve(resp.id)
    with pytest.raises(openai.NotFoundError):
        sdk(stack, "someone-else").responses.create(model="gpt-small", input="x", previous_response_id=resp.id)
    assert sdk(stack).responses.delete(resp.id) is None
    with pytest.raises(openai.NotFoundError):
        sdk(stack).responses.retrieve(resp.id)


def test_bad_input_gets_openai_errors(stack: GatewayStack) -> None:
    with pytest.raises(openai.BadRequestError, match="hosted tools"):
        sdk(stack).responses.create(model="gpt-small", input="x", tools=[{"type": "web_search"}])  # type: ignore[list-item]
    with pytest.raises(openai.BadRequestError, match="input must be"):
        sdk(stack).responses.create(model="gpt-small", input=[])
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        sdk(stack).responses.create(model="nope", input="x")
    bad = httpx.post(stack.base_url + "/responses", content=b"{")
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"


def test_stored_responses_survive_a_restart_in_the_database(tmp_path: Any) -> None:
    from wayfare.gateway.reqlog import open_sink

    db = f"sqlite:///{tmp_path / 'w.db'}"
    config = CONFIG.replace("database_url: none", f"database_url: {db}")
    with GatewayStack(config, sink=open_sink(db)) as s:
        first = sdk(s).responses.create(model="gpt-small", input="remember the number 7")
    with GatewayStack(config, sink=open_sink(db)) as s:
        again = sdk(s).responses.retrieve(first.id)
        assert again.id == first.id and again.output_text == first.output_text
        follow = sdk(s).responses.create(model="gpt-small", input="which number?", previous_response_id=first.id)
        assert follow.previous_response_id == first.id
        assert "remember the number 7" in json.dumps(s.mock.mock.requests[-1]["body"])


def test_a_cut_stream_ends_with_response_failed_and_is_logged_once(stack: GatewayStack) -> None:
    import time

    before = len(stack.sink.records)
    stack.mock.fault("up-small", "stream_cut")
    body = {"model": "gpt-small", "input": "cut", "stream": True}
    with httpx.stream("POST", stack.base_url + "/responses", json=body, timeout=20) as resp:
        text = "".join(resp.iter_text())
    assert "event: response.created" in text and "event: response.failed" in text
    assert "response.completed" not in text
    deadline = time.monotonic() + 5
    while len(stack.sink.records) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    new = list(stack.sink.records)[before:]
    assert len(new) == 1 and new[0].status == 502 and new[0].metadata["api"] == "responses"


def test_virtual_keys_own_their_responses(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from wayfare.gateway.reqlog import open_sink

    master = "sk-master-test"
    monkeypatch.setenv("WAYFARE_MASTER_KEY", master)
    db = f"sqlite:///{tmp_path / 'w.db'}"
    config = CONFIG.replace("database_url: none", f"database_url: {db}")
    with GatewayStack(config, sink=open_sink(db)) as s:
        admin = {"authorization": f"Bearer {master}"}
        keys = [httpx.post(s.url + "/admin/keys", headers=admin, json={}).json()["key"] for _ in range(2)]
        first = sdk(s, keys[0]).responses.create(model="gpt-small", input="mine")
        assert sdk(s, keys[0]).responses.retrieve(first.id).id == first.id
        with pytest.raises(openai.NotFoundError):
            sdk(s, keys[1]).responses.retrieve(first.id)
        with pytest.raises(openai.AuthenticationError):
            sdk(s, "sk-not-a-key").responses.create(model="gpt-small", input="x")
    from wayfare.store import open_store

    store = open_store(db)
    logged = [r for r in store.query(limit=100) if r.metadata.get("api") == "responses"]
    store.close()
    assert len(logged) == 1 and logged[0].key_id not in (None, "master")  # the refused call was never served
