"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: Anthropic Messages clients (the ``anthropic`` SDK, coding
agents) in front of the gateway.

A Messages request is translated to a chat completion request (:mod:`wayfare.providers.anthropic_inbound`) and
served by the same path as ``/v1/chat/completions``: routing (``model: auto`` and ``router-…`` names route on the last
user message), governance, cache, fallbacks, the request log (``metadata.api: messages``) and the ``x-wayfare-*``
headers. Upstreams can be anything the gateway serves (OpenAI-compatible, Anthropic, Azure). Errors come back in
Anthropic's shape; ``x-api-key`` is accepted for the virtual key as well as ``Authorization: Bearer``.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from wayfare.gateway.chat_stream import chat_chunks, is_error
from wayfare.providers.anthropic_inbound import MessagesStreamWriter, from_messages_request, to_messages_response
from wayfare.providers.translation import TranslationError

ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    413: "request_too_large", 429: "rate_limit_error", 529: "overloaded_error",
}  # fmt: skip


def anthropic_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    etype = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    body = {"type": "error", "error": {"type": etype, "message": message}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=dict(headers or {}))


def _wayfare_headers(resp: Response) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.startswith("x-wayfare-")}


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise TranslationError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise TranslationError("request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise TranslationError("model: Field required (a string)")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise TranslationError("messages: Field required (a non-empty list)")
    if "max_tokens" in body and (isinstance(body["max_tokens"], bool) or not isinstance(body["max_tokens"], int)):
        raise TranslationError("max_tokens: must be an integer")
    return body


def _auth(headers: Mapping[str, str]) -> dict[str, str]:
    out = dict(headers)
    if "authorization" not in out and out.get("x-api-key"):
        out["authorization"] = f"Bearer {out['x-api-key']}"
    return out


async def messages(gw: Any, request: Request) -> Response:
    t0 = time.perf_counter()
    try:
        body = _parse(await request.body())
        if "max_tokens" not in body:
            raise TranslationError("max_tokens: Field required")
        chat = from_messages_request(body)
    except TranslationError as exc:
        return anthropic_error(400, str(exc))
    resp = await gw.serve("chat", chat, _auth(request.headers), t0=t0, api="messages")
    headers = _wayfare_headers(resp)
    if resp.status_code >= 400:
        try:
            err = orjson.loads(bytes(resp.body)).get("error") or {}
        except (orjson.JSONDecodeError, AttributeError):
            err = {}
        message = err.get("message", "request failed") if isinstance(err, dict) else str(err)
        return anthropic_error(resp.status_code, str(message), headers)
    model = str(body["model"])
    if not isinstance(resp, StreamingResponse):
        out = to_messages_response(orjson.loads(bytes(resp.body)), model)
        return Response(orjson.dumps(out), media_type="application/json", headers=headers)
    return StreamingResponse(_events(resp, model), media_type="text/event-stream", headers=headers,
                             background=resp.background)  # fmt: skip


async def _events(resp: StreamingResponse, model: str) -> AsyncIterator[bytes]:
    """The chat stream's SSE chunks as Messages API events."""
    writer = MessagesStreamWriter(model)

    def sse(event: str, data: dict[str, Any]) -> bytes:
        return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    async with aclosing(chat_chunks(resp)) as chunks:
        async for chunk in chunks:
            message = is_error(chunk)
            if message is not None:
                yield sse("error", {"type": "error", "error": {"type": "api_error", "message": message}})
                return
            for event, payload in writer.feed(chunk):
                yield sse(event, payload)
    if not writer.started:
        for event, payload in writer.feed({}):
            yield sse(event, payload)
    for event, payload in writer.finish():
        yield sse(event, payload)


async def count_tokens(gw: Any, request: Request) -> Response:
    """An estimate (ceil(characters / 4) over the system prompt, messages and tools): Wayfare has no tokenizer for
    every upstream; the same rule prices requests whose upstream reports no usage."""
    try:
        body = _parse(await request.body())
        chat = from_messages_request({**body, "max_tokens": body.get("max_tokens") or 1})
    except TranslationError as exc:
        return anthropic_error(400, str(exc))
    text = orjson.dumps(chat["messages"]) + orjson.dumps(chat.get("tools") or [])
    return Response(orjson.dumps({"input_tokens": math.ceil(len(text) / 4)}), media_type="application/json")


def messages_routes(gw: Any) -> list[BaseRoute]:
    """The Messages API routes of gateway ``gw`` (mounted at the app's root)."""

    async def create(request: Request) -> Response:
        return await messages(gw, request)

    async def tokens(request: Request) -> Response:
        return await count_tokens(gw, request)

    return [
        Route("/v1/messages", create, methods=["POST"]),
        Route("/v1/messages/count_tokens", tokens, methods=["POST"]),
    ]
