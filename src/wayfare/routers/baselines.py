"""Baselines: ``random`` (a uniform random score, the APGR ≈ 0.5 floor) and ``oracle`` (the true scores looked up
by prompt text: the ceiling, usable only on prompts whose results are known)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.base import Embedder
from wayfare.routers._core import Arrays, BaseRouter, FloatArray, JSONDict

if TYPE_CHECKING:
    from wayfare.data import ResultsTable


class RandomRouter(BaseRouter):
    """Scores are uniform in [0, 1], a fixed function of (seed, prompt text or its embedding): repeatable and
    independent of the labels."""

    kind = "random"
    needs_embedder = False

    def __init__(self, embedder: Embedder | None = None, *, seed: int = 0) -> None:
        super().__init__(embedder, seed=seed)

    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None:
        pass

    def _predict(self, x: NDArray[np.float32]) -> FloatArray:
        return self._draw([row.tobytes() for row in np.ascontiguousarray(x)])

    def _predict_prompts(self, prompts: Sequence[str]) -> FloatArray:
        return self._draw([p.encode() for p in prompts])

    def _draw(self, keys: Sequence[bytes]) -> FloatArray:
        out = np.empty((len(keys), len(self.models_)))
        for i, key in enumerate(keys):
            digest = hashlib.blake2b(key, digest_size=8, salt=self.seed.to_bytes(8, "little", signed=True)).digest()
            out[i] = np.random.default_rng(int.from_bytes(digest, "little")).random(len(self.models_))
        return out

    def _get_state(self) -> tuple[JSONDict, Arrays]:
        return {}, {}

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        pass


class OracleRouter(BaseRouter):
    """Returns the known scores of a prompt. ``reference`` (constructor) is the table to look prompts up in; by
    default the table it was fitted on. Unknown prompts are an error: an oracle cannot generalise."""

    kind = "oracle"
    needs_embedder = False

    def __init__(
        self, embedder: Embedder | None = None, *, reference: ResultsTable | None = None, seed: int = 0
    ) -> None:
        super().__init__(embedder, seed=seed)
        self.reference = reference

    def get_params(self) -> JSONDict:
        return {"seed": self.seed}

    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None:
        ref = self.reference if self.reference is not None else table
        cols = [ref.model_index(m) for m in self.models_]
        self.lookup_ = {p: ref.scores[i, cols] for i, p in enumerate(ref.prompts)}

    def _predict(self, x: NDArray[np.float32]) -> FloatArray:
        raise ValueError("the oracle works on prompt text: call predict(prompts)")

    def _predict_prompts(self, prompts: Sequence[str]) -> FloatArray:
        rows = []
        for p in prompts:
            if p not in self.lookup_:
                raise KeyError(f"oracle has no results for prompt {p[:60]!r}")
            rows.append(np.nan_to_num(self.lookup_[p], nan=0.0))
        return np.asarray(rows, dtype=np.float64).reshape(len(prompts), len(self.models_))

    def score_from_predictions(self, pred: FloatArray) -> FloatArray:
        """1 when the strong model scores strictly higher, else 0 (route weak when the weak is as good)."""
        s, w = self.models_.index(self.strong_), self.models_.index(self.weak_)
        return np.asarray(pred[:, s] > pred[:, w], dtype=np.float64)

    def _get_state(self) -> tuple[JSONDict, Arrays]:
        raise ValueError("an oracle holds the answers and is not saved as a router artifact")

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        raise ValueError("an oracle cannot be loaded")
