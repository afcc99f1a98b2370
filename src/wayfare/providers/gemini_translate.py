"""OpenAI chat completions <-> Google's ``generateContent`` (Gemini API and Vertex AI share the body and response).

Requests: system / developer messages become ``systemInstruction``; ``assistant`` is role ``model``; assistant
``tool_calls`` become ``functionCall`` parts and ``tool`` messages ``functionResponse`` parts (named by looking the
``tool_call_id`` up in the earlier calls); ``tools`` become ``functionDeclarations`` (JSON Schema as
``parametersJsonSchema``), ``tool_choice`` ``toolConfig.functionCallingConfig``; sampling settings go to
``generationConfig`` and ``response_format`` to ``responseMimeType`` (+ ``responseJsonSchema``).

Tool call ids: Google's ``functionCall`` may carry an ``id`` (used as is) and, on thinking models, a
``thoughtSignature`` that must come back with the call in the next request. An OpenAI client only echoes the tool
call id, so the signature rides in it: ``<id>__ts__<signature in URL-safe base64>``, split again when the call
comes back.
"""

from __future__ import annotations

import mimetypes
import time
import uuid
from typing import Any

import orjson

from wayfare.providers.base import JSON
from wayfare.providers.translation import TranslationError, tool_call

SIGNATURE_SEP = "__ts__"
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}
"""Google's ``finishReason`` -> OpenAI's ``finish_reason`` (anything else is ``stop``; ``tool_calls`` when the
candidate called functions)."""
_TOOL_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}


