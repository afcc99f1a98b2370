"""Anthropic Messages clients in front of the gateway (``POST /v1/messages``): Messages requests become OpenAI chat
requests, and OpenAI responses and stream chunks become Messages responses and events. It is the mapping of
:mod:`wayfare.providers.anthropic_translate` (which serves Anthropic *upstreams*) read in the other direction, on the
same tables."""

from __future__ import annotations

from typing import Any

import orjson

from wayfare.providers.anthropic_translate import STOP_REASONS
from wayfare.providers.base import JSON
from wayfare.providers.translation import TranslationError

# the same tables as the OpenAI -> Anthropic direction, read backwards
_STOP_BACK = {v: k for k, v in STOP_REASONS.items() if k != "stop_sequence"} | {"content_filter": "refusal"}
_CHOICE_BACK = {"auto": "auto", "any": "required", "none": "none"}  # _tool_choice's table, inverted


def _openai_content(blocks: list[JSON]) -> str | list[JSON]:
    """Text and image blocks as OpenAI content (a plain string when it is text only)."""
    parts: list[JSON] = []
    for b in blocks:
        if b.get("type") == "text":
            parts.append({"type": "text", "text": str(b.get("text", ""))})
        elif b.get("type") == "image":
            src = b.get("source") or {}
            url = (
                src.get("url") if src.get("type") == "url" else f"data:{src.get('media_type')};base64,{src.get('data')}"
            )
            parts.append({"type": "image_url", "image_url": {"url": url}})
        else:
            raise TranslationError(f"content block of type {b.get('type')!r} is not supported here")
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(b.get("text", "")) for b in content or [] if isinstance(b, dict) and b.get("type") == "text")


def from_messages_request(body: JSON) -> JSON:
    """The OpenAI chat completion request for a Messages API request (the inverse of :func:`to_messages_request`)."""
    messages: list[JSON] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _text_of(system)})
    for i, m in enumerate(body.get("messages") or []):
        role, content = (
            m.get("role") if isinstance(m, dict) else None,
            m.get("content") if isinstance(m, dict) else None,
        )
        if role not in ("user", "assistant"):
            raise TranslationError(f"messages.{i}.role must be 'user' or 'assistant', got {role!r}")
        if isinstance(content, str):
            messages.append({"role": role, "content": content})
            continue
        if not isinstance(content, list):
            raise TranslationError(f"messages.{i}.content must be a string or a list of content blocks")
        if role == "user":
            for b in content:
                if b.get("type") == "tool_result":
                    messages.append(
                        {"role": "tool", "tool_call_id": b.get("tool_use_id"), "content": _text_of(b.get("content"))}
                    )
            rest = [b for b in content if b.get("type") != "tool_result"]
            if rest:
                messages.append({"role": "user", "content": _openai_content(rest)})
            continue
        calls = [
            {"id": b.get("id"), "type": "function",
             "function": {"name": b.get("name"), "arguments": orjson.dumps(b.get("input") or {}).decode()}}
            for b in content
            if b.get("type") == "tool_use"
        ]  # fmt: skip
        text = _openai_content([b for b in content if b.get("type") != "tool_use"])
        msg: JSON = {"role": "assistant", "content": text or None}
        if calls:
            msg["tool_calls"] = calls
        messages.append(msg)
    out: JSON = {"model": body.get("model"), "messages": messages, "max_tokens": body.get("max_tokens")}
    for key in ("temperature", "top_p", "stream"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stream"):
        out["stream_options"] = {"include_usage": True}
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    if body.get("tools"):
        out["tools"] = [
            {"type": "function", "function": {"name": t.get("name"), "description": t.get("description", ""),
                                              "parameters": t.get("input_schema") or {"type": "object"}}}
            for t in body["tools"]
        ]  # fmt: skip
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        if choice.get("type") == "tool":
            out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
        elif choice.get("type") in _CHOICE_BACK:
            out["tool_choice"] = _CHOICE_BACK[str(choice["type"])]
        else:
            raise TranslationError(f"unsupported tool_choice {choice!r}")
    return out


def to_messages_response(chat: JSON, model: str) -> JSON:
    """The Messages API response for an OpenAI chat completion (the inverse of :func:`from_messages_response`)."""
    choice = (chat.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    content: list[JSON] = [{"type": "text", "text": msg["content"]}] if msg.get("content") else []
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        try:
            args = orjson.loads(fn.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            args = {"_raw_arguments": fn.get("arguments")}
        content.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": args})
    usage = chat.get("usage") or {}
    return {
        "id": chat.get("id") or "msg_wayfare",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _STOP_BACK.get(choice.get("finish_reason") or "stop", "end_turn"),
        "stop_sequence": None,
        "usage": {
            "input_tokens": int(usage.get("prompt_tokens", 0)),
            "output_tokens": int(usage.get("completion_tokens", 0)),
        },
    }


class MessagesStreamWriter:
    """Turns OpenAI chunks into Messages API stream events (``(event, data)`` pairs): the inverse of
    :class:`StreamTranslator`. ``finish`` closes the open block and ends the message."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.started = False
        self.index = -1
        self.kind: str | None = None  # the open block: "text", "tool_use" or None
        self.tools: dict[int, int] = {}  # OpenAI tool-call index -> block index
        self.stop: str | None = None
        self.usage: JSON = {}

    def _open(self, block: JSON) -> list[tuple[str, JSON]]:
        events = self._close()
        self.index += 1
        self.kind = str(block["type"])
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": self.index, "content_block": block})
        )
        return events

    def _close(self) -> list[tuple[str, JSON]]:
        if self.kind is None:
            return []
        self.kind = None
        return [("content_block_stop", {"type": "content_block_stop", "index": self.index})]

    def feed(self, chunk: JSON) -> list[tuple[str, JSON]]:
        events: list[tuple[str, JSON]] = []
        if not self.started:
            self.started = True
            message: JSON = {"id": chunk.get("id") or "msg_wayfare", "type": "message", "role": "assistant",
                       "model": self.model, "content": [], "stop_reason": None, "stop_sequence": None,
                       "usage": {"input_tokens": 0, "output_tokens": 0}}  # fmt: skip
            events.append(("message_start", {"type": "message_start", "message": message}))
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self.kind != "text":
                    events += self._open({"type": "text", "text": ""})
                text_delta = {"type": "text_delta", "text": delta["content"]}
                events.append(
                    ("content_block_delta", {"type": "content_block_delta", "index": self.index, "delta": text_delta})
                )
            for call in delta.get("tool_calls") or []:
                i = int(call.get("index", 0))
                fn = call.get("function") or {}
                if i not in self.tools:
                    events += self._open(
                        {"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": {}}
                    )
                    self.tools[i] = self.index
                if fn.get("arguments"):
                    json_delta = {"type": "input_json_delta", "partial_json": fn["arguments"]}
                    events.append(
                        (
                            "content_block_delta",
                            {"type": "content_block_delta", "index": self.tools[i], "delta": json_delta},
                        )
                    )
            if choice.get("finish_reason"):
                self.stop = _STOP_BACK.get(choice["finish_reason"], "end_turn")
        return events

    def finish(self) -> list[tuple[str, JSON]]:
        usage = {
            "input_tokens": int(self.usage.get("prompt_tokens", 0)),
            "output_tokens": int(self.usage.get("completion_tokens", 0)),
        }
        delta = {"stop_reason": self.stop or "end_turn", "stop_sequence": None}
        return [*self._close(), ("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}),
                ("message_stop", {"type": "message_stop"})]  # fmt: skip
