"""``/v1/responses``: OpenAI's Responses API in front of any upstream.

``POST /v1/responses`` is translated to a chat completion request (:mod:`wayfare.providers.responses_translate`)
and served by the same path as ``/v1/chat/completions`` (routing, governance, cache, fallbacks, the request log
with ``metadata.api: responses``, the ``x-wayfare-*`` headers), then translated back, streaming included. With
``store`` (the default) the response and its conversation are kept per caller (virtual key, else the hashed
``Authorization`` header), so ``previous_response_id`` continues it on any upstream; ``GET`` and ``DELETE
/v1/responses/{id}`` read and remove them. Errors are OpenAI's shape.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from wayfare.gateway.chat_stream import chat_chunks, is_error
from wayfare.gateway.context import caller_id
from wayfare.gateway.errors import error_response
from wayfare.gateway.responses_store import ResponsesStore
from wayfare.governance.errors import GovernanceError
from wayfare.governance.service import Principal
from wayfare.providers.responses_translate import (
    ResponsesError,
    ResponsesStreamWriter,
    new_id,
    output_items,
    response_object,
    to_chat_request,
)

_JSON = "application/json"


def store_for(gw: Any) -> ResponsesStore:
    store = getattr(gw, "_responses_store", None)
    if store is None:
        store = ResponsesStore(getattr(getattr(gw.sink, "store", None), "engine", None))
        gw._responses_store = store
    return store


async def caller(gw: Any, headers: Mapping[str, str]) -> tuple[Principal | None, str | None]:
    """The authenticated caller (None without governance) and whose stored responses these are
    (:func:`wayfare.gateway.context.caller_id`). Raises :class:`GovernanceError` 401."""
    principal = await gw.gov.authenticate(headers) if gw.gov is not None else None
    return principal, caller_id(principal, headers)


def _wayfare_headers(resp: Response) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.startswith("x-wayfare-")}


async def create(gw: Any, request: Request) -> Response:
    t0 = time.perf_counter()
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        return error_response(400, f"request body is not valid JSON: {exc}", "invalid_request_error")
    if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body["model"]:
        return error_response(400, "'model' is required and must be a string", "invalid_request_error", param="model")
    try:
        principal, key = await caller(gw, request.headers)
    except GovernanceError as exc:
        return exc.response()
    store = store_for(gw)
    history: list[Any] = []
    prev = body.get("previous_response_id")
    if prev is not None:
        found = store.load(str(prev), key)
        if found is None:
            return error_response(404, f"Previous response with id '{prev}' not found.", "invalid_request_error",
                                  param="previous_response_id")  # fmt: skip
        history = found[1]
    try:
        chat = to_chat_request(body, history)
    except ResponsesError as exc:
        return error_response(400, str(exc), "invalid_request_error", param=exc.param)
    resp: Response = await gw.serve("chat", chat, request.headers, t0=t0, api="responses", principal=principal)
    if resp.status_code >= 400:
        return resp  # already OpenAI's error shape
    headers = _wayfare_headers(resp)
    rid = new_id("resp")
    keep = body.get("store", True) is not False
    if not isinstance(resp, StreamingResponse):
        completion = orjson.loads(bytes(resp.body))
        message = (completion.get("choices") or [{}])[0].get("message") or {}
        obj = response_object(body, rid, output_items(message), completion.get("usage") or {})
        if keep:
            store.save(rid, key, obj, [*chat["messages"], _assistant(message)])
        return Response(orjson.dumps(obj), media_type=_JSON, headers=headers)
    return StreamingResponse(_events(resp, body, rid, chat, store if keep else None, key),
                             media_type="text/event-stream", headers=headers)  # fmt: skip


def _assistant(message: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    if message.get("tool_calls"):
        out["tool_calls"] = message["tool_calls"]
    return out


async def _events(
    resp: StreamingResponse, body: dict[str, Any], rid: str, chat: dict[str, Any], store: ResponsesStore | None,
    key: str | None,
) -> AsyncIterator[bytes]:  # fmt: skip
    writer = ResponsesStreamWriter(body, rid)

    def sse(event: dict[str, Any]) -> bytes:
        return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"

    for event in writer.start():
        yield sse(event)
    async with aclosing(chat_chunks(resp)) as chunks:
        async for chunk in chunks:
            message = is_error(chunk)
            if message is not None:
                failed = {**response_object(body, rid, writer.order, writer.usage, status="failed"),
                          "error": {"code": "server_error", "message": message}}  # fmt: skip
                yield sse({"type": "response.failed", "sequence_number": writer.seq + 1, "response": failed})
                return
            for event in writer.feed(chunk):
                yield sse(event)
    events, final = writer.finish()
    if store is not None:
        store.save(rid, key, final, [*chat["messages"], writer.assistant_message()])
    for event in events:
        yield sse(event)


async def retrieve(gw: Any, request: Request) -> Response:
    try:
        _, key = await caller(gw, request.headers)
    except GovernanceError as exc:
        return exc.response()
    rid = request.path_params["rid"]
    found = store_for(gw).load(rid, key)
    if found is None:
        return error_response(404, f"Response with id '{rid}' not found.", "invalid_request_error")
    return Response(orjson.dumps(found[0]), media_type=_JSON)


async def delete(gw: Any, request: Request) -> Response:
    try:
        _, key = await caller(gw, request.headers)
    except GovernanceError as exc:
        return exc.response()
    rid = request.path_params["rid"]
    if not store_for(gw).delete(rid, key):
        return error_response(404, f"Response with id '{rid}' not found.", "invalid_request_error")
    return Response(orjson.dumps({"id": rid, "object": "response", "deleted": True}), media_type=_JSON)


async def cancel(gw: Any, request: Request) -> Response:
    return error_response(400, "Only background responses can be cancelled; Wayfare answers every response in the "
                          "foreground (background mode is not supported).", "invalid_request_error")  # fmt: skip


def responses_routes(gw: Any) -> list[BaseRoute]:
    """The Responses API routes of gateway ``gw`` (mounted at the app's root)."""

    async def post(request: Request) -> Response:
        return await create(gw, request)

    async def get(request: Request) -> Response:
        return await retrieve(gw, request)

    async def remove(request: Request) -> Response:
        return await delete(gw, request)

    async def stop(request: Request) -> Response:
        return await cancel(gw, request)

    return [
        Route("/v1/responses", post, methods=["POST"]),
        Route("/v1/responses/{rid}", get, methods=["GET"]),
        Route("/v1/responses/{rid}", remove, methods=["DELETE"]),
        Route("/v1/responses/{rid}/cancel", stop, methods=["POST"]),
    ]
