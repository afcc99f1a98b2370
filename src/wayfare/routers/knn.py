"""k-nearest-neighbour router: a prompt's expected score per model is the mean over its k most similar labelled
prompts (cosine similarity of embeddings), shrunk towards the model's overall mean by ``prior`` pseudo-prompts.

``k="auto"`` picks k from ``k_grid`` (and ``prior="auto"`` the shrinkage from ``prior_grid``) by leave-one-out error
on the training prompts: on the strong-minus-weak gap for a pair table, on every known score otherwise. The error is
measured on at most ``tune_size`` training prompts (a seeded random sample, each scored against all the others), so
tuning costs O(tune_size · n) instead of O(n²): 14,000 MMLU prompts tune in about a second instead of ~50.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.base import Embedder
from wayfare.routers._core import Arrays, BaseRouter, FloatArray, JSONDict, column_means

if TYPE_CHECKING:
    from wayfare.data import ResultsTable

DEFAULT_K_GRID = (5, 10, 20, 40, 80, 160, 320)
DEFAULT_PRIOR_GRID = (1.0, 4.0, 16.0)
DEFAULT_TUNE_SIZE = 2000
_CHUNK = 2048


class KNNRouter(BaseRouter):
    kind = "knn"

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        k: int | str = "auto",
        k_grid: Sequence[int] = DEFAULT_K_GRID,
        prior: float | str = "auto",
        prior_grid: Sequence[float] = DEFAULT_PRIOR_GRID,
        tune_size: int = DEFAULT_TUNE_SIZE,
        seed: int = 0,
    ) -> None:
        super().__init__(embedder, seed=seed)
        if not (k == "auto" or (isinstance(k, int) and k > 0)):
            raise ValueError(f"k must be a positive integer or 'auto', got {k!r}")
        if not (prior == "auto" or (isinstance(prior, (int, float)) and prior >= 0)):
            raise ValueError(f"prior must be a non-negative number or 'auto', got {prior!r}")
        if not (isinstance(tune_size, int) and tune_size > 0):
            raise ValueError(f"tune_size must be a positive integer, got {tune_size!r}")
        self.k = k
        self.tune_size = tune_size
        self.k_grid = list(k_grid)
        self.prior = prior
        self.prior_grid = list(prior_grid)

    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None:
        self.x_ = x.astype(np.float16).astype(np.float32)  # stored as float16: keep what a reload will see
        self.y_ = y.astype(np.float32)
        self.means_ = column_means(y)
        self.k_ = min(int(self.k), len(x)) if self.k != "auto" else 0
        self.prior_ = float(self.prior) if self.prior != "auto" else 1.0
        if self.k == "auto" or self.prior == "auto":
            self.k_, self.prior_ = self._tune(x, y)

    def _tune(self, x: NDArray[np.float32], y: FloatArray) -> tuple[int, float]:
        if self.k == "auto":
            grid = sorted({min(k, len(x) - 1) for k in self.k_grid if k > 0} - {0}) or [1]
        else:
            grid = [min(int(self.k), max(len(x) - 1, 1))]
        priors = [float(p) for p in self.prior_grid] if self.prior == "auto" else [float(self.prior)]
        kmax = grid[-1]
        rows = np.arange(len(x))
        if len(x) > self.tune_size:
            rows = np.sort(np.random.default_rng(self.seed).choice(len(x), self.tune_size, replace=False))
        idx = _top_neighbours(x[rows], x, kmax, exclude=rows)  # leave each sampled prompt out of its own list
        y = y[rows]
        if self.is_pair:
            s, w = self.models_.index(self.strong_), self.models_.index(self.weak_)
            target = y[:, s] - y[:, w]
        best, best_err = (grid[0], priors[0]), np.inf
        for k in grid:
            for prior in priors:
                pred = self._aggregate(self.y_, idx[:, :k], prior)
                if self.is_pair:
                    err = float(np.nanmean((pred[:, s] - pred[:, w] - target) ** 2))
                else:
                    err = float(np.nanmean((pred - y) ** 2))
                if err < best_err:
                    best, best_err = (k, prior), err
        return best

    def _aggregate(self, y: NDArray[np.float32], idx: NDArray[np.intp], prior: float) -> FloatArray:
        ys = y[idx]  # (n, k, m)
        known = ~np.isnan(ys)
        sums = np.where(known, ys, 0.0).sum(axis=1) + prior * self.means_
        counts = known.sum(axis=1) + prior
        return np.asarray(sums / np.maximum(counts, 1e-9), dtype=np.float64)

    def _predict(self, x: NDArray[np.float32]) -> FloatArray:
        idx = _top_neighbours(x, self.x_, self.k_)
        return self._aggregate(self.y_, idx, self.prior_)

    def _get_state(self) -> tuple[JSONDict, Arrays]:
        return {"k": self.k_, "prior": self.prior_}, {
            "x": self.x_.astype(np.float16),
            "y": self.y_,
            "means": self.means_,
        }

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self.k_ = int(state["k"])
        self.prior_ = float(state["prior"])
        self.x_ = arrays["x"].astype(np.float32)
        self.y_ = arrays["y"].astype(np.float32)
        self.means_ = arrays["means"].astype(np.float64)


def _top_neighbours(
    q: NDArray[np.float32], base: NDArray[np.float32], k: int, exclude: NDArray[np.intp] | None = None
) -> NDArray[np.intp]:
    """Indices of the k rows of ``base`` most similar to each row of ``q``, most similar first. ``exclude[i]`` (if
    given) is a row of ``base`` never returned for query i (the query itself, for leave-one-out)."""
    k = min(k, base.shape[0] - (exclude is not None))
    out = np.empty((q.shape[0], k), dtype=np.intp)
    for start in range(0, q.shape[0], _CHUNK):
        sims = q[start : start + _CHUNK] @ base.T
        if exclude is not None:
            chunk = exclude[start : start + _CHUNK]
            sims[np.arange(len(chunk)), chunk] = -np.inf
        if k < base.shape[0]:
            part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:
            part = np.tile(np.arange(k), (sims.shape[0], 1))
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
        out[start : start + _CHUNK] = np.take_along_axis(part, order, axis=1)
    return out
