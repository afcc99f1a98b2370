"""Random-forest router (Not Diamond's RoRF idea) on prompt embeddings.

Pair tables: a classifier over RoRF's four labels (only-strong-right, both-wrong, both-right, only-weak-right; a
score ≥ 0.5 counts as right); ``score`` = P(only strong right) + ½ P(both wrong or both right).
N-model tables: a multi-output regression forest on the scores.

The fitted scikit-learn trees are exported to flat arrays (children, feature, threshold, leaf values) and evaluated
with NumPy, so artifacts hold no pickle and inference does not import scikit-learn.
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

LABELS = ("only_strong_right", "both_wrong", "both_right", "only_weak_right")


class ForestRouter(BaseRouter):
    kind = "rorf"

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        n_estimators: int = 100,
        max_depth: int | None = 12,
        min_samples_leaf: int = 5,
        max_features: str | float = "sqrt",
        seed: int = 0,
    ) -> None:
        super().__init__(embedder, seed=seed)
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features

    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        common: dict[str, Any] = {
            "n_estimators": self.n_estimators,
            "max_depth": self.max_depth,
            "min_samples_leaf": self.min_samples_leaf,
            "max_features": self.max_features,
            "random_state": self.seed,
            "n_jobs": 1,
        }
        if self.is_pair:
            s, w = self.models_.index(self.strong_), self.models_.index(self.weak_)
            known = ~np.isnan(y[:, s]) & ~np.isnan(y[:, w])
            sr, wr = y[known, s] >= 0.5, y[known, w] >= 0.5
            labels = np.select([sr & ~wr, ~sr & ~wr, sr & wr], [0, 1, 2], default=3)
            clf = RandomForestClassifier(**common).fit(x[known], labels)
            trees = []
            for est in clf.estimators_:
                tv = est.tree_.value[:, 0, :]
                full = np.zeros((tv.shape[0], 4))
                full[:, clf.classes_.astype(int)] = tv / np.maximum(tv.sum(axis=1, keepdims=True), 1e-12)
                trees.append((est.tree_, full))
            self.mode_ = "pair4"
        else:
            target = np.where(np.isnan(y), column_means(y), y)
            reg = RandomForestRegressor(**common).fit(x, target)
            trees = [(est.tree_, est.tree_.value[:, :, 0]) for est in reg.estimators_]
            self.mode_ = "regress"
        self._export(trees)

    def _export(self, trees: list[tuple[Any, NDArray[np.float64]]]) -> None:
        left, right, feature, threshold, values, roots = [], [], [], [], [], []
        offset = 0
        depth = 0
        for tree, vals in trees:
            cl, cr = tree.children_left.astype(np.int32), tree.children_right.astype(np.int32)
            leaf = cl < 0
            roots.append(offset)
            left.append(np.where(leaf, np.arange(len(cl)) + offset, cl + offset))  # leaves point to themselves
            right.append(np.where(leaf, np.arange(len(cr)) + offset, cr + offset))
            feature.append(np.where(leaf, 0, tree.feature).astype(np.int32))
            threshold.append(tree.threshold.astype(np.float64))
            values.append(vals.astype(np.float32))
            offset += len(cl)
            depth = max(depth, int(tree.max_depth))
        self.left_ = np.concatenate(left).astype(np.int32)
        self.right_ = np.concatenate(right).astype(np.int32)
        self.feature_ = np.concatenate(feature).astype(np.int32)
        self.threshold_ = np.concatenate(threshold)
        self.values_ = np.concatenate(values)
        self.roots_ = np.asarray(roots, dtype=np.int32)
        self.depth_ = depth

    def leaf_values(self, x: NDArray[np.float32]) -> FloatArray:
        """Mean over trees of the leaf values reached by each row: (n, n_outputs)."""
        node = np.broadcast_to(self.roots_, (x.shape[0], len(self.roots_))).copy()
        rows = np.arange(x.shape[0])[:, None]
        for _ in range(self.depth_):
            go_left = x[rows, self.feature_[node]] <= self.threshold_[node]
            node = np.where(go_left, self.left_[node], self.right_[node])
        return np.asarray(self.values_[node].mean(axis=1), dtype=np.float64)

    def label_proba(self, x: NDArray[np.float32]) -> FloatArray:
        """Pair forests: probabilities of the four RoRF labels (columns in :data:`LABELS` order)."""
        self._check_pair()
        if self.mode_ != "pair4":
            raise ValueError("this forest was fitted as an N-model regressor")
        return self.leaf_values(x)

    def _predict(self, x: NDArray[np.float32]) -> FloatArray:
        v = self.leaf_values(x)
        if self.mode_ == "regress":
            return v
        out = np.zeros((x.shape[0], len(self.models_)))
        s, w = self.models_.index(self.strong_), self.models_.index(self.weak_)
        out[:, s] = v[:, 0] + v[:, 2]
        out[:, w] = v[:, 3] + v[:, 2]
        return out

    def score_vectors(self, x: NDArray[np.floating[Any]], prompts: Sequence[str] | None = None) -> FloatArray:
        self._check_pair()
        v = self.leaf_values(np.asarray(x, dtype=np.float32))
        if self.mode_ == "regress":
            return self.score_from_predictions(np.clip(v, 0.0, 1.0))
        return np.clip(v[:, 0] + 0.5 * (v[:, 1] + v[:, 2]), 0.0, 1.0)

    def _get_state(self) -> tuple[JSONDict, Arrays]:
        arrays: Arrays = {
            "left": self.left_,
            "right": self.right_,
            "feature": self.feature_,
            "threshold": self.threshold_,
            "values": self.values_,
            "roots": self.roots_,
        }
        return {"mode": self.mode_, "depth": self.depth_}, arrays

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self.mode_ = str(state["mode"])
        self.depth_ = int(state["depth"])
        self.left_ = arrays["left"].astype(np.int32)
        self.right_ = arrays["right"].astype(np.int32)
        self.feature_ = arrays["feature"].astype(np.int32)
        self.threshold_ = arrays["threshold"].astype(np.float64)
        self.values_ = arrays["values"].astype(np.float32)
        self.roots_ = arrays["roots"].astype(np.int32)
