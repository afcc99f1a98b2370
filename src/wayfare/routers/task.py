"""Task-aware router: a prompt-level task classifier, then each model's mean score on that task.

On benchmark mixtures (LLMRouter: 13 tasks, 9 models) most of what separates the models is the task: a model that
ignores a task's answer format scores near 0 on all of it, whatever the question. The task is usually visible from
the prompt (a house-puzzle template, a bare list of concept words, a code stub), so this router

1. classifies the prompt's task: a multinomial logistic regression on the embedding plus the standardised lexical
   features of :mod:`wayfare.routers.text_features` (scaled by ``feature_scale``), trained on the table's
   ``categories``;
2. predicts each model's score as the task-probability-weighted mean of its per-task mean scores, each shrunk
   towards the model's overall mean with ``prior_n`` pseudo-prompts (an empirical-Bayes estimate that keeps small
   tasks from being trusted too much).

Inference is the lexical features, one (tasks × features) matrix product, a softmax and a (tasks × models) product:
~0.05 ms per prompt after the embedding.
``predict_tasks`` exposes the classifier. Training needs a table with ``categories`` (the task of each prompt).

``augment="routellm"`` adds real MMLU question stems and GSM8K questions (bundled RouteLLM prompts, task labels only,
never their model outcomes; :mod:`wayfare.routers.task_augment`) to the classifier's training as extra examples of
the table's ``mmlu`` / ``gsm8k`` tasks, up to ``augment_per_task`` each, after dropping every one that shares an
8-word shingle with a prompt of the bundled benchmarks named in ``augment_deleak``. The per-task model means still
come only from the table. It teaches the classifier that a short MMLU-style question is ``mmlu`` (LLMRouter's train
"mmlu" rows are 91% long reading passages); off by default: 5-fold CV inside LLMRouter train did not choose it
(docs/ROUTERS.md, "What was tried", N models).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.base import Embedder
from wayfare.routers._core import Arrays, BaseRouter, FloatArray, JSONDict, standardise
from wayfare.routers.task_augment import SOURCES, augmentation_prompts
from wayfare.routers.text_features import FEATURE_NAMES, feature_matrix

if TYPE_CHECKING:
    from wayfare.data import ResultsTable


def softmax(z: NDArray[np.floating[Any]]) -> FloatArray:
    z64 = np.asarray(z, dtype=np.float64)
    e = np.exp(z64 - z64.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def shrunk_task_means(y: FloatArray, tasks: list[str], names: list[str], prior_n: float) -> FloatArray:
    """(len(names), n_models): per-task mean known score of each model, shrunk towards its overall mean with
    ``prior_n`` pseudo-prompts: (sum + prior_n · overall) / (count + prior_n)."""
    known = ~np.isnan(y)
    counts_all = known.sum(axis=0)
    overall = np.where(counts_all > 0, np.nansum(y, axis=0) / np.maximum(counts_all, 1), 0.5)
    labels = np.asarray(tasks)
    out = np.zeros((len(names), y.shape[1]))
    for k, name in enumerate(names):
        rows = labels == name
        sums = np.nansum(y[rows], axis=0)
        n = known[rows].sum(axis=0)
        denom = n + prior_n
        out[k] = np.where(denom > 0, (sums + prior_n * overall) / np.maximum(denom, 1e-12), overall)
    return out


class TaskRouter(BaseRouter):
    kind = "task"
    needs_text = True

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        c: float = 10.0,
        feature_scale: float = 0.3,
        prior_n: float = 5.0,
        max_iter: int = 3000,
        augment: str = "",
        augment_per_task: int = 100,
        augment_deleak: str = "llmrouter",
        seed: int = 0,
    ) -> None:
        super().__init__(embedder, seed=seed)
        if c <= 0:
            raise ValueError(f"c (inverse regularisation of the task classifier) must be > 0, got {c}")
        if feature_scale < 0:
            raise ValueError(f"feature_scale must be >= 0, got {feature_scale}")
        if prior_n < 0:
            raise ValueError(f"prior_n must be >= 0, got {prior_n}")
        if augment and augment not in SOURCES:
            raise ValueError(f"augment must be '' or one of {', '.join(SOURCES)}, got {augment!r}")
        if augment_per_task < 0:
            raise ValueError(f"augment_per_task must be >= 0 (0 = every prompt of the source), got {augment_per_task}")
        self.c = c
        self.augment = augment
        self.augment_per_task = augment_per_task
        self.augment_deleak = augment_deleak
        self.feature_scale = feature_scale
        self.prior_n = prior_n
        self.max_iter = max_iter

    def _input(self, x: NDArray[np.float32], prompts: Sequence[str]) -> NDArray[np.float64]:
        f = (feature_matrix(prompts) - self.feature_mean_) / self.feature_std_
        return np.hstack([np.asarray(x, dtype=np.float64), self.feature_scale * f])

    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None:
        if table.categories is None:
            raise ValueError(
                f"the task router learns from each prompt's task: {table.name} has no categories "
                "(use a table with a category/task per prompt, or another router)"
            )
        self.feature_mean_, self.feature_std_ = standardise(feature_matrix(table.prompts))
        labels = [str(c) for c in table.categories]
        self.tasks_ = sorted(set(labels))
        z = self._input(x, table.prompts)
        fit_labels = labels
        self.augment_counts_: dict[str, int] = {}
        self.augment_dropped_ = 0
        if self.augment:
            extra, self.augment_dropped_ = augmentation_prompts(
                self.augment, set(self.tasks_), self.augment_per_task, self.augment_deleak, self.seed
            )
            prompts = [p for ps in extra.values() for p in ps]
            if prompts:
                if self.embedder is None:
                    raise ValueError("augment needs the router's embedder to embed the extra prompts")
                z = np.vstack([z, self._input(self.embed(prompts), prompts)])
                fit_labels = labels + [t for t, ps in extra.items() for _ in ps]
            self.augment_counts_ = {t: len(ps) for t, ps in extra.items()}
        if len(self.tasks_) == 1:
            self.coef_ = np.zeros((1, z.shape[1]), dtype=np.float32)
            self.intercept_ = np.zeros(1, dtype=np.float32)
        else:
            from sklearn.linear_model import LogisticRegression

            clf = LogisticRegression(C=self.c, max_iter=self.max_iter, random_state=self.seed).fit(z, fit_labels)
            if len(self.tasks_) == 2:  # scikit-learn's binary case: one row, P(second class) = sigmoid(w·z + b)
                coef = np.vstack([-clf.coef_[0] / 2, clf.coef_[0] / 2])
                intercept = np.array([-clf.intercept_[0] / 2, clf.intercept_[0] / 2])
            else:  # classes_ is sorted, as tasks_ is
                coef, intercept = clf.coef_, clf.intercept_
            self.coef_ = np.asarray(coef, dtype=np.float32)
            self.intercept_ = np.asarray(intercept, dtype=np.float32)
        self.task_means_ = shrunk_task_means(y, labels, self.tasks_, self.prior_n).astype(np.float32)
        self.task_counts_ = [labels.count(t) for t in self.tasks_]

    def predict_tasks_vectors(self, x: NDArray[np.floating[Any]], prompts: Sequence[str]) -> FloatArray:
        """P(task | prompt), columns ordered as ``tasks_``."""
        self._check_fitted()
        z = self._input(np.asarray(x, dtype=np.float32), prompts)
        return softmax(z @ self.coef_.T.astype(np.float64) + self.intercept_)

    def predict_tasks(self, prompts: Sequence[str]) -> FloatArray:
        """P(task | prompt) for prompt texts, columns ordered as ``tasks_``."""
        return self.predict_tasks_vectors(self.embed(prompts), prompts)

    def _predict(self, x: NDArray[np.float32]) -> FloatArray:
        raise ValueError("the task router also reads the prompt text: pass prompts=...")  # needs_text guards it

    def _predict_text(self, x: NDArray[np.float32], prompts: Sequence[str]) -> FloatArray:
        return self.predict_tasks_vectors(x, prompts) @ self.task_means_.astype(np.float64)

    def _get_state(self) -> tuple[JSONDict, Arrays]:
        state: JSONDict = {
            "tasks": self.tasks_,
            "task_counts": self.task_counts_,
            "features": list(FEATURE_NAMES),
            "augment_counts": dict(self.augment_counts_),
            "augment_dropped": self.augment_dropped_,
        }
        arrays: Arrays = {
            "coef": self.coef_,
            "intercept": self.intercept_,
            "task_means": self.task_means_,
            "feature_mean": self.feature_mean_,
            "feature_std": self.feature_std_,
        }
        return state, arrays

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        if list(state.get("features", [])) != list(FEATURE_NAMES):
            raise ValueError("the artifact's lexical features differ from this wayfare's (retrain the router)")
        self.tasks_ = [str(t) for t in state["tasks"]]
        self.task_counts_ = [int(n) for n in state.get("task_counts", [])]
        self.augment_counts_ = {str(t): int(n) for t, n in dict(state.get("augment_counts") or {}).items()}
        self.augment_dropped_ = int(state.get("augment_dropped", 0))
        self.coef_ = arrays["coef"].astype(np.float32)
        self.intercept_ = arrays["intercept"].astype(np.float32)
        self.task_means_ = arrays["task_means"].astype(np.float32)
        self.feature_mean_ = arrays["feature_mean"].astype(np.float64)
        self.feature_std_ = arrays["feature_std"].astype(np.float64)
