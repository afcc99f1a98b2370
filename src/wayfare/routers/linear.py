"""Linear probe router: one L2-regularised logistic regression per model on the prompt embedding,
P(model m scores 1 | prompt) = sigmoid(w_m · x + b_m). Fractional scores in [0, 1] are soft labels (each prompt
counts as a positive with weight y and a negative with weight 1 − y), which is exact cross-entropy on y.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.base import Embedder
from wayfare.routers._core import Arrays, BaseRouter, FloatArray, JSONDict

if TYPE_CHECKING:
    from wayfare.data import ResultsTable


def sigmoid(z: NDArray[np.floating[Any]]) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64))), dtype=np.float64)


def fit_soft_logistic(x: Any, y: FloatArray, *, c: float, max_iter: int = 500) -> tuple[NDArray[np.float64], float]:
    """Weights and intercept of a logistic regression on soft labels ``y`` in [0, 1] (NaN rows skipped); ``x`` is a
    dense array or a SciPy sparse matrix (training only: imports scikit-learn)."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    known = ~np.isnan(y)
    xk, yk = x[known], np.clip(y[known], 0.0, 1.0)
    if len(yk) == 0:
        return np.zeros(x.shape[1]), 0.0
    p = float(np.clip(yk.mean(), 1e-4, 1 - 1e-4))
    if yk.min() == yk.max():  # one class only: a constant predictor
        return np.zeros(x.shape[1]), float(np.log(p / (1 - p)))
    xs = sparse.vstack([xk, xk]).tocsr() if sparse.issparse(xk) else np.vstack([xk, xk])
    labels = np.concatenate([np.ones(len(yk)), np.zeros(len(yk))])
    weights = np.concatenate([yk, 1.0 - yk])
    keep = weights > 0
    model = LogisticRegression(C=c, max_iter=max_iter)
    model.fit(xs[keep], labels[keep], sample_weight=weights[keep])
    return np.asarray(model.coef_[0], dtype=np.float64), float(model.intercept_[0])


class LogRegRouter(BaseRouter):
    kind = "logreg"

    def __init__(self, embedder: Embedder | None = None, *, c: float = 1.0, seed: int = 0) -> None:
        super().__init__(embedder, seed=seed)
        if c <= 0:
            raise ValueError(f"c (inverse regularisation) must be > 0, got {c}")
        self.c = c

    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None:
        coefs, intercepts = [], []
        for j in range(y.shape[1]):
            w, b = fit_soft_logistic(x, y[:, j], c=self.c)
            coefs.append(w)
            intercepts.append(b)
        self.coef_ = np.asarray(coefs, dtype=np.float32)
        self.intercept_ = np.asarray(intercepts, dtype=np.float32)

    def _predict(self, x: NDArray[np.float32]) -> FloatArray:
        return sigmoid(x @ self.coef_.T + self.intercept_)

    def _get_state(self) -> tuple[JSONDict, Arrays]:
        return {}, {"coef": self.coef_, "intercept": self.intercept_}

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self.coef_ = arrays["coef"].astype(np.float32)
        self.intercept_ = arrays["intercept"].astype(np.float32)
