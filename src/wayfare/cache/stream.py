"""Cached answers and streams: a streamed answer collected into the chat completion the cache stores, and a cached
chat completion replayed as the chunks a streaming client expects."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


class ChunkCollector:
    """Collects the ``chat.completion.chunk`` objects of one stream into the ``chat.completion`` they add up to.

    Only plain text answers are kept: a stream with tool calls (their arguments arrive in pieces) or one that did not
    finish every choice gives no completion."""

    def __init__(self) -> None:
        self._head: JSON = {}
        self._text: dict[int, list[str]] = {}
        self._finish: dict[int, str | None] = {}
        self._usage: JSON | None = None
        self._tools = False

    def add(self, chunk: JSON) -> None:
        if not self._head:
            self._head = {k: chunk[k] for k in ("id", "created", "system_fingerprint") if chunk.get(k) is not None}
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            index = int(choice.get("index") or 0)
            delta = choice.get("delta") or {}
            if delta.get("tool_calls") or delta.get("function_call"):
                self._tools = True
            text = delta.get("content")
            self._text.setdefault(index, [])
            if isinstance(text, str):
                self._text[index].append(text)
            self._finish.setdefault(index, None)
            if choice.get("finish_reason"):
                self._finish[index] = str(choice["finish_reason"])

    def completion(self, model: str) -> JSON | None:
        """The chat completion of a finished text stream, else None."""
        if self._tools or not self._text or any(f is None for f in self._finish.values()):
            return None
        choices = [
            {"index": i, "message": {"role": "assistant", "content": "".join(self._text[i])},
             "finish_reason": self._finish[i]}
            for i in sorted(self._text)
        ]  # fmt: skip
        out: JSON = {"object": "chat.completion", **self._head, "model": model, "choices": choices}
        if self._usage is not None:
            out["usage"] = self._usage
        return out


def completion_chunks(completion: JSON, include_usage: bool) -> list[JSON]:
    """A chat completion as the chunks of a stream: per choice its message (text and any tool calls whole) and its
    finish reason, then the usage chunk when the client asked for one."""
    head = {
        "id": completion.get("id"),
        "object": "chat.completion.chunk",
        "created": completion.get("created"),
        "model": completion.get("model"),
    }
    chunks: list[JSON] = []
    for choice in completion.get("choices") or ():
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        delta: JSON = {"role": "assistant", "content": message.get("content") or ""}
        if message.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        chunks.append({**head, "choices": [{"index": index, "delta": delta, "finish_reason": None}]})
        finish = choice.get("finish_reason") or "stop"
        chunks.append({**head, "choices": [{"index": index, "delta": {}, "finish_reason": finish}]})
    if include_usage and completion.get("usage"):
        chunks.append({**head, "choices": [], "usage": completion["usage"]})
    return chunks
