"""The OpenAI <-> Bedrock Converse translation at unit level: conversations, refused requests, responses, stream
events (the end-to-end tests through the gateway are in test_bedrock_provider.py)."""

from __future__ import annotations

from typing import Any

import pytest

from wayfare.providers.bedrock_translate import (
    StreamTranslator,
    TranslationError,
    from_converse_response,
    to_converse_request,
)


def test_a_whole_conversation_becomes_alternating_converse_turns() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "rule one"},
            {"role": "developer", "content": [{"type": "text", "text": "rule two"}]},
            {"role": "user", "content": [{"type": "text", "text": "look"},
                                         {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}}]},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "a", "arguments": '{"x": 1}'}},
                {"id": "t2", "type": "function", "function": {"name": "b", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "one"},
            {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "two"}]},
            {"role": "user", "content": "and now?"},
        ],
        "tools": [{"type": "function", "function": {"name": "a"}},
                  {"type": "function", "function": {"name": "b", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "b"}},
        "max_completion_tokens": 50, "max_tokens": 10, "top_p": 0.9, "stop": ["x", "y"], "seed": 3, "user": "u",
    }  # fmt: skip
    out = to_converse_request(body)
    assert out["system"] == [{"text": "rule one"}, {"text": "rule two"}]
    assert out["inferenceConfig"] == {"maxTokens": 50, "topP": 0.9, "stopSequences": ["x", "y"]}
    assert out["messages"] == [
        {"role": "user", "content": [{"text": "look"}, {"image": {"format": "jpeg", "source": {"bytes": "QUJD"}}}]},
        {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "t1", "name": "a", "input": {"x": 1}}},
            {"toolUse": {"toolUseId": "t2", "name": "b", "input": {}}}]},
        {"role": "user", "content": [
            {"toolResult": {"toolUseId": "t1", "content": [{"text": "one"}]}},
            {"toolResult": {"toolUseId": "t2", "content": [{"text": "two"}]}},
            {"text": "and now?"}]},
    ]  # fmt: skip
    assert out["toolConfig"]["toolChoice"] == {"tool": {"name": "b"}}
    assert out["toolConfig"]["tools"][0] == {"toolSpec": {"name": "a", "inputSchema": {"json": {"type": "object"}}}}
    assert set(out) == {"messages", "system", "inferenceConfig", "toolConfig"}  # seed, user...: nothing Bedrock refuses


def test_requests_converse_cannot_express_are_refused() -> None:
    user = {"role": "user", "content": "hi"}
    calls = {"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "a", "arguments": "{}"}}]}
    result = {"role": "tool", "tool_call_id": "t", "content": "r"}
    tools = [{"type": "function", "function": {"name": "a"}}]
    with pytest.raises(TranslationError, match='tool_choice "none"'):
        to_converse_request({"messages": [user, calls, result], "tools": tools, "tool_choice": "none"})
    assert "toolConfig" not in to_converse_request({"messages": [user], "tools": tools, "tool_choice": "none"})
    with pytest.raises(TranslationError, match="not JSON"):
        to_converse_request(
            {"messages": [user, {**calls, "tool_calls": [{"id": "t", "function": {"arguments": "{"}}]}]}
        )
    with pytest.raises(TranslationError, match="audio"):
        to_converse_request({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]})
    with pytest.raises(TranslationError, match="image/bmp"):
        to_converse_request(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA"}}],
                    }
                ]
            }
        )
    with pytest.raises(TranslationError, match="together with tools"):
        to_converse_request({"messages": [user], "tools": tools, "response_format": {"type": "json_object"}})


@pytest.mark.parametrize(
    ("stop", "finish"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
     ("content_filtered", "content_filter"), ("guardrail_intervened", "content_filter")],
)  # fmt: skip
def test_converse_responses_become_chat_completions(stop: str, finish: str) -> None:
    resp = {
        "output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "hmm"}}}, {"text": "let me "}, {"text": "look"},
            {"toolUse": {"toolUseId": "tu1", "name": "search", "input": {"q": "x"}}}]}},
        "stopReason": stop, "usage": {"inputTokens": 11, "outputTokens": 7, "totalTokens": 18},
        "metrics": {"latencyMs": 5},
    }  # fmt: skip
    out = from_converse_response(resp, "m")
    choice = out["choices"][0]
    assert out["object"] == "chat.completion" and out["model"] == "m" and out["id"].startswith("chatcmpl-")
    assert choice["finish_reason"] == finish and choice["message"]["content"] == "let me look"
    assert choice["message"]["tool_calls"] == [
        {"id": "tu1", "type": "function", "function": {"name": "search", "arguments": '{"q":"x"}'}}
    ]
    assert out["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


def test_stream_events_become_chunks() -> None:
    t = StreamTranslator("m", include_usage=True)
    events: list[tuple[str, dict[str, Any]]] = [
        ("messageStart", {"role": "assistant"}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "hidden"}}}),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("contentBlockStart", {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tu", "name": "f"}}}),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a":'}}}),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "1}"}}}),
        ("contentBlockStop", {"contentBlockIndex": 1}),
        ("messageStop", {"stopReason": "tool_use"}),
        ("metadata", {"usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}, "metrics": {"latencyMs": 1}}),
    ]
    chunks = [c for kind, data in events for c in t.feed(kind, data)]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""} and deltas[1] == {"content": "Hi"}
    assert deltas[2] == {
        "tool_calls": [{"index": 0, "id": "tu", "type": "function", "function": {"name": "f", "arguments": ""}}]
    }
    assert [d["tool_calls"][0]["function"]["arguments"] for d in deltas[3:5]] == ['{"a":', "1}"]
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
    }
    assert {c["id"] for c in chunks} == {t.id} and t.stopped
    quiet = StreamTranslator("m", include_usage=False)
    assert quiet.feed("metadata", events[-1][1]) == []
    assert quiet.feed("messageStop", {"stopReason": "max_tokens"})[0]["choices"][0]["finish_reason"] == "length"
