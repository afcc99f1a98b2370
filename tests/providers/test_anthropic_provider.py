"""OpenAI clients through the gateway to an Anthropic Messages upstream (the mock's /v1/messages)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from wayfare.gateway.testing import GatewayStack
from wayfare.providers.anthropic_translate import StreamTranslator, to_messages_request
from wayfare.providers.translation import TranslationError

CONFIG = """
models:
  - {{name: claude, provider: anthropic, model: claude-up, base_url: {url}, api_key: sk-ant-test,
      input_price: 3, output_price: 15}}
  - {{name: claude-flaky, provider: anthropic, model: claude-flaky-up, base_url: {url}}}
fallbacks:
  claude-flaky: [claude]
retry: {{max_retries: 0, backoff_base: 0.01}}
database_url: none
"""


@pytest.fixture(scope="module")
def stack() -> Iterator[GatewayStack]:
    with GatewayStack(CONFIG, retry_after_ms=10) as s:
        yield s


def _sdk(stack: GatewayStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key="client-key", max_retries=0, timeout=20)


MESSAGES = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hello claude"},
]


def test_plain_chat_is_translated_both_ways(stack: GatewayStack) -> None:
    raw = _sdk(stack).chat.completions.with_raw_response.create(
        model="claude", messages=MESSAGES, max_tokens=99, stop="END"
    )  # type: ignore[arg-type]
    resp = raw.parse()
    assert resp.model == "claude" and resp.choices[0].message.content == "mock reply from claude-up: hello claude"
    assert resp.choices[0].finish_reason == "stop" and resp.usage is not None and resp.usage.completion_tokens > 0
    assert float(raw.headers["x-wayfare-cost-usd"]) > 0
    req = stack.mock.mock.requests[-1]
    assert req["path"] == "/v1/messages" and req["headers"]["x-api-key"] == "sk-ant-test"
    assert req["headers"]["anthropic-version"] and "authorization" not in req["headers"]
    sent = req["body"]
    assert sent["system"] == "be brief" and sent["max_tokens"] == 99 and sent["stop_sequences"] == ["END"]
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello claude"}]}]


def test_tools_round_trip(stack: GatewayStack) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "search",
                "description": "web",
                "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
            },
        }
    ]
    resp = _sdk(stack).chat.completions.create(model="claude", messages=MESSAGES, tools=tools, tool_choice="required")  # type: ignore[arg-type]
    call = resp.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "search" and call.function.arguments == '{"query":"hello claude"}'  # type: ignore[union-attr]
    assert resp.choices[0].finish_reason == "tool_calls"
    sent = stack.upstream_bodies()[-1]
    assert sent["tools"][0]["input_schema"]["properties"] == {"query": {"type": "string"}}
    assert sent["tool_choice"] == {"type": "any"}
    # the tool result goes back as a tool_result block
    follow = [
        *MESSAGES,
        resp.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "42 results"},
    ]
    again = _sdk(stack).chat.completions.create(model="claude", messages=follow)  # type: ignore[arg-type]
    assert again.choices[0].message.content is not None
    last = stack.upstream_bodies()[-1]["messages"]
    assert last[1]["content"][0]["type"] == "tool_use" and last[2]["content"][0]["type"] == "tool_result"


def test_streaming_text_and_tool_calls(stack: GatewayStack) -> None:
    chunks = list(
        _sdk(stack).chat.completions.create(
            model="claude", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[0].model == "claude"
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == "mock reply from claude-up: hello claude"
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens > 0
    tools = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]
    chunks = list(_sdk(stack).chat.completions.create(model="claude", messages=MESSAGES, tools=tools, stream=True))  # type: ignore[arg-type]
    args = "".join(
        tc.function.arguments or ""
        for c in chunks
        if c.choices
        for tc in (c.choices[0].delta.tool_calls or [])
        if tc.function
    )
    assert args == '{"query":"hello claude"}'
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


@pytest.mark.parametrize("kind", ["529", "429", "reset", "error_body"])
def test_anthropic_faults_fall_back(stack: GatewayStack, kind: str) -> None:
    stack.mock.fault("claude-flaky-up", kind, times=-1)
    try:
        assert _sdk(stack).chat.completions.create(model="claude-flaky", messages=MESSAGES).model == "claude"
        streamed = list(_sdk(stack).chat.completions.create(model="claude-flaky", messages=MESSAGES, stream=True))
        assert streamed[0].model == "claude"
    finally:
        stack.mock.faults.clear()


def test_untranslatable_requests_are_client_errors(stack: GatewayStack) -> None:
    with pytest.raises(openai.BadRequestError):
        _sdk(stack).chat.completions.create(model="claude", messages=MESSAGES, n=2)
    with pytest.raises(openai.BadRequestError, match="no embeddings endpoint"):
        _sdk(stack).embeddings.create(model="claude", input="x")
    with pytest.raises(TranslationError):
        to_messages_request({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "m")


def test_image_parts_become_image_blocks() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
                    {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png"}},
                ],
            }
        ]
    }
    blocks = to_messages_request(body, "m")["messages"][0]["content"]
    assert blocks[0]["source"] == {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"}
    assert blocks[1]["source"] == {"type": "url", "url": "https://example.invalid/cat.png"}


def test_stream_translator_without_usage() -> None:
    t = StreamTranslator(include_usage=False)
    out = t.feed({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 3}})
    assert len(out) == 1 and out[0]["choices"][0]["finish_reason"] == "length"


def test_json_response_format_is_emulated_with_a_forced_tool(stack: GatewayStack) -> None:
    schema = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    resp = _sdk(stack).chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "json please"}], response_format=fmt
    )
    assert json.loads(str(resp.choices[0].message.content)) == {"query": "json please"}
    assert resp.choices[0].finish_reason == "stop" and not resp.choices[0].message.tool_calls
    sent = stack.mock.mock.requests[-1]["body"]
    assert sent["tool_choice"] == {"type": "tool", "name": "wayfare_json_response"}
    assert sent["tools"][0]["input_schema"] == schema
    chunks = list(
        _sdk(stack).chat.completions.create(
            model="claude", messages=[{"role": "user", "content": "json please"}], response_format=fmt, stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(text) == {"query": "json please"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    with pytest.raises(openai.BadRequestError, match="response_format together with tools"):
        _sdk(stack).chat.completions.create(
            model="claude", messages=[{"role": "user", "content": "x"}], response_format=fmt,
            tools=[{"type": "function", "function": {"name": "t", "parameters": {"type": "object"}}}],
        )  # fmt: skip
