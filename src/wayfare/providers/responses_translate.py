"""OpenAI Responses API <-> chat completions: requests, responses and stream events.

The gateway serves ``POST /v1/responses`` on any upstream by translating to chat completions and back. Supported:
``input`` as a string or as items (messages with text / image parts, ``function_call`` and ``function_call_output``),
``instructions``, function ``tools``, ``tool_choice``, ``text.format`` (json_schema / json_object / text),
``max_output_tokens``, ``temperature``, ``top_p``, ``metadata`` (stored, not sent upstream) and streaming; hosted
tools (web search, file search...) are refused with a 400 because a chat upstream cannot run them.
"""

from __future__ import annotations

import os
import time
from typing import Any

import orjson

from wayfare.providers.base import JSON


class ResponsesError(ValueError):
    """The request cannot be served (the client gets a 400 naming the field)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(12).hex()}"


def _parts(content: Any, where: str) -> str | list[JSON]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ResponsesError(f"{where}.content must be a string or a list of content parts", where)
    parts: list[JSON] = []
    for p in content:
        kind = p.get("type") if isinstance(p, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": str(p.get("text", ""))})
        elif kind == "input_image":
            parts.append({"type": "image_url", "image_url": {"url": p.get("image_url") or p.get("url")}})
        else:
            raise ResponsesError(f"{where}: content part of type {kind!r} is not supported", where)
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def input_messages(items: Any) -> list[JSON]:
    """Chat messages for a Responses ``input`` (a string, or a list of items)."""
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    if not isinstance(items, list) or not items:
        raise ResponsesError("input must be a non-empty string or list of items", "input")
    messages: list[JSON] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ResponsesError(f"input.{i} must be an object", "input")
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise ResponsesError(f"input.{i}.role {role!r} is not supported", "input")
            messages.append({"role": "system" if role == "developer" else role,
                             "content": _parts(item.get("content"), f"input.{i}")})  # fmt: skip
        elif kind == "function_call":
            call = {"id": item.get("call_id"), "type": "function",
                    "function": {"name": item.get("name"), "arguments": item.get("arguments") or "{}"}}  # fmt: skip
            if messages and messages[-1]["role"] == "assistant" and messages[-1].get("tool_calls") is not None:
                messages[-1]["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else orjson.dumps(output).decode()
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": text})
        else:
            raise ResponsesError(f"input.{i}: item type {kind!r} is not supported", "input")
    return messages


def to_chat_request(body: JSON, history: list[JSON]) -> JSON:
    """The chat completion request for a Responses request, after the ``history`` of ``previous_response_id``."""
    messages = list(history)
    if body.get("instructions"):
        messages = [m for m in messages if m.get("role") != "system"]  # instructions are not carried over
        messages.insert(0, {"role": "system", "content": str(body["instructions"])})
    messages += input_messages(body.get("input"))
    out: JSON = {"model": body.get("model"), "messages": messages}
    if body.get("max_output_tokens") is not None:
        out["max_tokens"] = body["max_output_tokens"]
    for key in ("temperature", "top_p", "stream", "parallel_tool_calls"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stream"):
        out["stream_options"] = {"include_usage": True}
    tools = body.get("tools") or []
    hosted = [t.get("type") for t in tools if isinstance(t, dict) and t.get("type") != "function"]
    if hosted:
        raise ResponsesError(
            f"hosted tools ({', '.join(map(str, hosted))}) need OpenAI's own Responses service; Wayfare serves "
            "function tools on any upstream",
            "tools",
        )
    if tools:
        out["tools"] = [
            {
                "type": "function",
                "function": {k: t[k] for k in ("name", "description", "parameters", "strict") if k in t},
            }
            for t in tools
        ]
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif choice in ("auto", "required", "none"):
        out["tool_choice"] = choice
    elif choice is not None:
        raise ResponsesError(f"unsupported tool_choice {choice!r}", "tool_choice")
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif isinstance(fmt, dict) and fmt.get("type") == "json_object":
        out["response_format"] = {"type": "json_object"}
    return out


def output_items(message: JSON) -> list[JSON]:
    """Responses ``output`` items for a chat completion's assistant message."""
    items: list[JSON] = []
    if message.get("content"):
        items.append({"type": "message", "id": new_id("msg"), "status": "completed", "role": "assistant",
                      "content": [{"type": "output_text", "text": message["content"], "annotations": []}]})  # fmt: skip
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        items.append({"type": "function_call", "id": new_id("fc"), "call_id": call.get("id"), "name": fn.get("name"),
                      "arguments": fn.get("arguments") or "", "status": "completed"})  # fmt: skip
    return items


