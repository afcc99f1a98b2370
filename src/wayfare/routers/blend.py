"""Blend router: a weighted mean of three differently-informed predictors of each model's score.

- ``probe``: a logistic probe (:class:`~wayfare.routers.linear.LogRegRouter`, ``c``) on the embedding plus the 18
  standardised lexical features (:mod:`~wayfare.routers.text_features`, × ``feature_scale``) plus 8 answer-option
  geometry features (:mod:`~wayfare.routers.option_features`, × ``option_scale``; the stem and each option are
  embedded separately, so multiple-choice prompts cost a second embedding call);
- ``knn`` (weight ``knn_weight``): the mean scores of the most similar training prompts (topic prior);
- ``tfidf`` (weight ``tfidf_weight``): one logistic regression per model (``tfidf_c``) on TF-IDF word 1-2-grams and
  character 3-5-grams (:mod:`~wayfare.routers.tfidf`): exact-term evidence that a 384-d embedding blurs.

The probe gets the remaining weight. Predictions are per model, so pair scores are (1 + p_strong − p_weak) / 2 as
everywhere and N-model routing works too. This is the best pair router on RouteLLM MMLU and GSM8K held-out folds
(docs/ROUTERS.md); it is not a serving default: it stores every training prompt (kNN), a TF-IDF vocabulary, and
embeds a multiple-choice prompt twice. Fitting needs scikit-learn; inference needs only NumPy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.base import Embedder
from wayfare.routers._core import Arrays, BaseRouter, FloatArray, JSONDict, load_members, members_state, standardise
from wayfare.routers.knn import KNNRouter
from wayfare.routers.linear import LogRegRouter, sigmoid
from wayfare.routers.option_features import OPTION_FEATURE_NAMES, option_features
from wayfare.routers.text_features import FEATURE_NAMES, feature_matrix
from wayfare.routers.tfidf import TfidfVocabulary

if TYPE_CHECKING:
    from wayfare.data import ResultsTable


class BlendRouter(BaseRouter):
    kind = "blend"
    needs_text = True

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        knn_weight: float = 0.2,
        tfidf_weight: float = 0.3,
        c: float = 0.3,
        feature_scale: float = 0.15,
        option_scale: float = 0.5,
        tfidf_c: float = 1.0,
        k: int | str = "auto",
        seed: int = 0,
    ) -> None:
        super().__init__(embedder, seed=seed)
        for name, w in (("knn_weight", knn_weight), ("tfidf_weight", tfidf_weight)):
            if not 0.0 <= w <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {w}")
        if knn_weight + tfidf_weight > 1.0:
            raise ValueError(f"knn_weight + tfidf_weight must be <= 1, got {knn_weight + tfidf_weight}")
        if feature_scale < 0 or option_scale < 0:
            raise ValueError("feature_scale and option_scale must be >= 0")
        if tfidf_c <= 0:
            raise ValueError(f"tfidf_c must be > 0, got {tfidf_c}")
        self.knn_weight = knn_weight
        self.tfidf_weight = tfidf_weight
        self.c = c
        self.feature_scale = feature_scale
        self.option_scale = option_scale
        self.tfidf_c = tfidf_c
        self.k = k
        self._members()  # validates c and k

    def _members(self) -> tuple[KNNRouter, LogRegRouter]:
        return KNNRouter(k=self.k, seed=self.seed), LogRegRouter(c=self.c, seed=self.seed)

    def _fitted_members(self) -> dict[str, BaseRouter]:
        return {"knn": self.knn_, "probe": self.probe_} if self.knn_weight > 0 else {"probe": self.probe_}

    # ------------------------------------------------------------------ features
    def _options(self, prompts: Sequence[str]) -> NDArray[np.float64]:
        if self.option_scale == 0:
            return np.zeros((len(prompts), len(OPTION_FEATURE_NAMES)))
        if self.embedder is None:
            raise ValueError("the blend router embeds answer options: pass embedder=... (or option_scale=0)")
        return option_features(prompts, self.embed)

    def _probe_input(self, x: NDArray[np.float32], prompts: Sequence[str]) -> NDArray[np.float32]:
        lex = (feature_matrix(prompts) - self.feature_mean_) / self.feature_std_
        opt = (self._options(prompts) - self.option_mean_) / self.option_std_
        return np.hstack([x, self.feature_scale * lex, self.option_scale * opt]).astype(np.float32)

    # ------------------------------------------------------------------ fit / predict
    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None:
        prompts = list(table.prompts)
        self.feature_mean_, self.feature_std_ = standardise(feature_matrix(prompts))
        self.option_mean_, self.option_std_ = standardise(self._options(prompts))
        self.knn_, self.probe_ = self._members()
        if self.knn_weight > 0:
            self.knn_.fit_vectors(x, table)
        self.probe_.fit_vectors(self._probe_input(x, prompts), table)
        if self.tfidf_weight > 0:
            self._fit_tfidf(prompts, y)

    def _fit_tfidf(self, prompts: list[str], y: FloatArray) -> None:
        from scipy import sparse

        from wayfare.routers.linear import fit_soft_logistic

        self.vocab_ = TfidfVocabulary.fit(prompts)
        indptr, indices, values = self.vocab_.rows(prompts)
        xs = sparse.csr_matrix((values, indices, indptr), shape=(len(prompts), len(self.vocab_.vocab)))
        fits = [fit_soft_logistic(xs, y[:, j], c=self.tfidf_c, max_iter=2000) for j in range(y.shape[1])]
        self.tfidf_coef_ = np.asarray([w for w, _ in fits], dtype=np.float32).T  # (V, m)
        self.tfidf_intercept_ = np.asarray([b for _, b in fits], dtype=np.float32)

    def _predict(self, x: NDArray[np.float32]) -> FloatArray:
        raise ValueError("the blend router also reads the prompt text: pass prompts=...")  # needs_text guards it

    def _predict_text(self, x: NDArray[np.float32], prompts: Sequence[str]) -> FloatArray:
        probe_weight = 1.0 - self.knn_weight - self.tfidf_weight
        out = probe_weight * self.probe_.predict_vectors(self._probe_input(x, prompts))
        if self.knn_weight > 0:
            out += self.knn_weight * self.knn_.predict_vectors(x)
        if self.tfidf_weight > 0:
            logits = self.vocab_.dot(prompts, self.tfidf_coef_) + self.tfidf_intercept_
            out += self.tfidf_weight * sigmoid(logits)
        return out

    # ------------------------------------------------------------------ state
    def _get_state(self) -> tuple[JSONDict, Arrays]:
        members, arrays = members_state(self._fitted_members())
        arrays.update(
            feature_mean=self.feature_mean_,
            feature_std=self.feature_std_,
            option_mean=self.option_mean_,
            option_std=self.option_std_,
        )
        if self.tfidf_weight > 0:
            arrays.update(
                tfidf_terms=np.frombuffer("\n".join(self.vocab_.vocab).encode(), dtype=np.uint8),  # no '\n' in a term
                tfidf_idf=self.vocab_.idf,
                tfidf_coef=self.tfidf_coef_,
                tfidf_intercept=self.tfidf_intercept_,
            )
        state = {
            **members,
            "features": list(FEATURE_NAMES),
            "option_features": list(OPTION_FEATURE_NAMES),
        }
        return state, arrays

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        if list(state.get("features", [])) != list(FEATURE_NAMES) or list(state.get("option_features", [])) != list(
            OPTION_FEATURE_NAMES
        ):
            raise ValueError("the artifact's prompt features differ from this wayfare's (retrain the router)")
        self.knn_, self.probe_ = self._members()
        load_members(self._fitted_members(), self.models_, state, arrays)
        for name in ("feature_mean", "feature_std", "option_mean", "option_std"):
            setattr(self, name + "_", arrays[name].astype(np.float64))
        if self.tfidf_weight > 0:
            raw = arrays["tfidf_terms"].tobytes().decode()
            vocab = raw.split("\n") if raw else []
            self.vocab_ = TfidfVocabulary(vocab, arrays["tfidf_idf"].astype(np.float64))
            self.tfidf_coef_ = arrays["tfidf_coef"].astype(np.float32)
            self.tfidf_intercept_ = arrays["tfidf_intercept"].astype(np.float32)
