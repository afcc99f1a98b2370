"""Similarity-weighted ranking router (RouteLLM's ``sw_ranking`` idea): for a new prompt, the labelled battles are
weighted by how similar their prompts are (exp(temperature × (cos − max cos)) over the ``neighbours`` most similar
prompts) and a Bradley-Terry (Elo) model is fitted to those weighted battles, shrunk towards the global ratings.

``score`` = P(strong beats weak) under the local ratings; ``predict`` = P(model beats a random other model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.base import Embedder
from wayfare.routers._core import Arrays, BaseRouter, FloatArray, JSONDict
from wayfare.routers.battles import Battles, battles_from_table
from wayfare.routers.knn import _top_neighbours
from wayfare.routers.linear import sigmoid

if TYPE_CHECKING:
    from wayfare.data import ResultsTable


def bradley_terry(
    wins: NDArray[np.float64], prior: NDArray[np.float64], strength: float, iters: int = 15
) -> NDArray[np.float64]:
    """Ratings (n, m) maximising Σ wins[a,b] log σ(r_a − r_b) − strength/2 ‖r − prior‖² for each of n win matrices
    (n, m, m), by Newton's method."""
    n, m, _ = wins.shape
    games = wins + wins.transpose(0, 2, 1)
    r = np.broadcast_to(prior, (n, m)).copy()
    eye = np.eye(m)
    for _ in range(iters):
        p = sigmoid(r[:, :, None] - r[:, None, :])  # P(a beats b)
        grad = (wins - games * p).sum(axis=2) - strength * (r - prior)
        c = games * p * (1.0 - p)
        hess = c - eye * c.sum(axis=2)[:, :, None] - strength * eye
        r = r - np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
    return r


class SWRankingRouter(BaseRouter):
    kind = "sw_ranking"

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        temperature: float = 20.0,
        neighbours: int = 256,
        prior_strength: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__(embedder, seed=seed)
        self.temperature = temperature
        self.neighbours = neighbours
        self.prior_strength = prior_strength

    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None:
        self._fit_battles(x, battles_from_table(table))

    def fit_battles(self, battles: Battles) -> SWRankingRouter:
        """Learn from preference battles directly (models in the order they first appear)."""
        self.models_ = list(battles.models)
        if self.embedder is not None:
            self.embedder_name_, self.embedder_dim_ = self.embedder.name, self.embedder.dim
        self._fit_battles(self.embed(battles.prompts), battles)
        self.training_ = {"table": "battles", "n_prompts": len(battles), "n_models": len(battles.models)}
        return self

    def _fit_battles(self, x: NDArray[np.float32], battles: Battles) -> None:
        m = len(battles.models)
        self.x_ = x.astype(np.float16).astype(np.float32)
        self.wins_ = battles.wins.reshape(len(battles), m * m).astype(np.float16)
        total = battles.wins.sum(axis=0, dtype=np.float64)[None]
        self.global_ = bradley_terry(total, np.zeros(m), 1e-3, iters=30)[0]

    def ratings(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """Local Bradley-Terry ratings (n, n_models) for embedded prompts."""
        m = len(self.models_)
        idx = _top_neighbours(x, self.x_, self.neighbours)
        sims = np.take_along_axis(x @ self.x_.T, idx, axis=1) if len(x) else np.zeros((0, idx.shape[1]))
        weights = np.exp(self.temperature * (sims - sims.max(axis=1, keepdims=True)))
        local = np.einsum("nk,nkj->nj", weights, self.wins_[idx].astype(np.float64)).reshape(-1, m, m)
        return bradley_terry(local, self.global_, self.prior_strength)

    def _predict(self, x: NDArray[np.float32]) -> FloatArray:
        r = self.ratings(x)
        m = r.shape[1]
        p = sigmoid(r[:, :, None] - r[:, None, :])
        return np.asarray((p.sum(axis=2) - 0.5) / max(m - 1, 1), dtype=np.float64)

    def score_vectors(self, x: NDArray[np.floating[Any]], prompts: Sequence[str] | None = None) -> FloatArray:
        self._check_pair()
        r = self.ratings(np.asarray(x, dtype=np.float32))
        s, w = self.models_.index(self.strong_), self.models_.index(self.weak_)
        return sigmoid(r[:, s] - r[:, w])

    def _get_state(self) -> tuple[JSONDict, Arrays]:
        return {}, {"x": self.x_.astype(np.float16), "wins": self.wins_, "global": self.global_}

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self.x_ = arrays["x"].astype(np.float32)
        self.wins_ = arrays["wins"].astype(np.float16)
        self.global_ = arrays["global"].astype(np.float64)
