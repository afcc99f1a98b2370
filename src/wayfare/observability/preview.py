"""Prompt previews for the dashboard and the request log: cut to a length, optionally redacted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SECRET = re.compile(r"\b(?:sk|pk|rk|wf|key|tok)[-_][A-Za-z0-9_-]{8,}\b|\b[A-Za-z0-9_-]{32,}\b")
_DIGITS = re.compile(r"\d[\d ()+.-]{5,}\d")


def redact(text: str) -> str:
    """Mask e-mail addresses, key-like tokens and runs of 7+ digits (phone, card and account numbers)."""
    text = _EMAIL.sub("[email]", text)
    text = _SECRET.sub("[secret]", text)
    return _DIGITS.sub("[number]", text)


def request_prompt(endpoint: str, body: Mapping[str, Any]) -> str:
    """The text a person would call the prompt: the last user message of a chat, else ``prompt``."""
    if endpoint == "chat":
        from wayfare.routers.messages import prompt_text

        messages = body.get("messages")
        return prompt_text(messages if isinstance(messages, list) else [], "last_user")
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], str):
        return prompt[0]
    return ""


def make_preview(text: str, mode: str, chars: int) -> str | None:
    """``None`` when previews are off; else the first ``chars`` characters (whitespace collapsed), redacted in
    ``redacted`` mode (redaction runs on a cut 48 characters longer, so a masked token is never half-shown)."""
    if mode == "off" or chars == 0:
        return None
    text = " ".join(text[: chars + 48].split())
    if mode == "redacted":
        text = redact(text)
    return text if len(text) <= chars else text[: chars - 1] + "…"
