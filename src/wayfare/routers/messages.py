"""What a router scores out of a chat conversation (OpenAI-style ``messages``): the last user message (RouteLLM's
convention and the default), all user messages, or the whole conversation. Shared by the gateway, the SDK, the
semantic cache, the dashboard's preview and the traffic tools, so they all score the same text."""

from __future__ import annotations

from typing import Any


def message_text(content: object) -> str:
    """The text of one message's ``content``: a string, or the text parts of a list of parts (images dropped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def prompt_text(messages: list[Any], context: str) -> str:
    """What the router scores: the last user message, all user messages, or the whole conversation."""
    if context == "last_user":
        for m in reversed(messages):
            if isinstance(m, dict) and m.get("role") == "user":
                return message_text(m.get("content"))
        return ""
    if context == "all_user":
        return "\n".join(
            message_text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user"
        )
    return "\n".join(f"{m.get('role')}: {message_text(m.get('content'))}" for m in messages if isinstance(m, dict))
