"""Gated router: two lexical probes, one for a *domain* of prompts (e.g. chat) and one for the rest, mixed by a
gate that recognises the domain.

A small labelled domain (298 chat prompts) beside large benchmark tables pulls one probe two ways: weighted up, the
domain is ordered better and the benchmarks worse (docs/ROUTERS.md "Transfer"). This router keeps both:

- ``general``: an :class:`~wayfare.routers.ensemble.EnsembleRouter` trained on the rows *outside* the domain;
- ``domain``: the same kind trained on every row, the domain's rows counted ``domain_weight`` times more;
- the gate: a logistic regression on the embedding and the lexical features as they are (log-scaled counts,
  fractions and flags, not standardised, so format signals such as answer options and length weigh more under the
  penalty than any one embedding dimension), trained to tell the domain's prompts from the others (classes balanced,
  so neither side's size or repetition sets its prior). Held out, this gate called an unseen benchmark (MMLU) chat
  less often than one on standardised features and transferred better (docs/ROUTERS.md "Transfer").

Predictions are g × domain + (1 − g) × general per model, with g = P(domain | prompt); a pair score is therefore the
same mixture of the two probes' scores. The domain's rows are those whose ``table.categories`` entry is ``domain``
(a stacked transfer table names each row's source there). Fitted on a table without domain rows, or with nothing
but domain rows, the router is one probe of all its rows (g = 0): a leave-one-source-out fold holding the domain out
measures exactly that.
Inference is NumPy only: with probe experts (``knn_weight=0``), one matrix product of the embedding and the raw lexical
features gives the gate and both probes at once (their weights folded together on first use).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.base import Embedder
from wayfare.routers._core import Arrays, BaseRouter, FloatArray, JSONDict, load_members, members_state
from wayfare.routers.ensemble import EnsembleRouter
from wayfare.routers.linear import sigmoid
from wayfare.routers.text_features import FEATURE_NAMES, feature_matrix

if TYPE_CHECKING:
    from wayfare.data import ResultsTable


GATE_TOL = 1e-6
"""The gate's solver tolerance. The raw features make the problem badly scaled: at scikit-learn's default (1e-4) the
solver stops where last-bit changes of the input put it (logits moved by up to 0.09 under 1e-12 noise on the
default's training set), so the same training run gave different gates on different machines; at 1e-6 they agree
to 0.003 (about twice the fit time, 7 s on the shipped default's 24,000 rows)."""


class GatedRouter(BaseRouter):
    kind = "gated"
    needs_text = True

    general_: EnsembleRouter
    domain_: EnsembleRouter | None
    _fused_: tuple[FloatArray, FloatArray, FloatArray] | None = None

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        domain: str = "arena-bench-v1",
        domain_weight: int = 7,
        gate_c: float = 1.0,
        knn_weight: float = 0.0,
        c: float = 0.3,
        feature_scale: float = 0.15,
        seed: int = 0,
    ) -> None:
        super().__init__(embedder, seed=seed)
        if not isinstance(domain, str) or not domain:
            raise ValueError("domain must be a non-empty category name (e.g. a source name such as 'arena-bench-v1')")
        if not isinstance(domain_weight, int) or isinstance(domain_weight, bool) or domain_weight < 1:
            raise ValueError(f"domain_weight must be a positive integer, got {domain_weight!r}")
        if gate_c <= 0:
            raise ValueError(f"gate_c (inverse regularisation of the gate) must be > 0, got {gate_c}")
        self.domain = domain
        self.domain_weight = domain_weight
        self.gate_c = gate_c
        self.knn_weight = knn_weight
        self.c = c
        self.feature_scale = feature_scale
        self.expert()  # validates the experts' parameters

    def expert(self) -> EnsembleRouter:
        """A fresh, unfitted expert of this router's configuration. Fitted on one kind of prompt only (no domain rows,
        or nothing but domain rows), the gated router *is* one such expert fitted on all the rows."""
        return EnsembleRouter(knn_weight=self.knn_weight, c=self.c, feature_scale=self.feature_scale, seed=self.seed)

    @staticmethod
    def _gate_input(x: NDArray[np.floating[Any]], features: FloatArray) -> NDArray[np.float64]:
        return np.hstack([np.asarray(x, dtype=np.float64), features])

    def domain_rows(self, table: ResultsTable) -> NDArray[np.bool_]:
        """Which rows of ``table`` belong to the domain."""
        if table.categories is None:
            return np.zeros(len(table), dtype=np.bool_)
        return np.asarray([c == self.domain for c in table.categories], dtype=np.bool_)

    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None:
        from sklearn.linear_model import LogisticRegression  # training only

        self._fused_ = None
        inside = self.domain_rows(table)
        self.domain_n_ = int(inside.sum())
        if self.domain_n_ in (0, len(table)):  # one kind of prompt only: one probe of all rows, no gate
            self.general_, self.domain_ = self.expert(), None
            self.general_.fit_vectors(x, table)
            self.gate_coef_, self.gate_intercept_ = np.zeros(0), np.zeros(1)
            return
        self.general_ = self.expert()
        self.general_.fit_vectors(x[~inside], table.subset(np.flatnonzero(~inside)))
        rows = np.concatenate([np.arange(len(table)), np.repeat(np.flatnonzero(inside), self.domain_weight - 1)])
        self.domain_ = self.expert()
        self.domain_.fit_vectors(x[rows], table.subset(rows))
        gate = LogisticRegression(C=self.gate_c, class_weight="balanced", max_iter=5000, tol=GATE_TOL)
        gate.fit(self._gate_input(x, feature_matrix(table.prompts)), inside.astype(np.int64))
        self.gate_coef_ = np.asarray(gate.coef_[0], dtype=np.float64)
        self.gate_intercept_ = np.asarray(gate.intercept_, dtype=np.float64)

    def gate(self, x: NDArray[np.floating[Any]], prompts: Sequence[str]) -> FloatArray:
        """P(the prompt belongs to the domain), per row (0 when the router saw no domain rows)."""
        self._check_fitted()
        return self._gate(x, feature_matrix(prompts))

    def _gate(self, x: NDArray[np.floating[Any]], features: FloatArray) -> FloatArray:
        if self.domain_ is None:
            return np.zeros(len(features), dtype=np.float64)
        return sigmoid(self._gate_input(x, features) @ self.gate_coef_ + self.gate_intercept_[0])

    def _predict(self, x: NDArray[np.float32]) -> FloatArray:
        raise ValueError("the gated router also reads the prompt text: pass prompts=...")  # needs_text guards it

    def _predict_text(self, x: NDArray[np.float32], prompts: Sequence[str]) -> FloatArray:
        features = feature_matrix(prompts)  # once, for the gate and both experts
        if self.domain_ is None:
            return self.general_.predict_with_features(x, features)
        fused = self._fused()
        if fused is not None:  # probes only: one product for the gate and both experts
            mx, mf, bias = fused
            z = np.asarray(x, dtype=np.float64) @ mx.T + features @ mf.T + bias
            p = sigmoid(z[:, :-1])
            k = p.shape[1] // 2  # each expert's models, general first
            g = sigmoid(z[:, -1])[:, None]
            return g * p[:, k:] + (1.0 - g) * p[:, :k]
        g = self._gate(x, features)[:, None]
        general = self.general_.predict_with_features(x, features)
        return g * self.domain_.predict_with_features(x, features) + (1.0 - g) * general

    def _fused(self) -> tuple[FloatArray, FloatArray, FloatArray] | None:
        """The two probes and the gate as one linear map of (embedding, raw lexical features): rows are the general
        expert's models, the domain expert's models, then the gate. None when an expert has a kNN member."""
        cached = self._fused_
        if cached is not None or self.knn_weight > 0 or self.domain_ is None:
            return cached
        mx, mf, bias = [], [], []
        for expert in (self.general_, self.domain_):
            coef = np.asarray(expert.probe_.coef_, dtype=np.float64)
            dim = coef.shape[1] - len(FEATURE_NAMES)
            scale = expert.feature_scale / expert.feature_std_
            wf = coef[:, dim:] * scale  # the probe standardises and scales the features: folded into the weights
            mx.append(coef[:, :dim])
            mf.append(wf)
            bias.append(np.asarray(expert.probe_.intercept_, dtype=np.float64) - wf @ expert.feature_mean_)
        dim = mx[0].shape[1]
        mx.append(self.gate_coef_[None, :dim])
        mf.append(self.gate_coef_[None, dim:])
        bias.append(self.gate_intercept_[:1])
        self._fused_ = (np.vstack(mx), np.vstack(mf), np.concatenate(bias))
        return self._fused_

    # ------------------------------------------------------------------ state
    def _members(self) -> dict[str, BaseRouter]:
        return (
            {"general": self.general_} if self.domain_ is None else {"general": self.general_, "domain": self.domain_}
        )

    def _get_state(self) -> tuple[JSONDict, Arrays]:
        state, arrays = members_state(self._members())
        arrays.update(gate_coef=self.gate_coef_, gate_intercept=self.gate_intercept_)
        return {**state, "domain_rows": self.domain_n_, "features": list(FEATURE_NAMES)}, arrays

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        if list(state.get("features", [])) != list(FEATURE_NAMES):
            raise ValueError("the artifact's lexical features differ from this wayfare's (retrain the router)")
        self._fused_ = None
        self.domain_n_ = int(state["domain_rows"])
        self.general_ = self.expert()
        self.domain_ = self.expert() if "domain" in state else None  # a gate was fitted: its expert was saved
        load_members(self._members(), self.models_, state, arrays)
        self.gate_coef_ = arrays["gate_coef"].astype(np.float64)
        self.gate_intercept_ = arrays["gate_intercept"].astype(np.float64)
