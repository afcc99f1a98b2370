"""What every translating provider (Anthropic, Bedrock, Gemini) shares: the error of a request that cannot be
expressed in the upstream's API, the guard that turns it into a 400, reading an OpenAI tool call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from wayfare.providers.base import JSON, Endpoint
from wayfare.providers.errors import ProviderError


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


def translate_chat(endpoint: Endpoint, body: JSON, provider: str, api: str, translate: Callable[[JSON], JSON]) -> JSON:
    """``translate(body)`` for a chat request; another endpoint, or a request ``api`` cannot express, is a 400
    :class:`ProviderError` (the client's fault: not retried, no fallback)."""
    if endpoint != "chat":
        raise ProviderError(
            f"{provider} ({api}) has no {endpoint} endpoint: only chat completions are translated",
            error_class="client_error",
            status=400,
        )
    try:
        return translate(body)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # TranslationError is a ValueError
        raise ProviderError(
            f"cannot translate the request for {api}: {exc}", error_class="client_error", status=400
        ) from None


def wants_usage(body: JSON) -> bool:
    """Whether a streaming request asks for the final usage chunk (``stream_options.include_usage``)."""
    opts = body.get("stream_options")
    return isinstance(opts, dict) and bool(opts.get("include_usage"))