class PromptBlocked(Exception):
    """Google refused the prompt (``promptFeedback.blockReason``): no candidate was generated."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"the prompt was blocked ({reason}){': ' + message if message else ''}")
        self.reason = reason


def _media_part(url: str, default_mime: str) -> JSON:
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        mime = header[5:].split(";")[0] or default_mime
        return {"inlineData": {"mimeType": mime, "data": data}}
    mime = mimetypes.guess_type(url.split("?")[0])[0] or default_mime
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _parts(content: Any) -> list[JSON]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[JSON] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"text": str(part.get("text", ""))})
        elif kind == "image_url":
            parts.append(_media_part(str((part.get("image_url") or {}).get("url", "")), "image/jpeg"))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            parts.append({"inlineData": {"mimeType": f"audio/{audio.get('format', 'wav')}", "data": audio.get("data")}})
        elif kind == "file":
            file = part.get("file") or {}
            parts.append(_media_part(str(file.get("file_data") or file.get("file_id") or ""), "application/pdf"))
        else:
            raise TranslationError(f"content part of type {kind!r} is not supported by Gemini")
    return parts


def _text(content: Any) -> str:
    return "\n".join(p["text"] for p in _parts(content) if "text" in p)


def split_call_id(call_id: str) -> tuple[str, str | None]:
    """``(id, thought signature or None)`` of an OpenAI tool call id made by :func:`make_call_id`."""
    head, sep, signature = call_id.partition(SIGNATURE_SEP)
    if not sep:
        return head, None
    standard = signature.replace("-", "+").replace("_", "/")
    return head, standard + "=" * (-len(standard) % 4)


def make_call_id(part: JSON) -> str:
    """The OpenAI tool call id of a ``functionCall`` part: its own ``id`` or a new one, and its thought signature in
    URL-safe base64 (ids stay within ``[A-Za-z0-9_-]``, which some clients require)."""
    call = part.get("functionCall") or {}
    base = str(call.get("id") or f"call_{uuid.uuid4().hex[:24]}")
    signature = str(part.get("thoughtSignature") or "")
    if not signature:
        return base
    return f"{base}{SIGNATURE_SEP}{signature.replace('+', '-').replace('/', '_').rstrip('=')}"


def _function_response(message: JSON, names: dict[str, str]) -> JSON:
    call_id = str(message.get("tool_call_id") or "")
    name = names.get(call_id) or message.get("name")
    if not name:
        raise TranslationError(f"tool message with tool_call_id {call_id!r} answers no earlier assistant tool call")
    text = _text(message.get("content"))
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    return {"functionResponse": {"name": name, "response": value if isinstance(value, dict) else {"result": value}}}


def _model_parts(message: JSON, names: dict[str, str]) -> list[JSON]:
    parts = _parts(message.get("content"))
    for call in message.get("tool_calls") or []:
        raw_id, name, args = tool_call(call)
        call_id = str(raw_id or "")
        names[call_id] = str(name)
        _, signature = split_call_id(call_id)
        part: JSON = {"functionCall": {"name": name, "args": args}}
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _contents(messages: list[JSON]) -> tuple[list[str], list[JSON]]:
    system: list[str] = []
    contents: list[JSON] = []
    names: dict[str, str] = {}  # tool_call_id -> function name
    for m in messages:
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(_text(m.get("content")))
            continue
        if role == "tool":
            part = _function_response(m, names)
            last = contents[-1] if contents else None
            if last is not None and last["role"] == "user" and "functionResponse" in last["parts"][-1]:
                last["parts"].append(part)  # the answers to parallel calls go back in one content
            else:
                contents.append({"role": "user", "parts": [part]})
            continue
        if role == "user":
            parts = _parts(m.get("content"))
        elif role == "assistant":
            parts = _model_parts(m, names)
        else:
            raise TranslationError(f"message role {role!r} is not supported by Gemini")
        if parts:  # Gemini refuses a content without parts (an empty assistant turn)
            contents.append({"role": "model" if role == "assistant" else "user", "parts": parts})
    return system, contents


def _tool_config(choice: Any) -> JSON | None:
    if choice is None:
        return None
    if isinstance(choice, str) and choice in _TOOL_MODES:
        return {"functionCallingConfig": {"mode": _TOOL_MODES[choice]}}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    raise TranslationError(f"unsupported tool_choice {choice!r}")


def _declarations(tools: list[Any]) -> list[JSON]:
    out = []
    for t in tools:
        if (
            not isinstance(t, dict)
            or t.get("type", "function") != "function"
            or not isinstance(t.get("function"), dict)
        ):
            raise TranslationError("only tools of type 'function' are supported by Gemini")
        fn = t["function"]
        decl: JSON = {"name": fn.get("name"), "description": fn.get("description", "")}
        if fn.get("parameters"):
            decl["parametersJsonSchema"] = fn["parameters"]
        out.append(decl)
    return out


def _generation_config(body: JSON) -> JSON:
    config: JSON = {}
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        config["maxOutputTokens"] = max_tokens
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
        ("seed", "seed"),
    ):
        if body.get(ours) is not None:
            config[theirs] = body[ours]
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    n = int(body.get("n") or 1)
    if n != 1:
        config["candidateCount"] = n
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema") if kind == "json_schema" else None  # type: ignore[union-attr]
        if schema:
            config["responseJsonSchema"] = schema
    elif kind not in (None, "text"):
        raise TranslationError(f"response_format of type {kind!r} is not supported by Gemini")
    return config


def to_generate_content(body: JSON) -> JSON:
    """The ``generateContent`` body for an OpenAI chat completion request (the model goes in the URL)."""
    system, contents = _contents(list(body.get("messages") or []))
    if not contents:
        raise TranslationError("Gemini needs at least one user or assistant message")
    out: JSON = {"contents": contents}
    if any(system):
        out["systemInstruction"] = {"parts": [{"text": "\n\n".join(s for s in system if s)}]}
    tools = body.get("tools")
    if tools:
        out["tools"] = [{"functionDeclarations": _declarations(list(tools))}]
        config = _tool_config(body.get("tool_choice"))
        if config is not None:
            out["toolConfig"] = config
    generation = _generation_config(body)
    if generation:
        out["generationConfig"] = generation
    return out


def usage_of(meta: JSON) -> JSON:
    """OpenAI usage for Google's ``usageMetadata`` (thinking tokens are billed as output: they count as completion
    tokens and are reported as ``reasoning_tokens``)."""
    p = int(meta.get("promptTokenCount") or 0)
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    c = int(meta.get("candidatesTokenCount") or 0) + thoughts
    usage: JSON = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
    if thoughts:
        usage["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    if meta.get("cachedContentTokenCount"):
        usage["prompt_tokens_details"] = {"cached_tokens": int(meta["cachedContentTokenCount"])}
    return usage


def check_prompt(resp: JSON) -> None:
    """Raise :class:`PromptBlocked` for a response that says the prompt was refused."""
    feedback = resp.get("promptFeedback") or {}
    reason = feedback.get("blockReason")
    if reason and not resp.get("candidates"):
        raise PromptBlocked(str(reason), str(feedback.get("blockReasonMessage") or ""))


def _finish(candidate: JSON, has_calls: bool) -> str | None:
    reason = candidate.get("finishReason")
    if not reason:
        return None
    if has_calls and reason == "STOP":
        return "tool_calls"
    return FINISH_REASONS.get(str(reason), "stop")


def _split(parts: list[JSON]) -> tuple[str, list[JSON]]:
    """The visible text (thought summaries left out) and the ``functionCall`` parts."""
    text = "".join(str(p.get("text", "")) for p in parts if "text" in p and not p.get("thought"))
    return text, [p for p in parts if "functionCall" in p]


def _tool_call(part: JSON) -> JSON:
    call = part["functionCall"]
    args = orjson.dumps(call.get("args") or {}).decode()
    return {"id": make_call_id(part), "type": "function", "function": {"name": call.get("name"), "arguments": args}}


def from_generate_content(resp: JSON, model: str) -> JSON:
    """The OpenAI chat completion for a ``generateContent`` response."""
    check_prompt(resp)
    choices = []
    for i, candidate in enumerate(resp.get("candidates") or []):
        text, calls = _split((candidate.get("content") or {}).get("parts") or [])
        message: JSON = {"role": "assistant", "content": text or (None if calls else "")}
        if calls:
            message["tool_calls"] = [_tool_call(p) for p in calls]
        choices.append(
            {
                "index": int(candidate.get("index", i)),
                "message": message,
                "logprobs": None,
                "finish_reason": _finish(candidate, bool(calls)) or "stop",
            }
        )
    return {
        "id": str(resp.get("responseId") or f"chatcmpl-{uuid.uuid4().hex[:24]}"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(resp.get("modelVersion") or model),
        "choices": choices,
        "usage": usage_of(resp.get("usageMetadata") or {}),
    }


class StreamTranslator:
    """Turns ``streamGenerateContent`` events (each a partial response) into OpenAI chunks; :meth:`end` gives the
    usage chunk once the stream is over (the last event carries the final ``usageMetadata``)."""

    def __init__(self, model: str, include_usage: bool = True, n: int = 1) -> None:
        self.include_usage = include_usage
        self.n = n
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.model = model
        self.created = int(time.time())
        self.usage: JSON = {}
        self.started: set[int] = set()
        self.done: set[int] = set()
        self.calls: dict[int, int] = {}  # candidate index -> tool calls sent so far

    @property
    def finished(self) -> bool:
        return len(self.done) >= self.n

    def _chunk(self, index: int, delta: JSON, finish: str | None = None) -> JSON:
        choice: JSON = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [choice]}  # fmt: skip

    def feed(self, event: JSON) -> list[JSON]:
        if not self.started:
            check_prompt(event)
        if event.get("responseId"):
            self.id = str(event["responseId"])
        if event.get("usageMetadata"):
            self.usage = event["usageMetadata"]
        out: list[JSON] = []
        for i, candidate in enumerate(event.get("candidates") or []):
            index = int(candidate.get("index", i))
            if index not in self.started:
                self.started.add(index)
                out.append(self._chunk(index, {"role": "assistant", "content": ""}))
            text, calls = _split((candidate.get("content") or {}).get("parts") or [])
            if text:
                out.append(self._chunk(index, {"content": text}))
            if calls:
                first = self.calls.get(index, 0)
                deltas = [{"index": first + k, **_tool_call(p)} for k, p in enumerate(calls)]
                self.calls[index] = first + len(calls)
                out.append(self._chunk(index, {"tool_calls": deltas}))
            finish = _finish(candidate, bool(self.calls.get(index)))
            if finish is not None and index not in self.done:
                self.done.add(index)
                out.append(self._chunk(index, {}, finish))
        return out

    def end(self) -> list[JSON]:
        """The usage chunk (when asked for) after the last event."""
        if not self.include_usage:
            return []
        return [{**self._chunk(0, {}), "choices": [], "usage": usage_of(self.usage)}]
