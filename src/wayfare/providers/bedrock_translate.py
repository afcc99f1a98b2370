"""OpenAI chat completions <-> AWS Bedrock Converse: requests, responses and ConverseStream events.

The Converse request carries the model in the URL path (``/model/{modelId}/converse``), so the body built here has
no ``modelId``. Bedrock-specific limits are refused with :class:`TranslationError` (the client gets a 400) instead of
being sent and failing upstream.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from wayfare.providers.base import JSON
from wayfare.providers.translation import TranslationError, tool_call

RESPONSE_TOOL = "wayfare_json_response"
"""Converse has no ``response_format`` that every model honours: a JSON reply is asked for as the forced input of
this one tool, and its input comes back as the message text (as for Anthropic upstreams)."""
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
}
_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                  "image/webp": "webp"}  # fmt: skip


def _image_block(part: JSON) -> JSON:
    url = str((part.get("image_url") or {}).get("url", ""))
    if not url.startswith("data:"):
        raise TranslationError("Bedrock takes images inline only: send image_url as a data: URL (base64)")
    header, _, data = url.partition(",")
    media = header[5:].split(";")[0].lower()
    fmt = _IMAGE_FORMATS.get(media)
    if fmt is None or ";base64" not in header:
        raise TranslationError(f"Bedrock takes base64 png, jpeg, gif or webp images, not {header[5:] or 'this'!r}")
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def _blocks(content: Any) -> list[JSON]:
    """Content blocks of an OpenAI message content (blank text dropped: Converse refuses blank text blocks)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content.strip() else []
    blocks: list[JSON] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            text = str(part.get("text", ""))
            if text.strip():
                blocks.append({"text": text})
        elif kind == "image_url":
            blocks.append(_image_block(part))
        else:
            raise TranslationError(f"content part of type {kind!r} is not supported by the Bedrock Converse API")
    return blocks


def _tool_result(m: JSON) -> JSON:
    blocks = _blocks(m.get("content"))
    if not blocks:
        blocks = [{"text": str(m.get("content") or "")}]  # a tool result needs content, even an empty text
    return {"toolResult": {"toolUseId": m.get("tool_call_id"), "content": blocks}}


def _tool_uses(m: JSON) -> list[JSON]:
    uses = []
    for call in m.get("tool_calls") or []:
        call_id, name, args = tool_call(call)
        uses.append({"toolUse": {"toolUseId": call_id, "name": name, "input": args}})
    return uses


def _messages(body: JSON) -> tuple[list[JSON], list[JSON]]:
    """``(system blocks, messages)``; consecutive turns of one role are merged (Converse wants them alternating)."""
    system: list[JSON] = []
    messages: list[JSON] = []
    for m in body.get("messages") or []:
        role = m.get("role")
        if role in ("system", "developer"):
            system.extend(b for b in _blocks(m.get("content")) if "text" in b)
            continue
        if role == "tool":
            role, blocks = "user", [_tool_result(m)]
        elif role in ("user", "assistant"):
            blocks = _blocks(m.get("content")) + (_tool_uses(m) if role == "assistant" else [])
        else:
            raise TranslationError(f"message role {role!r} is not supported by the Bedrock Converse API")
        if not blocks:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})
    return system, messages


