"""`SemanticCache`: reuse a cached chat answer for a prompt that means the same thing.

A request may be answered from the cache when its requested model or route is listed in
``governance.cache.semantic.routes``, it is a non-streaming chat completion, and its temperature is 0 (unless
``force``). Its *bucket* is a hash of everything that must match exactly: the served model, the caller (unless
``share_across_keys``), the embedder, the numbers and the number of negations in the text (``exact_numbers``,
``exact_negations``), and the whole request body (system prompt, earlier turns, tools,
response_format, max_tokens, ...) with the last user message's text blanked out. Its *text* is what the route's
router scores (``prompt_text`` with the route's ``context``; the last user message for a plain model). A cached
entry of the same bucket whose text embeds within ``threshold`` cosine similarity answers the request.

The embedding is shared with the router (:mod:`wayfare.cache.vectors`): a routed prompt is embedded once, by the
router in its scoring thread, and the cache reads the vector from memory. Otherwise the cache embeds the text
through a :class:`~wayfare.gateway.batching.ScoreBatcher` (inline when cheap, else in a worker thread).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from wayfare.cache.config import SemanticCacheConfig
from wayfare.cache.store import JSON, MemoryStore, RedisStore, SemanticStore
from wayfare.cache.vectors import RecentVectors, open_shared
from wayfare.embed.catalogue import DEFAULT_MODEL
from wayfare.gateway.batching import ScoreBatcher
from wayfare.gateway.context import caller_id
from wayfare.gateway.routing import prompt_text
from wayfare.governance.cache import IGNORED_FIELDS

if TYPE_CHECKING:
    from wayfare.gateway.context import RequestContext
    from wayfare.gateway.core import Gateway

ROUTER_TOKENS = 128
"""Token budget when neither the config nor a router names one (the shipped routers' budget)."""


def last_user_index(messages: list[Any]) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if isinstance(m, dict) and m.get("role") == "user":
            return i
    return None


def blank_last_user(messages: list[Any]) -> list[Any]:
    """``messages`` with the text of the last user message emptied (its other parts, e.g. images, kept)."""
    i = last_user_index(messages)
    if i is None:
        return messages
    m = dict(messages[i])
    content = m.get("content")
    if isinstance(content, list):
        m["content"] = [{**p, "text": ""} if isinstance(p, dict) and p.get("type") == "text" else p for p in content]
    else:
        m["content"] = ""
    return [*messages[:i], m, *messages[i + 1 :]]


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NEGATION = re.compile(r"\b(?:not|no|never|none|nothing|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE)


def guards(text: str, numbers: bool, negations: bool) -> list[Any]:
    """What of the text must match exactly: its numbers in order, how many negations it has."""
    return [
        _NUMBER.findall(text) if numbers else None,
        len(_NEGATION.findall(text)) if negations else None,
    ]


def bucket_key(body: dict[str, Any], served: str, caller: str | None, space: str, exact: Sequence[Any] = ()) -> str:
    """Hash of what must match exactly for an answer to be reused (module docstring)."""
    kept = {k: v for k, v in body.items() if k not in IGNORED_FIELDS and k != "model"}
    messages = kept.get("messages")
    if isinstance(messages, list):
        kept["messages"] = blank_last_user(messages)
    head = orjson.dumps([served, caller, space, list(exact)])
    return hashlib.sha256(head + b"\0" + orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


@dataclass(slots=True)
class Target:
    """How one listed model or route is cached: the text it routes on and the embedder."""

    context: str
    embedder: RecentVectors
    batcher: ScoreBatcher


class Probe:
    """The semantic cache's view of one request: look up before the upstream call, store after it."""

    __slots__ = ("bucket", "cache", "error", "similarity", "target", "text", "vector")

    def __init__(self, cache: SemanticCache, target: Target, bucket: str, text: str) -> None:
        self.cache, self.target, self.bucket, self.text = cache, target, bucket, text
        self.vector: Any = None
        self.similarity: float | None = None
        self.error: str | None = None

    async def lookup(self) -> JSON | None:
        """The cached response for a similar enough prompt, or None (the best similarity is kept either way)."""
        emb = self.target.embedder
        vector = emb.recall(self.text)
        if vector is None:
            vector = await self.target.batcher.score(self.text)
        self.vector = np.asarray(vector, dtype=np.float32)
        cfg = self.cache.config
        try:
            self.similarity, hit = await self.cache.store.lookup(emb.name, self.bucket, self.vector, cfg.threshold)
        except Exception as exc:  # a cache must never fail a request (Redis down: every request misses)
            self.error = f"{type(exc).__name__}: {exc}"[:200]
            return None
        return hit

    async def store(self, response: JSON) -> None:
        if self.vector is None or self.error is not None or not response.get("choices"):
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
        targets: dict[str, Target] = {}
        for name in cfg.routes:
            rt = gw.router.routes.get(name)
            context = rt.config.context if rt is not None else "last_user"
            embedder = _embedder(cfg, getattr(rt.scorer, "embedder", None) if rt is not None else None)
            targets[name] = Target(context, embedder, ScoreBatcher(embedder.embed))
        gov = gw.gov
        redis = gov.redis if gov is not None else None
        store: SemanticStore
        if redis is not None:
            store = RedisStore(redis, gw.config.governance.redis_prefix, cfg.max_entries)
        else:
            store = MemoryStore(cfg.max_entries)
        return cls(cfg, targets, store)

    def close(self) -> None:
        for t in self.targets.values():
            t.batcher.close()

    def probe(self, requested: str, ctx: RequestContext) -> Probe | None:
        """The lookup for a request, or None when the semantic cache does not apply to it."""
        target = self.targets.get(requested)
        body = ctx.body
        if target is None or ctx.endpoint != "chat" or body.get("stream"):
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
        return Probe(self, target, bucket_key(body, ctx.chosen, caller, target.embedder.name, exact), text)


def _embedder(cfg: SemanticCacheConfig, router_embedder: Any) -> RecentVectors:
    """The configured embedder; else the router's (shared: its vectors are reused); else static-tl-256."""
    if cfg.embedder is None and isinstance(router_embedder, RecentVectors):
        inner_tokens = router_embedder.name.rpartition(":")[2]
        if cfg.max_tokens is None or str(cfg.max_tokens) == inner_tokens:
            return router_embedder
        return open_shared(router_embedder.name.rpartition(":")[0], cfg.max_tokens)
    return open_shared(cfg.embedder or DEFAULT_MODEL, cfg.max_tokens or ROUTER_TOKENS)
