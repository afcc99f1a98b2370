"""Item-response-theory router (multidimensional 2PL, the IRT-Router idea): each prompt has a non-negative
discrimination vector a(x) = softplus(x A) and a difficulty d(x) = x · u; each model has an ability vector θ_m and a
bias b_m, and P(model m scores 1 | x) = sigmoid(a(x) · θ_m − d(x) + b_m).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.base import Embedder
from wayfare.routers._core import Arrays, BaseRouter, FloatArray, JSONDict
from wayfare.routers._optim import Params, masked_logistic, minimize_lbfgs
from wayfare.routers.linear import sigmoid

if TYPE_CHECKING:
    from wayfare.data import ResultsTable


def _softplus(z: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
    return np.asarray(np.logaddexp(0.0, z), dtype=np.float64)


class IRTRouter(BaseRouter):
    kind = "irt"

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        dims: int = 8,
        alpha: float = 1e-3,
        max_iter: int = 300,
        seed: int = 0,
    ) -> None:
        super().__init__(embedder, seed=seed)
        if dims < 1:
            raise ValueError(f"dims must be >= 1, got {dims}")
        self.dims = dims
        self.alpha = alpha
        self.max_iter = max_iter

    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None:
        rng = np.random.default_rng(self.seed)
        d, m = x.shape[1], y.shape[1]
        x64 = x.astype(np.float64)
        alpha = self.alpha

        def loss(p: Params) -> tuple[float, Params]:
            pre = x64 @ p["a"]
            disc = _softplus(pre)
            difficulty = x64 @ p["u"]
            logits = disc @ p["theta"].T - difficulty[:, None] + p["b"]
            value, g = masked_logistic(logits, y)
            grad_theta = g.T @ disc + alpha * p["theta"]
            grad_pre = (g @ p["theta"]) * sigmoid(pre)
            grad_a = x64.T @ grad_pre + alpha * p["a"]
            grad_u = -(x64.T @ g.sum(axis=1)) + alpha * p["u"]
            value += 0.5 * alpha * sum(float((p[k] ** 2).sum()) for k in ("a", "u", "theta"))
            return value, {"a": grad_a, "u": grad_u, "theta": grad_theta, "b": g.sum(axis=0)}

        init = {
            "a": rng.normal(0.0, 1.0 / np.sqrt(d), (d, self.dims)),
            "u": np.zeros(d),
            "theta": rng.normal(0.0, 0.1, (m, self.dims)),
            "b": np.zeros(m),
        }
        best = minimize_lbfgs(loss, init, max_iter=self.max_iter)
        self.a_ = best["a"].astype(np.float32)
        self.u_ = best["u"].astype(np.float32)
        self.theta_ = best["theta"].astype(np.float32)
        self.b_ = best["b"].astype(np.float32)

    def _predict(self, x: NDArray[np.float32]) -> FloatArray:
        disc = _softplus(x @ self.a_)
        return sigmoid(disc @ self.theta_.T - (x @ self.u_)[:, None] + self.b_)

    def difficulty(self, x: NDArray[np.float32]) -> FloatArray:
        """The learned difficulty d(x) of embedded prompts (higher = harder for every model)."""
        return np.asarray(x @ self.u_, dtype=np.float64)

    def _get_state(self) -> tuple[JSONDict, Arrays]:
        return {}, {"a": self.a_, "u": self.u_, "theta": self.theta_, "b": self.b_}

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self.a_ = arrays["a"].astype(np.float32)
        self.u_ = arrays["u"].astype(np.float32)
        self.theta_ = arrays["theta"].astype(np.float32)
        self.b_ = arrays["b"].astype(np.float32)
