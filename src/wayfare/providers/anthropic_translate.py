"""OpenAI chat completions <-> Anthropic Messages: requests, responses and streaming events."""

from __future__ import annotations

import time
from typing import Any

import orjson

from wayfare.providers.base import JSON
from wayfare.providers.translation import TranslationError, tool_call

DEFAULT_MAX_TOKENS = 4096
RESPONSE_TOOL = "wayfare_json_response"
"""The Messages API has no ``response_format``: a JSON reply is asked for as the forced input of this one tool, and
its input comes back as the message text (the emulation LiteLLM and Anthropic's docs describe)."""
STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def _image_block(part: JSON) -> JSON:
    url = str((part.get("image_url") or {}).get("url", ""))
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media = header[5:].split(";")[0] or "image/png"
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: Any) -> list[JSON]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[JSON] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            blocks.append(_image_block(part))
        else:
            raise TranslationError(f"content part of type {kind!r} is not supported by the Anthropic Messages API")
    return blocks


def _tool_choice(choice: Any) -> JSON | None:
    if choice is None or choice == "auto":
        return {"type": "auto"} if choice else None
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "tool", "name": choice["function"].get("name")}
    raise TranslationError(f"unsupported tool_choice {choice!r}")


def to_messages_request(body: JSON, model: str) -> JSON:
    """The Messages API request for an OpenAI chat completion request."""
    system: list[str] = []
    messages: list[JSON] = []
    for m in body.get("messages") or []:
        role = m.get("role")
        if role in ("system", "developer"):
            system.extend(b["text"] for b in _blocks(m.get("content")) if b["type"] == "text")
            continue
        if role == "tool":
            result = {"type": "tool_result", "tool_use_id": m.get("tool_call_id"), "content": _blocks(m.get("content"))}
            if messages and messages[-1]["role"] == "user" and messages[-1]["content"][-1].get("type") == "tool_result":
                messages[-1]["content"].append(result)
            else:
                messages.append({"role": "user", "content": [result]})
            continue
        if role not in ("user", "assistant"):
            raise TranslationError(f"message role {role!r} is not supported by the Anthropic Messages API")
        blocks = _blocks(m.get("content"))
        for call in m.get("tool_calls") or []:
            call_id, name, args = tool_call(call)
            blocks.append({"type": "tool_use", "id": call_id, "name": name, "input": args})
        messages.append({"role": role, "content": blocks})
    out: JSON = {"model": model, "messages": messages}
    out["max_tokens"] = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    if system:
        out["system"] = "\n\n".join(system)
    for key in ("temperature", "top_p", "stream", "metadata"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    tools = body.get("tools")
    if tools:
        out["tools"] = [
            {
                "name": t["function"]["name"],
                "description": t["function"].get("description", ""),
                "input_schema": t["function"].get("parameters") or {"type": "object", "properties": {}},
            }
            for t in tools
        ]
        choice = _tool_choice(body.get("tool_choice"))
        if choice is not None:
            out["tool_choice"] = choice
    if int(body.get("n") or 1) != 1:
        raise TranslationError("n > 1 is not supported by the Anthropic Messages API")
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
        if tools:
            raise TranslationError("response_format together with tools is not supported on an Anthropic upstream")
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt["type"] == "json_schema" else None
        out["tools"] = [{"name": RESPONSE_TOOL, "description": "Reply with the requested JSON object as this tool's "
                         "input.", "input_schema": schema or {"type": "object"}}]  # fmt: skip
        out["tool_choice"] = {"type": "tool", "name": RESPONSE_TOOL}
    return out


def _usage(usage: JSON) -> JSON:
    p, c = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def from_messages_response(msg: JSON) -> JSON:
    """The OpenAI chat completion for a Messages API response."""
    text = "".join(b.get("text", "") for b in msg.get("content", []) if b.get("type") == "text")
    json_reply = [b for b in msg.get("content", []) if b.get("type") == "tool_use" and b.get("name") == RESPONSE_TOOL]
    if json_reply:
        text, msg = orjson.dumps(json_reply[0].get("input") or {}).decode(), {**msg, "stop_reason": "end_turn"}
    calls = [
        {
            "id": b["id"],
            "type": "function",
            "function": {"name": b["name"], "arguments": orjson.dumps(b["input"]).decode()},
        }
        for b in msg.get("content", [])
        if b.get("type") == "tool_use" and b.get("name") != RESPONSE_TOOL
    ]
    message: JSON = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": msg.get("id", ""),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": msg.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": STOP_REASONS.get(msg.get("stop_reason") or "", "stop"),
            }
        ],
        "usage": _usage(msg.get("usage") or {}),
    }


class StreamTranslator:
    """Turns Messages API stream events into OpenAI chunks (``feed`` returns zero or more chunks per event)."""

    def __init__(self, include_usage: bool = True) -> None:
        self.include_usage = include_usage
        self.id = ""
        self.model = ""
        self.created = int(time.time())
        self.input_tokens = 0
        self.tool_index: dict[int, int] = {}
        self.json_blocks: set[int] = set()  # blocks of RESPONSE_TOOL: their input is the reply text
        self.finished = False

    def _chunk(self, delta: JSON, finish: str | None = None) -> JSON:
        choice: JSON = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
        }

    def feed(self, event: JSON) -> list[JSON]:
        kind = event.get("type")
        if kind == "message_start":
            msg = event.get("message") or {}
            self.id, self.model = msg.get("id", ""), msg.get("model", "")
            self.input_tokens = int((msg.get("usage") or {}).get("input_tokens", 0))
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use" and block.get("name") == RESPONSE_TOOL:
                self.json_blocks.add(int(event.get("index", 0)))
                return []
            if block.get("type") == "tool_use":
                idx = self.tool_index.setdefault(int(event.get("index", 0)), len(self.tool_index))
                call = {
                    "index": idx,
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""},
                }
                return [self._chunk({"tool_calls": [call]})]
            return []
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [self._chunk({"content": delta.get("text", "")})]
            if delta.get("type") == "input_json_delta" and int(event.get("index", 0)) in self.json_blocks:
                return [self._chunk({"content": delta.get("partial_json", "")})]
            if delta.get("type") == "input_json_delta":
                idx = self.tool_index.get(int(event.get("index", 0)), 0)
                call = {"index": idx, "function": {"arguments": delta.get("partial_json", "")}}
                return [self._chunk({"tool_calls": [call]})]
            return []
        if kind == "message_delta":
            stop = (event.get("delta") or {}).get("stop_reason")
            if stop == "tool_use" and self.json_blocks and not self.tool_index:
                stop = "end_turn"
            out = [self._chunk({}, STOP_REASONS.get(stop or "", "stop"))]
            if self.include_usage:
                usage = _usage({"input_tokens": self.input_tokens, **(event.get("usage") or {})})
                out.append({**self._chunk({}), "choices": [], "usage": usage})
            return out
        if kind == "message_stop":
            self.finished = True
        return []
