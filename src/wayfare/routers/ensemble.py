"""Ensemble router: the mean of a kNN router's and a lexical linear probe's predicted scores.

- ``knn`` (:class:`~wayfare.routers.knn.KNNRouter`, tuned k) on the embedding: the neighbourhood's mean scores, a
  topic-level prior;
- ``logreg`` (:class:`~wayfare.routers.linear.LogRegRouter`) on the embedding concatenated with standardised
  lexical features (:mod:`wayfare.routers.text_features`: lengths, digits, math symbols, answer options), scaled by
  ``feature_scale``: per-prompt difficulty signal the embedding misses.

``knn_weight=0`` keeps the probe alone (no kNN is fitted or stored): a 20 KB router scoring in ~0.05 ms.
Predictions are ``knn_weight`` × kNN + (1 − ``knn_weight``) × probe, per model, so a pair score stays
P(strong does better) + ½ P(tie) and N-model routing works unchanged. The router reads the prompt text
(``needs_text``): the vector-level methods take ``prompts=`` next to the embeddings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.base import Embedder
from wayfare.routers._core import Arrays, BaseRouter, FloatArray, JSONDict, load_members, members_state, standardise
from wayfare.routers.knn import KNNRouter
from wayfare.routers.linear import LogRegRouter
from wayfare.routers.text_features import FEATURE_NAMES, feature_matrix

if TYPE_CHECKING:
    from wayfare.data import ResultsTable


class EnsembleRouter(BaseRouter):
    kind = "ensemble"
    needs_text = True

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        knn_weight: float = 0.5,
        c: float = 0.3,
        feature_scale: float = 0.15,
        k: int | str = "auto",
        seed: int = 0,
    ) -> None:
        super().__init__(embedder, seed=seed)
        if not 0.0 <= knn_weight <= 1.0:
            raise ValueError(f"knn_weight must be in [0, 1], got {knn_weight}")
        if feature_scale < 0:
            raise ValueError(f"feature_scale must be >= 0, got {feature_scale}")
        self.knn_weight = knn_weight
        self.c = c
        self.feature_scale = feature_scale
        self.k = k
        self._members()  # validates c and k

    def _members(self) -> tuple[KNNRouter, LogRegRouter]:
        return KNNRouter(k=self.k, seed=self.seed), LogRegRouter(c=self.c, seed=self.seed)

    def _probe_input(self, x: NDArray[np.float32], prompts: Sequence[str]) -> NDArray[np.float32]:
        return self._probe_input_from(x, feature_matrix(prompts))

    def _probe_input_from(self, x: NDArray[np.float32], features: FloatArray) -> NDArray[np.float32]:
        f = (features - self.feature_mean_) / self.feature_std_
        return np.hstack([x, self.feature_scale * f]).astype(np.float32)

    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None:
        self.feature_mean_, self.feature_std_ = standardise(feature_matrix(table.prompts))
        self.knn_, self.probe_ = self._members()
        if self.knn_weight > 0:  # knn_weight=0: the lexical probe alone (small and fast: no stored prompts)
            self.knn_.fit_vectors(x, table)
        self.probe_.fit_vectors(self._probe_input(x, table.prompts), table)

    def _predict(self, x: NDArray[np.float32]) -> FloatArray:
        raise ValueError("the ensemble router also reads the prompt text: pass prompts=...")  # needs_text guards it

    def _predict_text(self, x: NDArray[np.float32], prompts: Sequence[str]) -> FloatArray:
        return self.predict_with_features(x, feature_matrix(prompts))

    def predict_with_features(self, x: NDArray[np.float32], features: FloatArray) -> FloatArray:
        """``predict_vectors`` given the prompts' lexical features (:func:`feature_matrix`) instead of their text, for
        a composite router that computes them once for several members."""
        probe = self.probe_.predict_vectors(self._probe_input_from(x, features))
        if self.knn_weight == 0:
            return probe
        knn = self.knn_.predict_vectors(x)
        return self.knn_weight * knn + (1.0 - self.knn_weight) * probe

    def _get_state(self) -> tuple[JSONDict, Arrays]:
        state, arrays = members_state(self._fitted_members())
        arrays.update(feature_mean=self.feature_mean_, feature_std=self.feature_std_)
        return {**state, "features": list(FEATURE_NAMES)}, arrays

    def _fitted_members(self) -> dict[str, BaseRouter]:
        return {"knn": self.knn_, "probe": self.probe_} if self.knn_weight > 0 else {"probe": self.probe_}

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        if list(state.get("features", [])) != list(FEATURE_NAMES):
            raise ValueError("the artifact's lexical features differ from this wayfare's (retrain the router)")
        self.knn_, self.probe_ = self._members()
        load_members(self._fitted_members(), self.models_, state, arrays)
        self.feature_mean_ = arrays["feature_mean"].astype(np.float64)
        self.feature_std_ = arrays["feature_std"].astype(np.float64)
