"""``governance.cache.semantic``: which requests the semantic cache may answer, and how alike prompts must be."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_EMBEDDER = "minilm-l6-int8"
MEASURED_THRESHOLDS = {"minilm-l6-int8": 0.985}
"""Default threshold per embedder: the lowest cosine similarity at which the cache (with its number and negation
guards) wrongly answered at most 1% of the hard negatives of bench/data/paraphrase_pairs.jsonl
(bench/semantic_cache_precision.py; docs/GATEWAY.md "Semantic cache"). static-tl-256 has none: it stayed above 1%
up to 0.995 (a bag of token vectors cannot tell "convert A to B" from "convert B to A")."""


class SemanticCacheConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: list[str] = []
    """Requested model or route names whose chat answers may be reused for similar prompts (opt-in; empty: off)."""
    threshold: float | None = Field(default=None, gt=0, le=1)
    """Minimum cosine similarity between the new prompt and a cached one (default: the embedder's measured one)."""
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
    embedder: str = DEFAULT_EMBEDDER
    """Embedding model (``wayfare models list``). When a route's router embeds with the same model and budget, the
    router's vector is reused (the prompt is embedded once)."""
    max_tokens: int = Field(default=128, ge=8, le=512)
    """Token budget of the embedder (128: the shipped routers'). Longer prompts are compared on their first 3/4 and
    last 1/4 of this many tokens."""

    @field_validator("routes")
    @classmethod
    def _routes(cls, routes: list[str]) -> list[str]:
        dupes = sorted({r for r in routes if routes.count(r) > 1})
        if dupes:
            raise ValueError(f"listed twice: {', '.join(dupes)}")
        return routes

    @field_validator("embedder")
    @classmethod
    def _embedder(cls, name: str) -> str:
        from wayfare.embed.catalogue import CATALOGUE, resolve

        try:
            spec = resolve(name)
        except KeyError:
            raise ValueError(f"unknown embedding model {name!r}; choose one of: {', '.join(CATALOGUE)}") from None
        if spec.kind == "package":
            raise ValueError(f"{name!r} is too slow for the request path (25-130 ms a prompt); use minilm-l6-int8")
        return spec.name

    @model_validator(mode="after")
    def _threshold(self) -> SemanticCacheConfig:
        if self.threshold is None and self.routes and self.embedder not in MEASURED_THRESHOLDS:
            raise ValueError(
                f"threshold: no measured default for embedder {self.embedder!r} (measured: "
                f"{', '.join(MEASURED_THRESHOLDS)}); set one, after measuring it with bench/semantic_cache_precision.py"
            )
        return self

    @property
    def min_similarity(self) -> float:
        """The threshold in force (the configured one, else the embedder's measured default)."""
        return self.threshold if self.threshold is not None else MEASURED_THRESHOLDS[self.embedder]
