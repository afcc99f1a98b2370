"""`SemanticCache`: reuse a cached chat answer for a prompt that means the same thing.

A request may be answered from the cache when its requested model or route is listed in
``governance.cache.semantic.routes``, it is a chat completion (a streaming one is answered with the cached answer
replayed as chunks, and a streamed answer is collected and stored: :mod:`wayfare.cache.stream`), and its temperature
is 0 (unless ``force``). Its *bucket* is a hash of everything that must match exactly: the served model, the caller
(unless ``share_across_keys``), the embedder, the numbers and the number of negations in the text (``exact_numbers``,
``exact_negations``), and the whole request body (system prompt, earlier turns, tools,
response_format, max_tokens, ...) with the last user message's text blanked out. Its *text* is what the route's
router scores (``prompt_text`` with the route's ``context``; the last user message for a plain model). A cached
entry of the same bucket whose text embeds within ``threshold`` cosine similarity answers the request.

The embedding is shared with the router (:mod:`wayfare.cache.vectors`): a routed prompt is embedded once, by the
router in its scoring thread, and the cache reads the vector from memory. Otherwise the cache embeds the text
through a :class:`~wayfare.gateway.batching.ScoreBatcher` (inline when cheap, else in a worker thread).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from starlette.responses import StreamingResponse

from wayfare.cache.config import SemanticCacheConfig
from wayfare.cache.keys import bucket_key, guards, last_user_index
from wayfare.cache.store import JSON, MemoryStore, RedisStore, SemanticStore
from wayfare.cache.stream import completion_chunks
from wayfare.cache.vectors import RecentVectors, open_shared
from wayfare.gateway.batching import ScoreBatcher
from wayfare.gateway.context import caller_id, fmt
from wayfare.gateway.cost import usage_tokens
from wayfare.routers.messages import prompt_text

if TYPE_CHECKING:
    from wayfare.gateway.context import RequestContext
    from wayfare.gateway.core import Gateway


@dataclass(slots=True)
class Target:
    """How one listed model or route is cached: the text it routes on and the embedder."""

    context: str
    embedder: RecentVectors
    batcher: ScoreBatcher


class Probe:
    """The semantic cache's view of one request: look up before the upstream call, store after it."""

    __slots__ = ("bucket", "cache", "error", "served", "similarity", "target", "text", "vector")

    def __init__(self, cache: SemanticCache, target: Target, bucket: str, text: str, served: str) -> None:
        self.cache, self.target, self.bucket, self.text, self.served = cache, target, bucket, text, served
        self.vector: Any = None
        self.similarity: float | None = None
        self.error: str | None = None

    async def lookup(self) -> JSON | None:
        """The cached response for a similar enough prompt, or None (the best similarity is kept either way)."""
        emb = self.target.embedder
        cfg = self.cache.config
        try:
            vector = emb.recall(self.text)
            if vector is None:
                vector = await self.target.batcher.score(self.text)
            self.vector = np.asarray(vector, dtype=np.float32)
            self.similarity, hit = await self.cache.store.lookup(emb.name, self.bucket, self.vector, cfg.min_similarity)
        except Exception as exc:  # a cache must never fail a request (Redis down: every request misses)
            self.error = f"{type(exc).__name__}: {exc}"[:200]
            return None
        return hit

    async def store(self, response: JSON) -> None:
        """Keep an answer of the model the bucket is for (not a fallback's: the next request would not get it)."""
        if self.vector is None or self.error is not None or not response.get("choices"):
            return
        if response.get("model") != self.served:
            return
        try:
            await self.cache.store.put(
                self.target.embedder.name, self.bucket, self.vector, response, self.cache.config.ttl_s
            )
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"[:200]

    def metadata(self, hit: bool) -> dict[str, Any]:
        """What the request log records about the lookup."""
        meta: dict[str, Any] = {"cache": "semantic" if hit else "semantic-miss"}
        if self.similarity is not None:
            meta["cache_similarity"] = round(self.similarity, 4)
        if self.error is not None:
            meta["cache_error"] = self.error
        return meta


class SemanticCache:
    def __init__(self, config: SemanticCacheConfig, targets: dict[str, Target], store: SemanticStore) -> None:
        self.config, self.targets, self.store = config, targets, store

    @classmethod
    def for_gateway(cls, gw: Gateway) -> SemanticCache | None:
        """None unless ``governance.cache.semantic.routes`` lists something."""
        cfg = gw.config.governance.cache.semantic
        if not cfg.routes:
            return None
        embedder = open_shared(cfg.embedder, cfg.max_tokens)  # the router's own instance when it uses the same
        batcher = ScoreBatcher(embedder.embed)  # one worker thread for all listed names
        targets: dict[str, Target] = {}
        for name in cfg.routes:
            rt = gw.router.routes.get(name)
            targets[name] = Target(rt.config.context if rt is not None else "last_user", embedder, batcher)
        gov = gw.gov
        redis = gov.redis if gov is not None else None
        store: SemanticStore
        if redis is not None:
            store = RedisStore(redis, gw.config.governance.redis_prefix, cfg.max_entries)
        else:
            store = MemoryStore(cfg.max_entries)
        return cls(cfg, targets, store)

    def close(self) -> None:
        for batcher in {id(t.batcher): t.batcher for t in self.targets.values()}.values():
            batcher.close()

    def probe(self, requested: str, ctx: RequestContext) -> Probe | None:
        """The lookup for a request, or None when the semantic cache does not apply to it."""
        target = self.targets.get(requested)
        body = ctx.body
        if target is None or ctx.endpoint != "chat":
            return None
        temperature = body.get("temperature")
        if not self.config.force and (
            temperature is None or not isinstance(temperature, int | float) or temperature > 0
        ):
            return None
        messages = body.get("messages")
        if not isinstance(messages, list) or last_user_index(messages) is None:
            return None
        text = prompt_text(messages, target.context)
        if not text.strip():
            return None
        caller = None if self.config.share_across_keys else caller_id(ctx.principal, ctx.request_headers)
        exact = guards(text, self.config.exact_numbers, self.config.exact_negations)
        bucket = bucket_key(body, ctx.chosen, caller, target.embedder.name, exact)
        return Probe(self, target, bucket, text, ctx.chosen)


def stream_hit(ctx: RequestContext, hit: JSON, probe: Probe, include_usage: bool) -> StreamingResponse:
    """A cached answer to a streaming request, replayed as chunks (costs nothing; saves what the route's most
    expensive model would have cost)."""
    model = str(hit.get("model", ctx.chosen))
    tokens = usage_tokens(hit.get("usage"))
    _, counterfactual = ctx.costs(model, tokens)
    headers = {**ctx.headers_for(model), "x-wayfare-cache": "semantic-hit",
               "x-wayfare-cache-similarity": f"{probe.similarity:.4f}", "x-wayfare-cost-usd": "0",
               "x-wayfare-saved-usd": fmt(counterfactual)}  # fmt: skip
    ctx.log(status=200, model=model, attempts=[], tokens=tokens, cost=0.0, counterfactual=counterfactual,
            cache_hit=True, stream=True, extra=probe.metadata(True))  # fmt: skip
    frames = [b"data: " + orjson.dumps(c) + b"\n\n" for c in completion_chunks(hit, include_usage)]

    async def replay() -> AsyncIterator[bytes]:
        for frame in frames:
            yield frame
        yield b"data: [DONE]\n\n"

    return StreamingResponse(replay(), media_type="text/event-stream", headers=headers)
