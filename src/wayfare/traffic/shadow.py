"""Shadow traffic: for a sample of a pair route's requests, also ask the model the router did not pick.

The shadow call starts only after the client's response is complete (it is the response's background task, which
just hands the job to an asyncio task), never changes that response, runs at most ``max_concurrency`` at once per
process (a request sampled while all are busy is skipped and counted), and a failure is only logged. The shadow call
goes through the other model's deployments like a client's request would (the load-balancing strategy, retries,
cooldowns, quotas), never to a fallback model. Both answers go to the ``shadow_pairs`` table for ``wayfare label``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from starlette.background import BackgroundTask

from wayfare.gateway.config import RouteConfig
from wayfare.gateway.deployments import Deployments, request_model
from wayfare.gateway.retry import AllAttemptsFailed, RetryExecutor
from wayfare.providers.base import JSON
from wayfare.store.record import utcnow
from wayfare.store.tables import shadow_pairs

log = logging.getLogger("wayfare.traffic.shadow")


def answer_text(resp: Mapping[str, Any]) -> str | None:
    """The assistant text of a chat completion (None when it has none, e.g. only tool calls)."""
    choices = resp.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return None
    content = (choices[0].get("message") or {}).get("content")
    return content if isinstance(content, str) else None


@dataclass
class ShadowStats:
    scheduled: int = 0
    stored: int = 0
    skipped_busy: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Job:
    request_id: str
    route: RouteConfig
    body: JSON
    routed_model: str
    routed_answer: str
    other_model: str


class ShadowRunner:
    """Schedules and runs shadow calls for the routes of a config that have ``shadow`` set."""

    def __init__(
        self,
        engine: sa.Engine,
        routes: Mapping[str, RouteConfig],
        deployments: Deployments,
        executor: RetryExecutor,
        *,
        seed: int | None = None,
    ) -> None:
        self.engine = engine
        self.routes = {name: r for name, r in routes.items() if r.shadow is not None and r.shadow.sample > 0}
        self.deployments = deployments
        self.executor = executor
        self.stats = ShadowStats()
        self._rng = random.Random(seed)
        self._tasks: dict[str, set[asyncio.Task[None]]] = {name: set() for name in self.routes}

    @classmethod
    def for_gateway(cls, gateway: Any) -> ShadowRunner | None:
        """The runner of a :class:`~wayfare.gateway.core.Gateway`, or None when no route shadows (or no store)."""
        routes = {r.name: r for r in gateway.config.routes if r.shadow is not None and r.shadow.sample > 0}
        if not routes:
            return None
        engine = getattr(getattr(gateway.sink, "store", None), "engine", None)
        if engine is None:
            log.warning("shadow traffic is configured but there is no database (database_url): it is off")
            return None
        return cls(engine, routes, gateway.deployments, gateway.executor)

    def background(
        self, route: str, endpoint: str, body: JSON, used: str, result: JSON, request_id: str
    ) -> BackgroundTask | None:
        """The response's background task when this request is sampled for shadowing, else None (cheap)."""
        cfg = self.routes.get(route)
        if cfg is None or endpoint != "chat" or cfg.shadow is None:
            return None
        if self._rng.random() >= cfg.shadow.sample or used not in (cfg.strong, cfg.weak):
            return None
        text = answer_text(result)
        if text is None:
            return None
        other = cfg.weak if used == cfg.strong else cfg.strong
        return BackgroundTask(self.submit, _Job(request_id, cfg, body, used, text, other))

    async def submit(self, job: _Job) -> None:
        """Start the shadow call as its own task (returns at once), unless the route's slots are all busy.

        A coroutine so that Starlette awaits it on the event loop (a plain function would go to a thread)."""
        assert job.route.shadow is not None
        tasks = self._tasks[job.route.name]
        if len(tasks) >= job.route.shadow.max_concurrency:
            self.stats.skipped_busy += 1
            return
        self.stats.scheduled += 1
        task = asyncio.get_running_loop().create_task(self._run(job))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _run(self, job: _Job) -> None:
        assert job.route.shadow is not None
        body = {k: v for k, v in job.body.items() if k not in ("stream", "stream_options")}
        try:
            resp = await request_model(
                self.deployments, self.executor, job.other_model, "chat", body, job.route.shadow.timeout
            )
            other_answer = answer_text(resp)
            if other_answer is None:
                raise ValueError("the shadow answer has no text")
            await asyncio.to_thread(self._store, job, other_answer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a shadow failure must never reach a client: log it and move on
            err = exc.last if isinstance(exc, AllAttemptsFailed) else exc  # the upstream's own error, for the log
            self.stats.failed += 1
            message = f"{job.request_id} ({job.other_model}): {type(err).__name__}: {err}"
            self.stats.errors = [*self.stats.errors[-9:], message]
            log.warning("shadow call failed: %s", message)
            return
        self.stats.stored += 1

    def _store(self, job: _Job, other_answer: str) -> None:
        r = job.route
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(shadow_pairs).values(
                    request_id=job.request_id,
                    time=utcnow(),
                    route=r.name,
                    messages=job.body.get("messages") or [],
                    routed_model=job.routed_model,
                    routed_answer=job.routed_answer,
                    other_model=job.other_model,
                    other_answer=other_answer,
                    strong_model=r.strong,
                    weak_model=r.weak,
                )
            )

    def in_flight(self) -> int:
        return sum(len(t) for t in self._tasks.values())

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait up to ``timeout`` seconds for running shadow calls, then cancel the rest (server shutdown)."""
        pending = [t for tasks in self._tasks.values() for t in tasks]
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=timeout)
        for t in still:
            t.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)
