"""A streamed answer collected into the completion the semantic cache stores, and a cached completion replayed as
chunks: the two are inverse for text answers; tool calls and unfinished streams are not collected."""

from __future__ import annotations

from typing import Any

from wayfare.cache.stream import ChunkCollector, completion_chunks

HEAD = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7, "model": "m"}


def _chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {**HEAD, "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


def test_two_choices_collect_into_one_completion_and_replay_unchanged() -> None:
    collector = ChunkCollector()
    for chunk in [
        _chunk(0, {"role": "assistant", "content": ""}), _chunk(1, {"role": "assistant", "content": "B"}),
        _chunk(0, {"content": "Hel"}), _chunk(0, {"content": "lo"}), _chunk(1, {"content": "ye"}),
        _chunk(0, {}, "stop"), _chunk(1, {}, "length"),
        {**HEAD, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}},
    ]:  # fmt: skip
        collector.add(chunk)
    done = collector.completion("m")
    assert done is not None and done["object"] == "chat.completion" and done["id"] == "chatcmpl-1"
    assert [(c["message"]["content"], c["finish_reason"]) for c in done["choices"]] == [
        ("Hello", "stop"),
        ("Bye", "length"),
    ]
    assert done["usage"]["total_tokens"] == 7
    again = ChunkCollector()
    for chunk in completion_chunks(done, include_usage=True):
        again.add(chunk)
    assert again.completion("m") == done
    assert all("usage" not in c for c in completion_chunks(done, include_usage=False))


def test_tool_calls_and_unfinished_streams_are_not_collected() -> None:
    tools = ChunkCollector()
    tools.add(_chunk(0, {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{"}}]}))
    tools.add(_chunk(0, {}, "tool_calls"))
    assert tools.completion("m") is None
    cut = ChunkCollector()
    cut.add(_chunk(0, {"content": "half an ans"}))
    assert cut.completion("m") is None
    assert ChunkCollector().completion("m") is None


def test_a_cached_tool_call_is_replayed_whole() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    completion = {**HEAD, "object": "chat.completion", "choices": [
        {"index": 0, "message": message, "finish_reason": "tool_calls"}
    ]}  # fmt: skip
    first, last = completion_chunks(completion, include_usage=True)
    assert first["choices"][0]["delta"]["tool_calls"] == [{"index": 0, **call}]
    assert last["choices"][0]["finish_reason"] == "tool_calls"
