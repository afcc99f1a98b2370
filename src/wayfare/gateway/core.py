"""The gateway's request path: resolve the model or route, call the provider with retries and fallbacks, compute
cost and savings, set the ``x-wayfare-*`` headers, and log one record per request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping

import orjson
from starlette.responses import Response, StreamingResponse

from wayfare.cache.stream import ChunkCollector
from wayfare.data.prices import PriceTable
from wayfare.gateway import semantic_cache as semantic
from wayfare.gateway.config import GatewayConfig, ModelConfig
from wayfare.gateway.context import RequestContext, caller_id, fmt
from wayfare.gateway.cost import Pricing, usage_tokens
from wayfare.gateway.deployments import Deployment, Deployments
from wayfare.gateway.errors import error_body, error_response, upstream_failure
from wayfare.gateway.reqlog import LogSink, open_sink
from wayfare.gateway.retry import AllAttemptsFailed, Attempt, RetryExecutor
from wayfare.gateway.routing import Decision, Router
from wayfare.gateway.upstreams import make_provider
from wayfare.gateway.usage import LocalUsage, RedisUsage, UsageBook
from wayfare.governance.errors import GovernanceError
from wayfare.governance.service import Governance, Principal
from wayfare.observability.observer import Observer
from wayfare.providers.base import JSON, UPSTREAM_HEADERS, ChunkStream, Endpoint, Provider
from wayfare.providers.errors import ProviderError
from wayfare.providers.http import HttpClients
from wayfare.quality.runner import QualityRunner
from wayfare.traffic.reload import RouterReloader
from wayfare.traffic.shadow import ShadowRunner

_JSON = "application/json"


class Gateway:
    """Shared state of one gateway process: config, pooled client, providers, router, retry policy, log sink."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        sink: LogSink | None = None,
        router: Router | None = None,
        client: HttpClients | None = None,
        governance: Governance | None = None,
    ) -> None:
        self.config = config
        self.client = client if client is not None else HttpClients()
        table = PriceTable.from_file(config.price_table) if config.price_table else None
        self.pricing = Pricing(config, table)
        self.sink = sink if sink is not None else open_sink(config.database_url)
        # None when no master key, limits, team budgets, cache or Redis are configured: the hot path skips it
        self.gov = governance or Governance.from_config(
            config.governance, database_url=config.database_url, redis_url=config.redis_url, pricing=self.pricing
        )
        redis = self.gov.redis if self.gov is not None else None  # quotas count on the replicas' shared Redis
        usage: UsageBook = RedisUsage(redis, config.governance.redis_prefix) if redis is not None else LocalUsage()
        self.deployments = Deployments.from_config(config, lambda m: make_provider(m, self.client), usage)
        # each model's first deployment: its settings stand for the model (prices, limits in the request context)
        first = {n: p.deployments[0] for n, p in self.deployments.pools.items()}
        self.models: dict[str, ModelConfig] = {n: d.config for n, d in first.items()}
        self.providers: dict[str, Provider] = {n: d.provider for n, d in first.items()}
        self.router = router if router is not None else Router.from_config(config)
        self.executor = RetryExecutor.from_config(config.retry)
        self.semantic = semantic.SemanticCache.for_gateway(self)  # None unless governance.cache.semantic.routes
        self.observer = Observer(config.observability)  # metrics, dashboard, prompt previews
        self.tracing = self.observer.tracing  # None unless observability.tracing.enabled
        self.shadow = ShadowRunner.for_gateway(self)  # None unless a route has `shadow:` (and there is a store)
        self.reloader = RouterReloader.for_gateway(self)  # routers promoted in the store's registry
        self.quality = QualityRunner.for_gateway(self)  # None unless a route has `quality:` (and there is a store)
        self.ready = False
        self._background: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.sink.start()
        if self.reloader is not None:
            await self.reloader.start()
        if self.quality is not None:
            await self.quality.start()
        self.ready = True

    async def aclose(self) -> None:
        self.ready = False
        if self.quality is not None:
            await self.quality.aclose()
        if self.reloader is not None:
            await self.reloader.aclose()
        if self.shadow is not None:
            await self.shadow.drain()
        await self.sink.aclose()
        await self.client.aclose()
        await asyncio.gather(*self._background, return_exceptions=True)  # token counts still on their way
        self.router.close()  # the routes' scoring threads
        if self.semantic is not None:
            self.semantic.close()
        if self.reloader is not None:
            for rt in self.reloader.original.values():
                rt.close()
        if self.gov is not None:
            await self.gov.aclose()
        self.observer.aclose()

    # ------------------------------------------------------------------ request path
    async def handle(self, endpoint: Endpoint, raw: bytes, headers: Mapping[str, str]) -> Response:
        """One OpenAI-format request as it arrived (JSON bytes)."""
        t0 = time.perf_counter()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return error_response(400, f"request body is not valid JSON: {exc}", "invalid_request_error")
        if not isinstance(body, dict):
            return error_response(400, "request body must be a JSON object", "invalid_request_error")
        return await self.serve(endpoint, body, headers, t0=t0)

    async def serve(
        self,
        endpoint: Endpoint,
        body: JSON,
        headers: Mapping[str, str],
        *,
        t0: float | None = None,
        api: str | None = None,
        principal: Principal | None = None,
    ) -> Response:
        """One parsed OpenAI-format request. The other front doors (``/v1/messages``, ``/v1/responses``) call this
        with their translated body: ``api`` names them in the log; ``principal``, when they already authenticated
        the caller, is not looked up again (the model check still runs)."""
        t0 = time.perf_counter() if t0 is None else t0
        name = body.get("model")
        if not isinstance(name, str) or not name:
            return error_response(
                400, "'model' is required and must be a string", "invalid_request_error", param="model"
            )
        if endpoint == "chat" and (not isinstance(body.get("messages"), list) or not body["messages"]):
            return error_response(
                400, "'messages' must be a non-empty array", "invalid_request_error", param="messages"
            )
        if self.gov is not None:
            try:
                principal = await self.gov.authorize(headers, name, principal)
            except GovernanceError as exc:
                return exc.response()
        decision: Decision | None = None
        if name not in self.models:
            resolved = self.router.resolve(name) if endpoint != "embeddings" else None
            if resolved is None:
                return error_response(
                    404,
                    f"The model `{name}` does not exist or you do not have access to it.",
                    "invalid_request_error",
                    "model_not_found",
                    "model",
                )
            rt, threshold = resolved
            decision = await self.router.adecide(name, rt, threshold, body, headers.get("x-wayfare-session"))
        chosen = decision.model if decision is not None else name
        chain = [chosen, *self.config.fallbacks.get(chosen, ())]
        ctx = RequestContext(self, endpoint, body, headers, decision, chosen, t0)
        ctx.api = api
        if self.gov is not None and principal is not None:
            ctx.principal = principal
            try:
                ctx.ticket = await self.gov.reserve(principal, [name, chosen], body, chain[1:])
            except GovernanceError as exc:
                ctx.log(status=exc.status, model=chosen, attempts=[], error_class=exc.code)
                return exc.response()
            probe = self.semantic.probe(name, ctx) if self.semantic is not None else None
            if not body.get("stream") or endpoint == "embeddings":
                ckey = self.gov.cache_key_for(name, endpoint, body, caller_id(principal, headers))
                if ckey is not None or probe is not None:
                    return await self._unary(ctx, chain, ckey, probe)
            elif probe is not None:
                return await self._stream(ctx, chain, probe)
        if body.get("stream") and endpoint != "embeddings":
            return await self._stream(ctx, chain)
        return await self._unary(ctx, chain)

    async def _unary(
        self, ctx: RequestContext, chain: list[str], cache_key: str | None = None, probe: semantic.Probe | None = None
    ) -> Response:
        if cache_key is not None and self.gov is not None and (hit := await self.gov.cache_get(cache_key)):
            return _from_cache(ctx, hit, {"x-wayfare-cache": "hit"})
        if probe is not None and (hit := await probe.lookup()) is not None:
            label = {"x-wayfare-cache": "semantic-hit", "x-wayfare-cache-similarity": f"{probe.similarity:.4f}"}
            return _from_cache(ctx, hit, label, probe.metadata(True))

        async def call(dep_id: str) -> JSON:
            UPSTREAM_HEADERS.set(None)  # what the provider surfaces for this attempt
            with ctx.attempt_span(self.deployments.by_id[dep_id].model):
                return await self.deployments.request(dep_id, ctx.endpoint, ctx.body)

        t_up = time.perf_counter()
        try:
            result, dep_id, attempts = await self.executor.run(chain, call, self.deployments)
        except AllAttemptsFailed as exc:
            ctx.upstream_ms = (time.perf_counter() - t_up) * 1000
            ctx.surfaced = UPSTREAM_HEADERS.get()
            status, err = upstream_failure(exc.last)
            last = exc.attempts[-1] if exc.attempts else None
            ctx.deployment = last.deployment if last is not None else None
            ctx.log(
                status=status,
                model=last.model if last is not None else ctx.chosen,
                attempts=exc.attempts,
                error_class=exc.last.error_class,
            )
            headers = ctx.headers_for(last.model if last is not None else ctx.chosen)
            if exc.last.retry_after is not None and status == 429:
                headers["retry-after"] = str(max(1, round(exc.last.retry_after)))
            return Response(orjson.dumps(err), status_code=status, media_type=_JSON, headers=headers)
        ctx.upstream_ms = (time.perf_counter() - t_up) * 1000
        dep = self.deployments.by_id[dep_id]
        ctx.deployment, ctx.surfaced = dep.id, UPSTREAM_HEADERS.get()
        used = dep.model
        result["model"] = used
        tokens = usage_tokens(result.get("usage"))
        self._count_tokens(dep, tokens)
        cost, counterfactual = ctx.costs(used, tokens)
        headers = ctx.headers_for(used)
        if cost is not None:
            headers["x-wayfare-cost-usd"] = fmt(cost)
            headers["x-wayfare-saved-usd"] = fmt(counterfactual - cost)
        ctx.log(status=200, model=used, attempts=attempts, tokens=tokens, cost=cost, counterfactual=counterfactual,
                extra=probe.metadata(False) if probe is not None else None)  # fmt: skip
        if cache_key is not None and self.gov is not None:
            await self.gov.cache_put(cache_key, result)
            headers["x-wayfare-cache"] = "miss"
        if probe is not None:
            await probe.store(result)
            headers["x-wayfare-cache"] = "miss"
        shadow = None  # runs after the response is sent (Starlette's background task)
        if self.shadow is not None and ctx.decision is not None:
            shadow = self.shadow.background(ctx.decision.route, ctx.endpoint, ctx.body, used, result, ctx.request_id)
        return Response(orjson.dumps(result), media_type=_JSON, headers=headers, background=shadow)

    async def _stream(self, ctx: RequestContext, chain: list[str], probe: semantic.Probe | None = None) -> Response:
        opts = ctx.body.get("stream_options")
        client_usage = isinstance(opts, dict) and bool(opts.get("include_usage"))
        if probe is not None and (hit := await probe.lookup()) is not None:
            return semantic.stream_hit(ctx, hit, probe, client_usage)
        body = {**ctx.body, "stream_options": {**(opts if isinstance(opts, dict) else {}), "include_usage": True}}

        async def call(dep_id: str) -> ChunkStream:
            dep = self.deployments.by_id[dep_id]
            cfg = dep.config
            if dep.limited:  # one more request of its quota this minute
                await self.deployments.usage.add(dep.id, 1, 0)
            t0 = self._begin_attempt(dep)  # in flight until the relay ends (or the stream fails to open)
            try:
                with ctx.attempt_span(dep.model):  # to the first chunk
                    opened = await dep.provider.stream({**body, "model": cfg.upstream_model}, cfg.timeout, ctx.endpoint)
            except BaseException:
                dep.in_flight -= 1
                raise
            dep.first_byte(t0)
            return opened

        t_up = time.perf_counter()
        try:
            stream, dep_id, attempts = await self.executor.run(chain, call, self.deployments)
        except AllAttemptsFailed as exc:
            ctx.upstream_ms = (time.perf_counter() - t_up) * 1000
            ctx.surfaced = UPSTREAM_HEADERS.get()
            status, err = upstream_failure(exc.last)
            last = exc.attempts[-1] if exc.attempts else None
            last_model = last.model if last is not None else ctx.chosen
            ctx.deployment = last.deployment if last is not None else None
            ctx.log(
                status=status, model=last_model, attempts=exc.attempts, error_class=exc.last.error_class, stream=True
            )
            return Response(
                orjson.dumps(err), status_code=status, media_type=_JSON, headers=ctx.headers_for(last_model)
            )
        ctx.upstream_ms = (time.perf_counter() - t_up) * 1000  # to the first chunk
        dep = self.deployments.by_id[dep_id]
        ctx.deployment, ctx.surfaced = dep.id, UPSTREAM_HEADERS.get()
        used = dep.model

        collector = ChunkCollector() if probe is not None else None  # the answer, for the semantic cache

        async def relay() -> AsyncIterator[bytes]:
            tokens: tuple[int, int] = (0, 0)
            status, error_class = 200, None
            try:
                async for chunk in stream:
                    chunk["model"] = used
                    if collector is not None:
                        collector.add(chunk)
                    usage = chunk.get("usage")
                    if usage:
                        tokens = usage_tokens(usage)
                        if not client_usage:
                            if not chunk.get("choices"):
                                continue
                            chunk.pop("usage")
                    yield b"data: " + orjson.dumps(chunk) + b"\n\n"
                yield b"data: [DONE]\n\n"
                if probe is not None and collector is not None and (answer := collector.completion(used)):
                    await probe.store(answer)
            except ProviderError as exc:
                status, error_class = 502, f"stream_{exc.error_class}"
                msg = f"the upstream stream failed after the response started: {exc.message}"
                yield b"data: " + orjson.dumps(error_body(msg, "upstream_error", error_class)) + b"\n\n"
            except asyncio.CancelledError:
                status, error_class = 499, "client_disconnected"
                raise
            finally:
                dep.in_flight -= 1
                self._count_tokens(dep, tokens)
                cost, counterfactual = ctx.costs(used, tokens)
                # a stream that failed after it opened: the attempt that opened it counts too
                tried = attempts if status < 400 else [*attempts, Attempt(used, error_class, None)]
                ctx.log(
                    status=status,
                    model=used,
                    attempts=tried,
                    tokens=tokens,
                    cost=cost,
                    counterfactual=counterfactual,
                    error_class=error_class,
                    stream=True,
                    extra=probe.metadata(False) if probe is not None else None,
                )

        headers = ctx.headers_for(used)
        if probe is not None:
            headers["x-wayfare-cache"] = "miss"
        return StreamingResponse(relay(), media_type="text/event-stream", headers=headers)

    @staticmethod
    def _begin_attempt(dep: Deployment) -> float:
        """Count an attempt on ``dep`` as in flight and return its start time."""
        UPSTREAM_HEADERS.set(None)  # what the provider surfaces for this attempt
        dep.in_flight += 1
        return time.perf_counter()

    def _count_tokens(self, dep: Deployment, tokens: tuple[int, int]) -> None:
        """The tokens of an answered request, counted off the request path."""
        if dep.limited and (tokens[0] or tokens[1]):
            task = asyncio.get_running_loop().create_task(self.deployments.usage.add(dep.id, 0, sum(tokens)))
            self._background.add(task)
            task.add_done_callback(self._background.discard)


def _from_cache(ctx: RequestContext, hit: JSON, extra: dict[str, str], meta: JSON | None = None) -> Response:
    """A cached response: costs nothing, saves what the route's most expensive model would have cost."""
    model = hit.get("model", ctx.chosen)
    tokens = usage_tokens(hit.get("usage"))
    _, counterfactual = ctx.costs(model, tokens)
    headers = {**ctx.headers_for(model), **extra, "x-wayfare-cost-usd": "0", "x-wayfare-saved-usd": fmt(counterfactual)}
    ctx.log(status=200, model=model, attempts=[], tokens=tokens, cost=0.0, counterfactual=counterfactual,
            cache_hit=True, extra=meta)  # fmt: skip
    return Response(orjson.dumps(hit), media_type=_JSON, headers=headers)
