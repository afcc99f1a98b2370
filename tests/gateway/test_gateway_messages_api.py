"""Anthropic Messages clients in front of the gateway: the real `anthropic` SDK through `POST /v1/messages` to an
OpenAI-compatible and to an Anthropic upstream (the mock), routing on `model: auto`, errors in Anthropic's shape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
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
TOOL = {"name": "lookup", "description": "look it up", "input_schema": {"type": "object", "properties": {}}}


@pytest.fixture(scope="module")
def stack() -> Iterator[GatewayStack]:
    with GatewayStack(CONFIG) as s:
        yield s


def client(stack: GatewayStack) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stack.url, api_key="client-key", max_retries=0, timeout=20)


@pytest.mark.parametrize("model", ["gpt-small", "claude"])
def test_plain_message_to_either_kind_of_upstream(stack: GatewayStack, model: str) -> None:
    raw = client(stack).messages.with_raw_response.create(
        model=model, max_tokens=64, system="be brief", messages=[{"role": "user", "content": "hello there"}]
    )
    msg = raw.parse()
    assert msg.type == "message" and msg.role == "assistant" and msg.model == model
    assert msg.content[0].type == "text" and "hello there" in msg.content[0].text
    assert msg.stop_reason == "end_turn" and msg.usage.output_tokens > 0
    assert raw.headers["x-wayfare-model"] == model
    sent = stack.mock.mock.requests[-1]
    if model == "claude":  # translated twice: Messages -> chat -> Messages for the Anthropic upstream
        assert sent["path"] == "/v1/messages" and sent["body"]["system"] == "be brief"
    else:
        assert sent["path"] == "/v1/chat/completions"
        assert sent["body"]["messages"][0] == {"role": "system", "content": "be brief"}


@pytest.mark.parametrize("model", ["gpt-small", "claude"])
def test_streaming_events_in_anthropics_order(stack: GatewayStack, model: str) -> None:
    with client(stack).messages.stream(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "stream please"}]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_start" in kinds and "content_block_delta" in kinds and "message_delta" in kinds
    assert "stream please" in final.content[0].text and final.usage.output_tokens > 0


@pytest.mark.parametrize("model", ["gpt-small", "claude"])
def test_tool_round_trip(stack: GatewayStack, model: str) -> None:
    c = client(stack)
    first = c.messages.create(
        model=model, max_tokens=64, tools=[TOOL], messages=[{"role": "user", "content": "use the tool"}]
    )  # type: ignore[list-item]
    use = next(b for b in first.content if b.type == "tool_use")
    assert first.stop_reason == "tool_use" and use.name == "lookup"
    messages: list[Any] = [
        {"role": "user", "content": "use the tool"},
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "42"}]},
    ]
    second = c.messages.create(model="gpt-small", max_tokens=64, tools=[TOOL], messages=messages)  # type: ignore[list-item]
    assert second.content and second.type == "message"
    sent = stack.mock.mock.requests[-1]["body"]["messages"]
    assert sent[1]["tool_calls"][0]["id"] == use.id and sent[2] == {
        "role": "tool",
        "tool_call_id": use.id,
        "content": "42",
    }


def test_routing_on_auto_matches_chat_completions(stack: GatewayStack) -> None:
    prompt = "route me"
    raw = client(stack).messages.with_raw_response.create(
        model="auto", max_tokens=32, messages=[{"role": "user", "content": prompt}]
    )
    chat = httpx.post(
        stack.base_url + "/chat/completions", json={"model": "auto", "messages": [{"role": "user", "content": prompt}]}
    )
    for h in ("x-wayfare-route", "x-wayfare-model", "x-wayfare-score", "x-wayfare-threshold"):
        assert raw.headers[h] == chat.headers[h], h
    assert raw.parse().model == "auto"
    logged = [r for r in stack.sink.records if r.route == "auto"][-2:]
    assert [r.metadata.get("api") for r in logged] == ["messages", None]
    metrics = httpx.get(stack.url + "/metrics").text
    assert 'endpoint="messages"' in metrics and 'route="auto"' in metrics


def test_errors_come_back_in_anthropics_shape(stack: GatewayStack) -> None:
    with pytest.raises(anthropic.NotFoundError) as err:
        client(stack).messages.create(model="nope", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 404 and "nope" in str(err.value)
    bad = httpx.post(
        stack.url + "/v1/messages", json={"model": "gpt-small", "messages": [{"role": "user", "content": "x"}]}
    )
    assert bad.status_code == 400
    assert bad.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
    }
    assert httpx.post(stack.url + "/v1/messages", content=b"{").json()["error"]["type"] == "invalid_request_error"


def test_count_tokens(stack: GatewayStack) -> None:
    count = client(stack).messages.count_tokens(
        model="gpt-small", messages=[{"role": "user", "content": "hello " * 40}], tools=[TOOL]
    )  # type: ignore[list-item]
    assert 60 <= count.input_tokens <= 200


def test_a_cut_stream_ends_with_an_error_event_and_is_logged_once(stack: GatewayStack) -> None:
    before = len(stack.sink.records)
    stack.mock.fault("up-small", "stream_cut")
    body = {"model": "gpt-small", "max_tokens": 32, "stream": True, "messages": [{"role": "user", "content": "cut"}]}
    with httpx.stream("POST", stack.url + "/v1/messages", json=body, timeout=20) as resp:
        text = "".join(resp.iter_text())
    assert text.startswith("event: message_start") and "event: error" in text and "message_stop" not in text
    deadline = time.monotonic() + 5
    while len(stack.sink.records) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # a second record, if there were one, would have arrived by now
    new = list(stack.sink.records)[before:]
    assert len(new) == 1 and new[0].status == 502 and new[0].metadata["api"] == "messages"
