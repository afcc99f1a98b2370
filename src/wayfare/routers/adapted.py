"""Adapted router: a fitted router's per-prompt predictions as features, one small ridge head per model of a new
table. It routes among models the base router never saw (``wayfare adapt``, docs/ROUTERS.md).

A shipped N-model router such as ``default-n`` predicts the scores of the models it was trained on; a user's own
models are different ones. Given a small graded sample of the user's prompts (every model's score on each), this
router

1. computes the base routers' outputs on each prompt, h(x): an N-model base gives its predicted score of each of its
   models, a pair base its score (P(strong needed), e.g. the ``default`` difficulty score); features are
   standardised on the sample;
2. fits, for each of the user's models m, a ridge regression score_m(x) ≈ a_m + b_m · h(x) on that model's graded
   prompts (the intercept is not penalised). The penalty ``alpha`` (per graded prompt) is one number for all models,
   chosen by exact leave-one-out squared error over a grid that includes "infinite" (b_m = 0: each model's mean
   score), so with little or no signal in h(x) it falls back to the per-model means;
3. predicts a_m + b_m · h(x), clipped to [0, 1].

``prompt_features=False`` is the honest baseline: each model's mean score on the sample, the same for every prompt.
The base routers' fitted state is stored inside the artifact, so it loads without them. Inference is the bases'
own (NumPy) inference plus one (features × models) product.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.base import Embedder
from wayfare.routers._core import Arrays, BaseRouter, FloatArray, JSONDict, router_of_kind, standardise
from wayfare.routers.artifact import load_router

if TYPE_CHECKING:
    from wayfare.data import ResultsTable

MIN_GRADED = 20
"""Fewest graded prompts per model that ``fit`` accepts (50-100 are what the heads are meant for)."""
ALPHA_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, float("inf"))
"""Ridge penalties per graded prompt tried by ``alpha="auto"``; ``inf`` is the per-model mean."""


def ridge_head(z: FloatArray, y: FloatArray, alpha: float) -> tuple[FloatArray, float, FloatArray]:
    """Ridge fit of ``y`` on ``z`` with an unpenalised intercept and penalty ``alpha * len(y)``.

    Returns (slopes, intercept, leave-one-out residuals); the residuals are exact (hat-matrix shortcut)."""
    n = len(y)
    y_mean = float(y.mean())
    if not np.isfinite(alpha) or z.shape[1] == 0:
        return np.zeros(z.shape[1]), y_mean, (y - y_mean) * n / max(n - 1, 1)
    z_mean = z.mean(axis=0)
    zc = z - z_mean
    gram = zc.T @ zc + alpha * n * np.eye(z.shape[1])
    inv = np.linalg.inv(gram)
    w = inv @ (zc.T @ (y - y_mean))
    fitted = y_mean + zc @ w
    hat = 1.0 / n + np.einsum("ij,jk,ik->i", zc, inv, zc)
    loo = (y - fitted) / np.maximum(1.0 - hat, 1e-9)
    return w, y_mean - float(z_mean @ w), loo


class AdaptedRouter(BaseRouter):
    kind = "adapted"
    needs_text = True  # the bases may read the prompt text (the task router does)

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        bases: Sequence[str] = ("default-n",),
        alpha: float | str = "auto",
        prompt_features: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(embedder, seed=seed)
        if isinstance(bases, str) or not bases:
            raise ValueError("bases must be a non-empty list of router folders or shipped names, e.g. ['default-n']")
        if alpha != "auto" and alpha != "inf" and not (isinstance(alpha, int | float) and alpha >= 0):
            raise ValueError(f"alpha must be 'auto' or a number >= 0, got {alpha!r}")
        self.bases = [str(b) for b in bases]
        # an infinite penalty is kept as the string "inf", so router.json stays standard JSON
        self.alpha = "inf" if isinstance(alpha, int | float) and math.isinf(alpha) else alpha
        self.prompt_features = bool(prompt_features)

    # ------------------------------------------------------------------ bases
    def set_bases(self, routers: Sequence[BaseRouter]) -> AdaptedRouter:
        """Use these fitted routers as the bases instead of loading ``bases`` by name when fitting."""
        if not routers:
            raise ValueError("set_bases needs at least one fitted router")
        self.base_routers_ = list(routers)
        if self.embedder is None:  # the bases' embedder reads the prompts (``fit`` / ``predict`` embed with it)
            self.embedder = self.base_routers_[0].embedder
        return self

    def _load_bases(self) -> list[BaseRouter]:
        if getattr(self, "base_routers_", None) is None:
            self.base_routers_ = [load_router(b, embedder=self.embedder) for b in self.bases]
        names = {r.embedder_name_ for r in self.base_routers_}
        if len(names) > 1:
            raise ValueError(f"the base routers use different embedders ({', '.join(sorted(map(str, names)))})")
        first = self.base_routers_[0]
        if self.embedder is None:
            self.embedder = first.embedder
        if self.embedder_name_ is None:
            self.embedder_name_, self.embedder_dim_ = first.embedder_name_, first.embedder_dim_
        return self.base_routers_

    def base_features(self, x: NDArray[np.floating[Any]], prompts: Sequence[str]) -> FloatArray:
        """h(x): the bases' outputs side by side (an N-model base's predicted scores, a pair base's score)."""
        cols = []
        for r in self._load_bases():
            out = r.score_vectors(x, prompts)[:, None] if r.is_pair else r.predict_vectors(x, prompts)
            cols.append(np.asarray(out, dtype=np.float64))
        return np.hstack(cols)

    # ------------------------------------------------------------------ fit / predict
    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None:
        if y.shape[1] < 2:
            raise ValueError(f"adapting routes among models: {table.name} has {y.shape[1]} model (needs at least 2)")
        known = ~np.isnan(y)
        counts = known.sum(axis=0)
        if counts.min() < MIN_GRADED:
            few = ", ".join(f"{m} ({int(c)})" for m, c in zip(table.models, counts, strict=True) if c < MIN_GRADED)
            raise ValueError(
                f"too few graded prompts in {table.name}: {few}; each model needs at least {MIN_GRADED} "
                "(50-100 are recommended)"
            )
        if self.prompt_features:
            h = self.base_features(x, table.prompts)
            self.feature_mean_, self.feature_std_ = standardise(h)
            z = (h - self.feature_mean_) / self.feature_std_
        else:
            self._load_bases()
            z = np.zeros((len(table), 0))
            self.feature_mean_ = self.feature_std_ = np.zeros(0)
        grid = ALPHA_GRID if self.alpha == "auto" else (float(self.alpha),)
        if not self.prompt_features:
            grid = (float("inf"),)
        loo_mse = {}
        for a in (*grid, float("inf")):  # the per-model means' error is always reported, for comparison
            sq = [ridge_head(z[known[:, j]], y[known[:, j], j], a)[2] ** 2 for j in range(y.shape[1])]
            loo_mse[a] = float(np.mean(np.concatenate(sq)))
        self.alpha_ = min(grid, key=lambda a: loo_mse[a])  # the first (smallest) on ties
        heads = [ridge_head(z[known[:, j]], y[known[:, j], j], self.alpha_) for j in range(y.shape[1])]
        self.coef_ = np.asarray([w for w, _, _ in heads], dtype=np.float64).reshape(y.shape[1], z.shape[1])
        self.intercept_ = np.asarray([b for _, b, _ in heads], dtype=np.float64)
        self.loo_mse_ = {("inf" if not np.isfinite(a) else f"{a:g}"): round(v, 6) for a, v in loo_mse.items()}

    def _predict(self, x: NDArray[np.float32]) -> FloatArray:
        raise ValueError("the adapted router's bases read the prompt text: pass prompts=...")  # needs_text guards it

    def _predict_text(self, x: NDArray[np.float32], prompts: Sequence[str]) -> FloatArray:
        if not self.prompt_features:
            return np.repeat(self.intercept_[None, :], x.shape[0], axis=0)
        z = (self.base_features(x, prompts) - self.feature_mean_) / self.feature_std_
        return np.asarray(np.clip(z @ self.coef_.T + self.intercept_, 0.0, 1.0), dtype=np.float64)

    # ------------------------------------------------------------------ state
    def _get_state(self) -> tuple[JSONDict, Arrays]:
        state: JSONDict = {
            "alpha": "inf" if not np.isfinite(self.alpha_) else self.alpha_,
            "loo_mse": self.loo_mse_,
            "bases": [],
        }
        arrays: Arrays = {
            "coef": self.coef_,
            "intercept": self.intercept_,
            "feature_mean": self.feature_mean_,
            "feature_std": self.feature_std_,
        }
        for i, r in enumerate(self.base_routers_):
            base_state, base_arrays = r._get_state()
            state["bases"].append(
                {
                    "kind": r.kind,
                    "params": r.get_params(),
                    "models": r.models_,
                    "strong": getattr(r, "strong_", None),
                    "weak": getattr(r, "weak_", None),
                    "embedder": r.embedder_name_,
                    "state": base_state,
                }
            )
            arrays.update({f"base{i}.{k}": v for k, v in base_arrays.items()})
        return state, arrays

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        bases: list[BaseRouter] = []
        for i, spec in enumerate(state["bases"]):
            r = router_of_kind(str(spec["kind"]))(embedder=self.embedder, **dict(spec["params"]))
            r.models_ = [str(m) for m in spec["models"]]
            if spec.get("strong") and spec.get("weak"):
                r.strong_, r.weak_ = str(spec["strong"]), str(spec["weak"])
            r.embedder_name_, r.embedder_dim_ = spec.get("embedder"), self.embedder_dim_
            prefix = f"base{i}."
            r._set_state(spec["state"], {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)})
            bases.append(r)
        self.base_routers_ = bases
        self.alpha_ = float(state["alpha"])
        self.loo_mse_ = dict(state.get("loo_mse") or {})
        self.coef_ = arrays["coef"].astype(np.float64)
        self.intercept_ = arrays["intercept"].astype(np.float64)
        self.feature_mean_ = arrays["feature_mean"].astype(np.float64)
        self.feature_std_ = arrays["feature_std"].astype(np.float64)
