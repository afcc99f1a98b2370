"""The dashboard at ``/ui``: one static page (no CDN, works offline) and its JSON API under ``/ui/api``.

Access: when ``WAYFARE_MASTER_KEY`` is set, the API needs the master key (``Authorization: Bearer`` or the
HttpOnly cookie that ``POST /ui/api/login`` sets); without it the dashboard is read-only and open (a local
gateway), and changing a route's threshold is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from wayfare.gateway.errors import error_response
from wayfare.observability.live import GROUPS
from wayfare.ui.evaldata import IMAGES, load_eval, what_if

if TYPE_CHECKING:
    from wayfare.gateway.core import Gateway

COOKIE = "wayfare_ui"
PAGES = ("live", "spend", "eval", "whatif", "quality")
Handler = Callable[[Request], Awaitable[Response]]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def _token(master: str) -> str:
    """The cookie value: an HMAC of the master key (the key itself never goes into a cookie)."""
    return hmac.new(master.encode(), b"wayfare-ui-session", hashlib.sha256).hexdigest()


def ui_routes(gw: Gateway) -> list[BaseRoute]:
    """The routes to mount under ``/ui``."""
    page = resources.files("wayfare.ui").joinpath("static/index.html").read_bytes()
    gw.observer.set_thresholds({n: rt.config.threshold for n, rt in gw.router.routes.items()})

    def master() -> str | None:
        return gw.gov.master_key if gw.gov is not None else None

    def is_admin(request: Request) -> bool:
        key = master()
        if key is None or gw.gov is None:
            return False
        cookie = request.cookies.get(COOKIE)
        return gw.gov.is_master(request.headers) or (cookie is not None and hmac.compare_digest(cookie, _token(key)))

    def guarded(fn: Handler) -> Handler:
        async def handler(request: Request) -> Response:
            if master() is not None and not is_admin(request):
                msg = "The dashboard needs the master key: log in at /ui."
                return error_response(401, msg, "invalid_request_error", "invalid_api_key")
            return await fn(request)

        return handler

    async def index(request: Request) -> Response:
        name = request.path_params.get("page", "live")
        if name not in PAGES:
            return error_response(
                404, f"no dashboard page {name!r} (pages: {', '.join(PAGES)})", "invalid_request_error"
            )
        return Response(page, media_type="text/html; charset=utf-8", headers={"cache-control": "no-store"})

    async def root(request: Request) -> Response:
        return RedirectResponse("/ui/live")

    async def session(request: Request) -> Response:
        key = master()
        return _json({"master_key_set": key is not None, "admin": is_admin(request),
                      "authenticated": key is None or is_admin(request)})  # fmt: skip

    async def login(request: Request) -> Response:
        key = master()
        if key is None or gw.gov is None:
            return error_response(403, "No master key is set (WAYFARE_MASTER_KEY): nothing to log in to.",
                                  "permission_error")  # fmt: skip
        try:
            given = orjson.loads(await request.body()).get("key")
        except (orjson.JSONDecodeError, AttributeError):
            return error_response(400, 'body must be JSON: {"key": "<master key>"}', "invalid_request_error")
        if not isinstance(given, str) or not gw.gov.is_master({"authorization": f"Bearer {given}"}):
            return error_response(401, "Wrong master key.", "invalid_request_error", "invalid_api_key")
        resp = _json({"admin": True})
        secure = request.url.scheme == "https"
        resp.set_cookie(COOKIE, _token(key), httponly=True, samesite="strict", secure=secure, path="/ui")
        return resp

    async def logout(request: Request) -> Response:
        resp = _json({"admin": False})
        resp.delete_cookie(COOKIE, path="/ui")
        return resp

    def routes_info() -> list[dict[str, Any]]:
        return [
            {"name": n, "router": rt.config.router, "threshold": rt.config.threshold, "strong": rt.config.strong,
             "weak": rt.config.weak, "loaded": rt.scorer is not None}
            for n, rt in gw.router.routes.items()
        ]  # fmt: skip

    async def summary(request: Request) -> Response:
        live = gw.observer.live
        by = {g: live.totals(g) for g in GROUPS}
        requests = sum(v["requests"] for v in by["model"].values())
        spend = sum(v["cost_usd"] for v in by["model"].values())
        saved = sum(v["saved_usd"] for v in by["model"].values())
        return _json({
            "routes": routes_info(), "requests": requests, "cost_usd": spend, "saved_usd": saved, "by": by,
            "measured_on": f"requests served by this replica in the last {live.keep_s / 3600:g} h",
        })  # fmt: skip

    async def decisions(request: Request) -> Response:
        try:
            limit = max(1, min(500, int(request.query_params.get("limit", "50"))))
        except ValueError:
            return error_response(400, "limit must be an integer", "invalid_request_error", param="limit")
        return _json({"decisions": gw.observer.live.recent(limit, request.query_params.get("route"))})

    async def timeline(request: Request) -> Response:
        group = request.query_params.get("group", "route")
        if group not in GROUPS:
            return error_response(400, f"group must be one of {', '.join(GROUPS)}", "invalid_request_error",
                                  param="group")  # fmt: skip
        return _json(gw.observer.live.timeline(group))

    async def evaluation(request: Request) -> Response:
        return _json(load_eval(gw.config.observability.eval_dir))

    async def image(request: Request) -> Response:
        name = request.path_params["name"]
        folder = gw.config.observability.eval_dir
        if name not in IMAGES or folder is None or not (Path(folder) / name).is_file():
            return error_response(404, f"no image {name!r} in the evaluation folder", "invalid_request_error")
        return FileResponse(Path(folder) / name, media_type="image/png")

    async def whatif(request: Request) -> Response:
        name = request.query_params.get("route", "")
        rt = gw.router.routes.get(name)
        if rt is None:
            return error_response(404, f"no route {name!r}", "invalid_request_error", param="route")
        try:
            threshold = float(request.query_params.get("threshold", str(rt.config.threshold)))
        except ValueError:
            threshold = -1.0
        if not 0.0 <= threshold <= 1.0:
            return error_response(400, "threshold must be a number in [0, 1]", "invalid_request_error",
                                  param="threshold")  # fmt: skip
        rows = gw.observer.live.scored(name)
        cfg, pricing = rt.config, gw.pricing
        result = what_if(
            threshold, [r[0] for r in rows], [(r[1], r[2]) for r in rows],
            lambda i, o: pricing.cost(cfg.strong, i, o), lambda i, o: pricing.cost(cfg.weak, i, o),
            load_eval(gw.config.observability.eval_dir), cfg.router,
        )  # fmt: skip
        result.update(route=name, current_threshold=cfg.threshold, strong=cfg.strong, weak=cfg.weak)
        return _json(result)

    async def quality(request: Request) -> Response:
        return _json(await quality_view(gw))

    async def set_threshold(request: Request) -> Response:
        if master() is None:
            return error_response(403, "Changing a route needs the admin: set WAYFARE_MASTER_KEY and log in.",
                                  "permission_error")  # fmt: skip
        if not is_admin(request):
            return error_response(401, "Only the admin (master key) may change a route.", "invalid_request_error",
                                  "invalid_api_key")  # fmt: skip
        name = request.path_params["name"]
        rt = gw.router.routes.get(name)
        if rt is None:
            return error_response(404, f"no route {name!r}", "invalid_request_error")
        if rt.config.quality is not None:
            return error_response(409, f"route {name!r} has a quality target: its threshold is certified from its "
                                  "labels, not set by hand", "invalid_request_error")  # fmt: skip
        try:
            t = orjson.loads(await request.body()).get("threshold")
        except (orjson.JSONDecodeError, AttributeError):
            t = None
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0.0 <= t <= 1.0:
            return error_response(400, 'body must be {"threshold": <number in [0, 1]>}', "invalid_request_error",
                                  param="threshold")  # fmt: skip
        old = rt.config.threshold
        rt.config = rt.config.model_copy(update={"threshold": float(t)})
        gw.observer.set_thresholds({name: float(t)})
        return _json({"route": name, "threshold": float(t), "previous": old,
                      "scope": "this replica, until restart (put it in the config to keep it)"})  # fmt: skip

    return [
        Route("/", root, methods=["GET"]),
        Route("/api/session", session, methods=["GET"]),
        Route("/api/login", login, methods=["POST"]),
        Route("/api/logout", logout, methods=["POST"]),
        Route("/api/summary", guarded(summary), methods=["GET"]),
        Route("/api/decisions", guarded(decisions), methods=["GET"]),
        Route("/api/timeline", guarded(timeline), methods=["GET"]),
        Route("/api/eval", guarded(evaluation), methods=["GET"]),
        Route("/api/eval/img/{name}", guarded(image), methods=["GET"]),
        Route("/api/whatif", guarded(whatif), methods=["GET"]),
        Route("/api/quality", guarded(quality), methods=["GET"]),
        Route("/api/routes/{name}/threshold", set_threshold, methods=["POST"]),
        Route("/{page}", index, methods=["GET"]),
    ]


async def quality_view(gw: Gateway) -> dict[str, Any]:
    """Each quality-target route: its target, what it applies now, and its stored decisions (oldest first)."""
    import asyncio

    routes = [r for r in gw.config.routes if r.quality is not None]
    runner = gw.quality
    if not routes or runner is None:
        why = "no route has a quality target" if not routes else "quality targets need a database (database_url)"
        return {"routes": [], "reason": why}
    from wayfare.quality.store import history

    out = []
    for r in routes:
        assert r.quality is not None
        rows = await asyncio.to_thread(history, runner.engine, r.name, 200)
        current = gw.router.quality.get(r.name)
        out.append({
            "route": r.name, "strong": r.strong, "weak": r.weak, "quality_target": r.quality.quality_target,
            "risk": r.quality.risk, "min_labels": r.quality.min_labels,
            "current": None if current is None else {
                "state": current.state, "threshold": current.threshold, "certificate": current.certificate_id,
                "labels": current.labels, "bound": current.bound, "realised": current.realised,
                "reason": current.reason,
            },
            "saving": rows[0]["saving"] if rows else {},
            "history": [{**{k: v for k, v in row.items() if k != "id"}, "time": row["time"].isoformat()}
                        for row in reversed(rows)],
            "error": runner.errors.get(r.name),
        })  # fmt: skip
    return {"routes": out, "measured_on": "the labelled shadow pairs of each route, in the shared store"}
