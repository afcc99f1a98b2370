"""Matrix-factorisation router (RouteLLM's ``mf`` idea): a learned projection of the prompt embedding meets a learned
vector per model, P(model m scores 1 | x) = sigmoid((x W) · v_m + b_m).

The prompt projection ``W`` is shared, so a new model is added from a few hundred labelled prompts with
:meth:`MFRouter.add_model` (fits only its vector and bias).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.base import Embedder
from wayfare.routers._core import Arrays, BaseRouter, FloatArray, JSONDict
from wayfare.routers._optim import Params, masked_logistic, minimize_lbfgs
from wayfare.routers.linear import fit_soft_logistic, sigmoid

if TYPE_CHECKING:
    from wayfare.data import ResultsTable


class MFRouter(BaseRouter):
    kind = "mf"

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        rank: int = 32,
        alpha: float = 1e-3,
        max_iter: int = 300,
        seed: int = 0,
    ) -> None:
        super().__init__(embedder, seed=seed)
        if rank < 1:
            raise ValueError(f"rank must be >= 1, got {rank}")
        self.rank = rank
        self.alpha = alpha
        self.max_iter = max_iter

    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None:
        rng = np.random.default_rng(self.seed)
        d, m = x.shape[1], y.shape[1]
        x64 = x.astype(np.float64)
        alpha = self.alpha

        def loss(p: Params) -> tuple[float, Params]:
            proj = x64 @ p["w"]
            logits = proj @ p["v"].T + p["b"]
            value, g = masked_logistic(logits, y)
            grad_v = g.T @ proj + alpha * p["v"]
            grad_w = x64.T @ (g @ p["v"]) + alpha * p["w"]
            value += 0.5 * alpha * (float((p["w"] ** 2).sum()) + float((p["v"] ** 2).sum()))
            return value, {"w": grad_w, "v": grad_v, "b": g.sum(axis=0)}

        init = {
            "w": rng.normal(0.0, 1.0 / np.sqrt(d), (d, self.rank)),
            "v": rng.normal(0.0, 0.1, (m, self.rank)),
            "b": np.zeros(m),
        }
        best = minimize_lbfgs(loss, init, max_iter=self.max_iter)
        self.w_ = best["w"].astype(np.float32)
        self.v_ = best["v"].astype(np.float32)
        self.b_ = best["b"].astype(np.float32)

    def _predict(self, x: NDArray[np.float32]) -> FloatArray:
        return sigmoid((x @ self.w_) @ self.v_.T + self.b_)

    def add_model(self, name: str, prompts: Sequence[str], scores: Sequence[float], *, c: float = 1.0) -> MFRouter:
        """Learn a vector for a new model from its scores on some prompts, keeping everything else fixed."""
        self._check_fitted()
        if name in self.models_:
            raise ValueError(f"model {name!r} is already routed by this router")
        if len(prompts) != len(scores):
            raise ValueError(f"{len(prompts)} prompts but {len(scores)} scores")
        proj = self.embed(prompts) @ self.w_
        v, b = fit_soft_logistic(proj, np.asarray(scores, dtype=np.float64), c=c)
        self.v_ = np.vstack([self.v_, v.astype(np.float32)[None, :]])
        self.b_ = np.append(self.b_, np.float32(b))
        self.models_ = [*self.models_, name]
        return self

    def _get_state(self) -> tuple[JSONDict, Arrays]:
        return {}, {"w": self.w_, "v": self.v_, "b": self.b_}

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self.w_ = arrays["w"].astype(np.float32)
        self.v_ = arrays["v"].astype(np.float32)
        self.b_ = arrays["b"].astype(np.float32)
