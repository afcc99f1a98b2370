"""What must match exactly for the semantic cache to reuse an answer: the *bucket* of a request."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import orjson

IGNORED_FIELDS = frozenset({"stream", "stream_options", "user", "metadata", "store"})
"""Request fields that do not change the response: part of neither cache's key (this one's nor the exact cache's in
:mod:`wayfare.governance.cache`)."""


def last_user_index(messages: list[Any]) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if isinstance(m, dict) and m.get("role") == "user":
            return i
    return None


def blank_last_user(messages: list[Any]) -> list[Any]:
    """``messages`` with the text of the last user message emptied (its other parts, e.g. images, kept)."""
    i = last_user_index(messages)
    if i is None:
        return messages
    m = dict(messages[i])
    content = m.get("content")
    if isinstance(content, list):
        m["content"] = [{**p, "text": ""} if isinstance(p, dict) and p.get("type") == "text" else p for p in content]
    else:
        m["content"] = ""
    return [*messages[:i], m, *messages[i + 1 :]]


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NEGATION = re.compile(r"\b(?:not|no|never|none|nothing|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE)


def guards(text: str, numbers: bool, negations: bool) -> list[Any]:
    """What of the text must match exactly: its numbers in order, how many negations it has."""
    return [
        _NUMBER.findall(text) if numbers else None,
        len(_NEGATION.findall(text)) if negations else None,
    ]


def bucket_key(body: dict[str, Any], served: str, caller: str | None, space: str, exact: Sequence[Any] = ()) -> str:
    """Hash of what must match exactly for an answer to be reused (module docstring)."""
    kept = {k: v for k, v in body.items() if k not in IGNORED_FIELDS and k != "model"}
    messages = kept.get("messages")
    if isinstance(messages, list):
        kept["messages"] = blank_last_user(messages)
    head = orjson.dumps([served, caller, space, list(exact)])
    return hashlib.sha256(head + b"\0" + orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
