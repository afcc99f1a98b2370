"""Hot reload of promoted routers: the gateway polls the store's router registry and swaps a route's runtime.

The swap replaces one entry of ``gateway.router.routes`` (a single reference assignment on the event loop): a
request that already resolved its route keeps the old runtime until it finishes, new requests get the new one, so
no request is dropped or failed. The new router is loaded and checked in a worker thread first; one that cannot
load is reported (``errors``) and the old one keeps serving. With no active version the route serves the router
named in the config again (the runtime built at start-up).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from wayfare.gateway.routing import RouteRuntime, load_scorer
from wayfare.traffic.registry import active_versions, fetch_artifact, unpack_artifact

log = logging.getLogger("wayfare.traffic.reload")

CLOSE_GRACE_SECONDS = 60.0
"""The replaced runtime's scoring thread is shut down this long after the swap (in-flight decisions finish)."""


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "wayfare" / "promoted-routers"


class RouterReloader:
    """Keeps a gateway's routes on the versions the registry marks active."""

    def __init__(
        self, gateway: Any, engine: sa.Engine, poll_seconds: float, cache_dir: str | Path | None = None
    ) -> None:
        self.gateway = gateway
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.original: dict[str, RouteRuntime] = dict(gateway.router.routes)
        self.serving: dict[str, tuple[int, str] | None] = {name: None for name in self.original}
        """Route -> (version, sha256) being served; None = the config's router."""
        self.errors: dict[str, str] = {}
        self.reloads = 0
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_gateway(cls, gateway: Any) -> RouterReloader | None:
        engine = getattr(getattr(gateway.sink, "store", None), "engine", None)
        if engine is None or not gateway.router.routes:
            return None
        return cls(gateway, engine, gateway.config.registry_poll_seconds)

    async def start(self) -> None:
        """Serve the active versions before the first request, then poll (when ``poll_seconds`` > 0)."""
        await self.check()
        if self.poll_seconds > 0:
            self._task = asyncio.get_running_loop().create_task(self._poll())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.check()
            except Exception as exc:  # a database hiccup must not stop polling
                log.warning("router registry check failed: %s", exc)

    async def check(self) -> list[str]:
        """Apply the registry's active versions; returns the routes swapped."""
        active = await asyncio.to_thread(active_versions, self.engine)
        swapped = []
        for name in self.original:
            want = active.get(name)
            if want == self.serving[name]:
                continue
            try:
                runtime = await asyncio.to_thread(self._build, name, want)
            except Exception as exc:
                msg = f"version {want[0] if want else 'config'}: {type(exc).__name__}: {exc}"
                if self.errors.get(name) != msg:
                    log.error("route %r keeps its router; cannot load promoted %s", name, msg)
                self.errors[name] = msg
                continue
            self._swap(name, runtime, want)
            swapped.append(name)
        return swapped

    def _build(self, name: str, want: tuple[int, str] | None) -> RouteRuntime:
        if want is None:
            return self.original[name]
        blob, sha = fetch_artifact(self.engine, name, want[0])
        folder = unpack_artifact(blob, sha, self.cache_dir)
        rt = RouteRuntime(
            self.original[name].config,
            load_scorer(str(folder), share_vectors=self.gateway.config.shares_vectors),
            pricing=self.gateway.pricing,
        )
        if rt.scorer is None:
            raise ValueError(rt.load_error or "router rejected")
        assert rt.batcher is not None
        rt.batcher.fn([""])  # warm up (lazy loads) off the event loop, before it serves
        return rt

    def _swap(self, name: str, runtime: RouteRuntime, want: tuple[int, str] | None) -> None:
        routes = self.gateway.router.routes
        old = routes[name]
        routes[name] = runtime  # the atomic swap: in-flight requests hold their own reference to `old`
        self.serving[name] = want
        self.errors.pop(name, None)
        self.reloads += 1
        log.info("route %r now serves %s", name, f"promoted version {want[0]}" if want else "its config router")
        if old is not self.original[name] and old.batcher is not None:
            asyncio.get_running_loop().call_later(CLOSE_GRACE_SECONDS, old.batcher.close)
