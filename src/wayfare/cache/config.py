"""``governance.cache.semantic``: which requests the semantic cache may answer, and how alike prompts must be."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_THRESHOLD = 0.95
"""Cosine similarity a cached prompt must reach: the lowest threshold whose false-hit rate on the hard negatives of
bench/data/paraphrase_pairs.jsonl stayed at or below 1% for static-tl-256 (bench/semantic_cache_precision.py)."""


class SemanticCacheConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: list[str] = []
    """Requested model or route names whose chat answers may be reused for similar prompts (opt-in; empty: off)."""
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0, le=1)
    """Minimum cosine similarity between the new prompt and a cached one."""
    ttl_s: float = Field(default=300.0, gt=0)
    max_entries: int = Field(default=10_000, gt=0, le=1_000_000)
    """Entries each replica keeps in its index (least recently used go first)."""
    share_across_keys: bool = False
    """Reuse answers across virtual keys (callers); by default every key has its own cache."""
    force: bool = False
    """Reuse answers even when temperature > 0 (a missing temperature counts as OpenAI's default, 1)."""
    exact_numbers: bool = True
    """Prompts must contain the same numbers (in order) to share an answer: an embedding barely moves when "3 apples"
    becomes "4 apples", the answer does."""
    exact_negations: bool = True
    """Prompts must contain the same negations (not, no, never, n't, without, ...) to share an answer."""
    embedder: str | None = None
    """Embedding model (``wayfare models list``); default: the route's router embedder, else ``static-tl-256``."""
    max_tokens: int | None = Field(default=None, ge=8, le=8192)
    """Token budget of the embedder (default: the router's, else 128). Long prompts are compared on their first 3/4
    and last 1/4 of this many tokens."""

    @field_validator("routes")
    @classmethod
    def _routes(cls, routes: list[str]) -> list[str]:
        dupes = sorted({r for r in routes if routes.count(r) > 1})
        if dupes:
            raise ValueError(f"listed twice: {', '.join(dupes)}")
        return routes

    @field_validator("embedder")
    @classmethod
    def _embedder(cls, name: str | None) -> str | None:
        if name is None:
            return None
        from wayfare.embed.catalogue import CATALOGUE, resolve

        try:
            spec = resolve(name)
        except KeyError:
            raise ValueError(f"unknown embedding model {name!r}; choose one of: {', '.join(CATALOGUE)}") from None
        if spec.kind == "package":
            raise ValueError(f"{name!r} is too slow for the request path (25-130 ms a prompt); use static-tl-256")
        return spec.name