def _tool_config(body: JSON, messages: list[JSON]) -> JSON | None:
    tools = body.get("tools")
    choice = body.get("tool_choice")
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
        if tools:
            raise TranslationError("response_format together with tools is not supported on a Bedrock upstream")
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt["type"] == "json_schema" else None
        json_spec = {"name": RESPONSE_TOOL, "description": "Reply with the requested JSON object as this tool's input.",
                "inputSchema": {"json": schema or {"type": "object"}}}  # fmt: skip
        return {"tools": [{"toolSpec": json_spec}], "toolChoice": {"tool": {"name": RESPONSE_TOOL}}}
    if not tools:
        return None
    if choice == "none":
        if any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"]):
            raise TranslationError(
                'tool_choice "none" is not supported on Bedrock when the conversation has tool calls (Converse has '
                "no such choice, and needs the tools to read the history): send tool_choice auto, or no tools and "
                "no tool messages"
            )
        return None  # no tools offered: the model cannot call one
    specs = []
    for t in tools:
        fn = t.get("function") if isinstance(t, dict) and t.get("type", "function") == "function" else None
        if not isinstance(fn, dict):
            raise TranslationError("only function tools are supported by the Bedrock Converse API")
        spec: JSON = {"name": fn["name"], "inputSchema": {"json": fn.get("parameters") or {"type": "object"}}}
        if fn.get("description"):
            spec["description"] = fn["description"]
        specs.append({"toolSpec": spec})
    config: JSON = {"tools": specs}
    if choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        config["toolChoice"] = {"tool": {"name": choice["function"].get("name")}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif choice is not None:
        raise TranslationError(f"unsupported tool_choice {choice!r}")
    return config


def to_converse_request(body: JSON) -> JSON:
    """The Converse (and ConverseStream) request body for an OpenAI chat completion request."""
    if int(body.get("n") or 1) != 1:
        raise TranslationError("n > 1 is not supported by the Bedrock Converse API")
    system, messages = _messages(body)
    out: JSON = {"messages": messages}
    if system:
        out["system"] = system
    inference: JSON = {}
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        inference["maxTokens"] = int(max_tokens)
    if body.get("temperature") is not None:
        inference["temperature"] = body["temperature"]
    if body.get("top_p") is not None:
        inference["topP"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        inference["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    if inference:
        out["inferenceConfig"] = inference
    tool_config = _tool_config(body, messages)
    if tool_config is not None:
        out["toolConfig"] = tool_config
    return out


def usage_of(usage: JSON) -> JSON:
    p, c = int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0))
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": int(usage.get("totalTokens", p + c))}


def new_id() -> str:
    """Converse responses carry no id (only the ``x-amzn-RequestId`` header): one is made up per completion."""
    return "chatcmpl-bedrock-" + uuid.uuid4().hex


def from_converse_response(resp: JSON, model: str, completion_id: str | None = None) -> JSON:
    """The OpenAI chat completion for a Converse response."""
    blocks = ((resp.get("output") or {}).get("message") or {}).get("content") or []
    text = "".join(b["text"] for b in blocks if isinstance(b.get("text"), str))
    uses = [b["toolUse"] for b in blocks if isinstance(b.get("toolUse"), dict)]
    stop = resp.get("stopReason") or ""
    json_reply = [u for u in uses if u.get("name") == RESPONSE_TOOL]
    if json_reply:
        text, stop = orjson.dumps(json_reply[0].get("input") or {}).decode(), "end_turn"
    calls = [
        {"id": u["toolUseId"], "type": "function",
         "function": {"name": u["name"], "arguments": orjson.dumps(u.get("input", {})).decode()}}
        for u in uses
        if u.get("name") != RESPONSE_TOOL
    ]  # fmt: skip
    message: JSON = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": completion_id or new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": STOP_REASONS.get(stop, "stop")}
        ],
        "usage": usage_of(resp.get("usage") or {}),
    }


class StreamTranslator:
    """Turns ConverseStream events (``(event type, payload)``) into OpenAI chunks; ``feed`` returns zero or more.

    Text blocks have no ``contentBlockStart`` (their deltas just arrive); tool-use blocks open with one that names
    the tool. ``messageStop`` carries the stop reason, the ``metadata`` event after it the usage."""

    def __init__(self, model: str, include_usage: bool = True) -> None:
        self.include_usage = include_usage
        self.id = new_id()
        self.model = model
        self.created = int(time.time())
        self.tool_index: dict[int, int] = {}
        self.json_blocks: set[int] = set()  # blocks of RESPONSE_TOOL: their input is the reply text
        self.stopped = False  # messageStop seen: the answer is complete (metadata with usage follows)

    def _chunk(self, delta: JSON, finish: str | None = None) -> JSON:
        choice: JSON = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [choice]}  # fmt: skip

    def feed(self, kind: str, event: JSON) -> list[JSON]:
        if kind == "messageStart":
            return [self._chunk({"role": "assistant", "content": ""})]
        index = int(event.get("contentBlockIndex", 0))
        if kind == "contentBlockStart":
            use = (event.get("start") or {}).get("toolUse")
            if not isinstance(use, dict):
                return []
            if use.get("name") == RESPONSE_TOOL:
                self.json_blocks.add(index)
                return []
            idx = self.tool_index.setdefault(index, len(self.tool_index))
            call = {"index": idx, "id": use.get("toolUseId"), "type": "function",
                    "function": {"name": use.get("name"), "arguments": ""}}  # fmt: skip
            return [self._chunk({"tool_calls": [call]})]
        if kind == "contentBlockDelta":
            delta = event.get("delta") or {}
            if isinstance(delta.get("text"), str):
                return [self._chunk({"content": delta["text"]})]
            use = delta.get("toolUse")
            if isinstance(use, dict) and index in self.json_blocks:
                return [self._chunk({"content": str(use.get("input", ""))})]
            if isinstance(use, dict):
                call = {"index": self.tool_index.get(index, 0), "function": {"arguments": str(use.get("input", ""))}}
                return [self._chunk({"tool_calls": [call]})]
            return []  # reasoning, citations...: not part of an OpenAI chat completion
        if kind == "messageStop":
            self.stopped = True
            stop = event.get("stopReason") or ""
            if stop == "tool_use" and self.json_blocks and not self.tool_index:
                stop = "end_turn"
            return [self._chunk({}, STOP_REASONS.get(stop, "stop"))]
        if kind == "metadata" and self.include_usage:
            return [{**self._chunk({}), "choices": [], "usage": usage_of(event.get("usage") or {})}]
        return []
