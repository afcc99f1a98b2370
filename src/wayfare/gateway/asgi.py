"""The hot path before Starlette: ``POST`` to the three completion endpoints goes straight to :class:`Gateway`.

Starlette's middleware stack, router and ``Request`` object cost about a tenth of the gateway's CPU per request on
the benchmark; every other path (``/v1/models``, health, admin, 404s, lifespan) still goes through the Starlette app.
A Starlette middleware added to the app would not see the hot endpoints: put such cross-cutting work in
:class:`Gateway`.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from wayfare.gateway.core import Gateway
from wayfare.gateway.errors import error_response
from wayfare.providers.base import Endpoint

log = logging.getLogger("wayfare.gateway")

HOT_PATHS: dict[str, Endpoint] = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
}


async def read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    parts = [body]
    while message.get("more_body", False):
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        parts.append(message.get("body", b""))
    return b"".join(parts)


class GatewayApp:
    """ASGI app: the hot endpoints handled directly, everything else by ``fallback`` (the Starlette app)."""

    def __init__(self, gateway: Gateway, fallback: Any) -> None:
        self.gateway = gateway
        self.fallback = fallback

    @property
    def state(self) -> Any:
        return self.fallback.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = HOT_PATHS.get(scope["path"])
            if endpoint is not None:
                await self._handle(endpoint, scope, receive, send)
                return
        await self.fallback(scope, receive, send)

    async def _handle(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await read_body(receive)
            response = await self.gateway.handle(endpoint, body, Headers(scope=scope))
        except Exception:
            log.exception("unhandled error on %s", scope["path"])
            response = error_response(500, f"POST {scope['path']}: internal error", "server_error")
        await response(scope, receive, send)
