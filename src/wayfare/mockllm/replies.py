"""Deterministic reply bodies of the mock upstream, in OpenAI's and Anthropic's formats."""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

import orjson

JSON = dict[str, Any]


def text_of(content: object) -> str:
    """Plain text of a message's content (a string, or a list of OpenAI / Anthropic content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def count_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def prompt_tokens(body: JSON) -> int:
    total = 0
    for m in body.get("messages") or []:
        if isinstance(m, dict):
            total += count_tokens(text_of(m.get("content"))) + 3
    system = body.get("system")
    if system is not None:
        total += count_tokens(text_of(system))
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        total += count_tokens(prompt)
    return max(total, 1)


def last_user_text(body: JSON) -> str:
    for m in reversed(body.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "user":
            return text_of(m.get("content"))
    prompt = body.get("prompt")
    return prompt if isinstance(prompt, str) else ""


def reply_text(body: JSON) -> str:
    """``mock reply from <model>: <first words of the last user message>``, or JSON when a JSON format is asked."""
    model = str(body.get("model", "mock"))
    words = last_user_text(body).split()[:12]
    text = f"mock reply from {model}: {' '.join(words)}"
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        return orjson.dumps({"reply": text}).decode()
    return text


def chosen_tool(body: JSON) -> str | None:
    """The OpenAI tool the mock calls: the forced one, else the first, unless tool_choice is "none"."""
    tools = body.get("tools")
    choice = body.get("tool_choice", "auto")
    if not isinstance(tools, list) or not tools or choice == "none":
        return None
    if isinstance(choice, dict):
        fn = choice.get("function")
        if isinstance(fn, dict) and fn.get("name"):
            return str(fn["name"])
    first = tools[0] if isinstance(tools[0], dict) else {}
    fn = first.get("function", first)
    return str(fn.get("name", "tool")) if isinstance(fn, dict) else "tool"


def _tool_args(body: JSON) -> str:
    return orjson.dumps({"query": last_user_text(body)[:60]}).decode()


def _id(prefix: str, body: JSON) -> str:
    return prefix + hashlib.blake2b(orjson.dumps(body.get("messages") or body.get("prompt")), digest_size=8).hexdigest()


def chat_completion(body: JSON) -> JSON:
    n = int(body.get("n") or 1)
    tool = chosen_tool(body)
    text = reply_text(body)
    choices = []
    for i in range(n):
        if tool is not None:
            message: JSON = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_mock_{i}",
                        "type": "function",
                        "function": {"name": tool, "arguments": _tool_args(body)},
                    }
                ],
            }
            finish = "tool_calls"
        else:
            message = {"role": "assistant", "content": text}
            finish = "stop"
        choices.append({"index": i, "message": message, "logprobs": None, "finish_reason": finish})
    p, c = prompt_tokens(body), count_tokens(text) * n
    return {
        "id": _id("chatcmpl-mock", body),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "mock"),
        "system_fingerprint": f"seed-{body.get('seed')}" if body.get("seed") is not None else None,
        "choices": choices,
        "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
    }


def chat_chunks(body: JSON) -> list[JSON]:
    """The stream of ``chat.completion.chunk`` objects for ``body`` (usage chunk last when asked)."""
    base = {"id": _id("chatcmpl-mock", body), "object": "chat.completion.chunk", "created": int(time.time())}
    base["model"] = body.get("model", "mock")
    tool = chosen_tool(body)
    text = reply_text(body)
    chunks: list[JSON] = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    if tool is not None:
        call = {"index": 0, "id": "call_mock_0", "type": "function", "function": {"name": tool, "arguments": ""}}
        chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
        args = _tool_args(body)
        for part in (args[: len(args) // 2], args[len(args) // 2 :]):
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": part}}]}
            chunks.append({**base, "choices": [{"index": 0, "delta": delta}]})
        finish = "tool_calls"
    else:
        words = text.split(" ")
        for i, w in enumerate(words):
            piece = w if i == 0 else " " + w
            chunks.append({**base, "choices": [{"index": 0, "delta": {"content": piece}}]})
        finish = "stop"
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    opts = body.get("stream_options")
    if isinstance(opts, dict) and opts.get("include_usage"):
        p, c = prompt_tokens(body), count_tokens(text)
        chunks.append(
            {**base, "choices": [], "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}}
        )
    return chunks


def completion(body: JSON) -> JSON:
    text = reply_text(body)
    p, c = prompt_tokens(body), count_tokens(text)
    return {
        "id": _id("cmpl-mock", body),
        "object": "text_completion",
        "created": int(time.time()),
        "model": body.get("model", "mock"),
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
    }


def completion_chunks(body: JSON) -> list[JSON]:
    """The stream of legacy ``text_completion`` chunks for ``body`` (usage chunk last when asked)."""
    base = {"id": _id("cmpl-mock", body), "object": "text_completion", "created": int(time.time())}
    base["model"] = body.get("model", "mock")
    text = reply_text(body)
    words = text.split(" ")
    chunks: list[JSON] = [
        {**base, "choices": [{"index": 0, "text": w if i == 0 else " " + w, "logprobs": None, "finish_reason": None}]}
        for i, w in enumerate(words)
    ]
    chunks.append({**base, "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"}]})
    opts = body.get("stream_options")
    if isinstance(opts, dict) and opts.get("include_usage"):
        p, c = prompt_tokens(body), count_tokens(text)
        chunks.append(
            {**base, "choices": [], "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}}
        )
    return chunks


def embeddings(body: JSON, dim: int = 8) -> JSON:
    inputs = body.get("input")
    items = inputs if isinstance(inputs, list) else [inputs]
    data = []
    for i, item in enumerate(items):
        digest = hashlib.sha256(orjson.dumps(item)).digest()
        vec = [(b - 127.5) / 127.5 for b in digest[:dim]]
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        data.append({"object": "embedding", "index": i, "embedding": [v / norm for v in vec]})
    tokens = sum(count_tokens(x if isinstance(x, str) else str(x)) for x in items)
    return {
        "object": "list",
        "data": data,
        "model": body.get("model", "mock"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def anthropic_message(body: JSON) -> JSON:
    tools = body.get("tools")
    choice = body.get("tool_choice") or {}
    use_tool = isinstance(tools, list) and bool(tools) and choice.get("type") != "none"
    text = reply_text(body)
    content: list[JSON]
    if use_tool:
        name = choice.get("name") if choice.get("type") == "tool" else tools[0].get("name")  # type: ignore[index]
        tool_input = {"query": last_user_text(body)[:60]}
        content = [{"type": "tool_use", "id": "toolu_mock_0", "name": name, "input": tool_input}]
        stop = "tool_use"
    else:
        content = [{"type": "text", "text": text}]
        stop = "end_turn"
    return {
        "id": _id("msg_mock", body),
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "mock"),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": prompt_tokens(body), "output_tokens": count_tokens(text)},
    }


def anthropic_events(body: JSON) -> list[tuple[str, JSON]]:
    """The Messages API's streaming events for ``body`` as (event name, data) pairs."""
    msg = anthropic_message(body)
    start = {
        **msg,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": msg["usage"]["input_tokens"], "output_tokens": 1},
    }
    events: list[tuple[str, JSON]] = [("message_start", {"type": "message_start", "message": start})]
    for i, block in enumerate(msg["content"]):
        if block["type"] == "text":
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}},
                )
            )
            for j, w in enumerate(block["text"].split(" ")):
                delta = {"type": "text_delta", "text": w if j == 0 else " " + w}
                events.append(("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}))
        else:
            head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            events.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": head}))
            args = orjson.dumps(block["input"]).decode()
            for part in (args[: len(args) // 2], args[len(args) // 2 :]):
                delta = {"type": "input_json_delta", "partial_json": part}
                events.append(("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    end = {"stop_reason": msg["stop_reason"], "stop_sequence": None}
    events.append(
        (
            "message_delta",
            {"type": "message_delta", "delta": end, "usage": {"output_tokens": msg["usage"]["output_tokens"]}},
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events
