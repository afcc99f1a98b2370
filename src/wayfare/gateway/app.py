"""The Starlette app: OpenAI's endpoints, ``/health`` and ``/ready``, over one :class:`Gateway`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from wayfare.gateway.asgi import GatewayApp
from wayfare.gateway.config import GatewayConfig
from wayfare.gateway.core import Gateway
from wayfare.gateway.errors import error_response
from wayfare.gateway.messages_api import messages_routes
from wayfare.gateway.openapi import openapi_route
from wayfare.gateway.reqlog import LogSink
from wayfare.gateway.responses_api import responses_routes
from wayfare.governance.admin import admin_routes
from wayfare.governance.errors import GovernanceError
from wayfare.observability.metrics import CONTENT_TYPE
from wayfare.traffic.feedback import feedback_endpoint
from wayfare.ui.app import ui_routes

_JSON = "application/json"


def create_app(config: GatewayConfig, *, sink: LogSink | None = None, gateway: Gateway | None = None) -> GatewayApp:
    """The ASGI app serving ``config``. Routers are loaded here (before the first request); the log sink starts in
    the lifespan and is flushed when the server shuts down gracefully."""
    gw = gateway if gateway is not None else Gateway(config, sink=sink)

    async def chat(request: Request) -> Response:
        return await gw.handle("chat", await request.body(), request.headers)

    async def completions(request: Request) -> Response:
        return await gw.handle("completions", await request.body(), request.headers)

    async def embeddings(request: Request) -> Response:
        return await gw.handle("embeddings", await request.body(), request.headers)

    async def models(request: Request) -> Response:
        allowed = None
        if gw.gov is not None:
            try:
                key = (await gw.gov.authenticate(request.headers)).key
            except GovernanceError as exc:
                return exc.response()
            allowed = key.models if key is not None else None
        data: list[dict[str, object]] = []
        for name, pool in gw.deployments.pools.items():  # a model with several deployments is listed once
            entry: dict[str, object] = {
                "id": name,
                "object": "model",
                "created": 0,
                "owned_by": pool.deployments[0].config.provider,
            }
            if len(pool.deployments) > 1:
                entry["deployments"] = pool.ids
            data.append(entry)
        for name, rt in gw.router.routes.items():
            data.append(
                {
                    "id": name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "wayfare-route",
                    "candidates": rt.candidates,
                    "router": rt.config.router,
                    "threshold": rt.config.threshold,
                }
            )
        if allowed is not None:
            data = [d for d in data if d["id"] in allowed]
        return Response(orjson.dumps({"object": "list", "data": data}), media_type=_JSON)

    async def metrics(request: Request) -> Response:
        m = gw.observer.metrics
        if m is None:
            return error_response(404, "metrics are disabled (observability.metrics: false)", "invalid_request_error")
        if gw.observer.config.metrics_auth:
            if gw.gov is None or gw.gov.master_key is None:
                return error_response(
                    403, "observability.metrics_auth is on but no master key is set (WAYFARE_MASTER_KEY)",
                    "permission_error",
                )  # fmt: skip
            if not gw.gov.is_master(request.headers):
                return error_response(
                    401, "/metrics needs the master key: 'Authorization: Bearer <master key>'.",
                    "invalid_request_error", "invalid_api_key",
                )  # fmt: skip
        return Response(m.exposition(), media_type=CONTENT_TYPE)

    async def health(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type=_JSON)

    async def ready(request: Request) -> Response:
        routes = {n: ("ok" if rt.scorer is not None else rt.load_error) for n, rt in gw.router.routes.items()}
        now = _now()
        body = {"ready": gw.ready, "routes": routes, "cooling_down": gw.executor.cooldowns.cooling(now),
                "deployments": gw.deployments.status(gw.executor.cooldowns.available, now)}  # fmt: skip
        return Response(orjson.dumps(body), status_code=200 if gw.ready else 503, media_type=_JSON)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        etype = "invalid_request_error" if status < 500 else "server_error"
        return error_response(status, f"{request.method} {request.url.path}: {detail}", etype)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gw.start()
        try:
            yield
        finally:
            await gw.aclose()

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        *messages_routes(gw),
        *responses_routes(gw),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/feedback", feedback_endpoint(gw), methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        openapi_route(config),
        Mount("/admin", routes=admin_routes(gw.gov)),
        Mount("/ui", routes=ui_routes(gw)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error, 500: http_error})
    app.state.gateway = gw
    return GatewayApp(gw, app)  # POST /v1/chat/completions & co. skip Starlette's stack


def _now() -> float:
    import time

    return time.monotonic()