def response_object(body: JSON, rid: str, output: list[JSON], usage: JSON, status: str = "completed") -> JSON:
    """A Responses ``response`` object (the fields the SDKs read)."""
    p, c = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return {
        "id": rid, "object": "response", "created_at": int(time.time()), "status": status, "model": body.get("model"),
        "output": output, "error": None, "incomplete_details": None, "instructions": body.get("instructions"),
        "metadata": body.get("metadata") or {}, "previous_response_id": body.get("previous_response_id"),
        "temperature": body.get("temperature"), "top_p": body.get("top_p"), "tools": body.get("tools") or [],
        "tool_choice": body.get("tool_choice") or "auto", "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "max_output_tokens": body.get("max_output_tokens"), "text": body.get("text") or {"format": {"type": "text"}},
        "store": body.get("store", True),
        "usage": {"input_tokens": p, "output_tokens": c, "total_tokens": p + c,
                  "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
    }  # fmt: skip


class ResponsesStreamWriter:
    """Chat completion chunks -> Responses stream events (``response.created`` ... ``response.completed``)."""

    def __init__(self, body: JSON, rid: str) -> None:
        self.body, self.rid = body, rid
        self.seq = 0
        self.text_item: JSON | None = None
        self.text = ""
        self.calls: dict[int, JSON] = {}
        self.order: list[JSON] = []
        self.usage: JSON = {}

    def _event(self, kind: str, **fields: Any) -> JSON:
        self.seq += 1
        return {"type": kind, "sequence_number": self.seq, **fields}

    def start(self) -> list[JSON]:
        shell = response_object(self.body, self.rid, [], {}, status="in_progress")
        return [self._event("response.created", response=shell), self._event("response.in_progress", response=shell)]

    def feed(self, chunk: JSON) -> list[JSON]:
        events: list[JSON] = []
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self.text_item is None:
                    self.text_item = {"type": "message", "id": new_id("msg"), "status": "in_progress",
                                      "role": "assistant", "content": []}  # fmt: skip
                    self.order.append(self.text_item)
                    idx = len(self.order) - 1
                    events.append(self._event("response.output_item.added", output_index=idx, item=self.text_item))
                    events.append(self._event("response.content_part.added", item_id=self.text_item["id"],
                                              output_index=idx, content_index=0,
                                              part={"type": "output_text", "text": "", "annotations": []}))  # fmt: skip
                self.text += delta["content"]
                events.append(self._event("response.output_text.delta", item_id=self.text_item["id"],
                                          output_index=self.order.index(self.text_item), content_index=0,
                                          delta=delta["content"]))  # fmt: skip
            for call in delta.get("tool_calls") or []:
                i = int(call.get("index", 0))
                fn = call.get("function") or {}
                if i not in self.calls:
                    item = {"type": "function_call", "id": new_id("fc"), "call_id": call.get("id"),
                            "name": fn.get("name"), "arguments": "", "status": "in_progress"}  # fmt: skip
                    self.calls[i] = item
                    self.order.append(item)
                    events.append(self._event("response.output_item.added", output_index=len(self.order) - 1,
                                              item=item))  # fmt: skip
                item = self.calls[i]
                if fn.get("arguments"):
                    item["arguments"] += fn["arguments"]
                    events.append(self._event("response.function_call_arguments.delta", item_id=item["id"],
                                              output_index=self.order.index(item), delta=fn["arguments"]))  # fmt: skip
        return events

    def finish(self) -> tuple[list[JSON], JSON]:
        """The closing events and the final response object."""
        events: list[JSON] = []
        for idx, item in enumerate(self.order):
            if item is self.text_item:
                part = {"type": "output_text", "text": self.text, "annotations": []}
                item["content"] = [part]
                events.append(self._event("response.output_text.done", item_id=item["id"], output_index=idx,
                                          content_index=0, text=self.text))  # fmt: skip
                events.append(self._event("response.content_part.done", item_id=item["id"], output_index=idx,
                                          content_index=0, part=part))  # fmt: skip
            else:
                events.append(self._event("response.function_call_arguments.done", item_id=item["id"],
                                          output_index=idx, arguments=item["arguments"]))  # fmt: skip
            item["status"] = "completed"
            events.append(self._event("response.output_item.done", output_index=idx, item=item))
        final = response_object(self.body, self.rid, self.order, self.usage)
        events.append(self._event("response.completed", response=final))
        return events, final

    def assistant_message(self) -> JSON:
        """The chat message this stream produced (for ``previous_response_id``)."""
        msg: JSON = {"role": "assistant", "content": self.text or None}
        calls = [{"id": c["call_id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                 for c in self.calls.values()]  # fmt: skip
        if calls:
            msg["tool_calls"] = calls
        return msg
