"""What every translating provider shares: the error of a request that cannot be expressed in the upstream's API,
and reading an OpenAI tool call."""

from __future__ import annotations

from typing import Any

import orjson

from wayfare.providers.base import JSON


class TranslationError(ValueError):
    """The OpenAI request cannot be expressed in the upstream's API (the client gets a 400)."""


def tool_call(call: JSON) -> tuple[Any, Any, Any]:
    """``(id, function name, parsed arguments)`` of one OpenAI ``tool_calls`` entry; arguments that are not JSON are
    a :class:`TranslationError`."""
    fn = call.get("function") or {}
    try:
        args = orjson.loads(fn.get("arguments") or "{}")
    except orjson.JSONDecodeError:
        raise TranslationError(f"tool call {call.get('id')!r} has arguments that are not JSON") from None
    return call.get("id"), fn.get("name"), args
