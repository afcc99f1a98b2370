"""Getting each router's out-of-sample predictions: fit on the train rows of each fold, predict the test rows.

A router is given to the evaluator as a :class:`RouterSpec`: either a ``factory`` (a fresh, unfitted router per
fold; learned routers) or a fitted ``artifact`` (scored on every evaluated prompt without training). Routers that
offer the vector-level API (``fit_vectors`` / ``predict_vectors`` / ``score_vectors``) get the prompts' embeddings
computed once per run; others get the prompt texts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wayfare.data import ResultsTable
from wayfare.eval.splits import Split

FloatArray = NDArray[np.float64]
Vectors = NDArray[np.float32]
RouterFactory = Callable[[], Any]


@dataclass(frozen=True)
class RouterSpec:
    """A router to evaluate: ``factory`` builds an unfitted one (trained per fold), or ``artifact`` is fitted."""

    name: str
    factory: RouterFactory | None = None
    artifact: Any = None
    description: str = ""

    def __post_init__(self) -> None:
        if (self.factory is None) == (self.artifact is None):
            raise ValueError(f"router {self.name!r}: give exactly one of factory or artifact")

    @property
    def trained_here(self) -> bool:
        return self.factory is not None


def _uses_vectors(router: Any, vectors: Vectors | None, method: str) -> bool:
    return vectors is not None and hasattr(router, method) and bool(getattr(router, "needs_embedder", True))


def _text(router: Any, rows: NDArray[np.int64], table: ResultsTable) -> list[list[str]]:
    """The rows' prompts as an extra argument for routers that also read the text (``needs_text``), else none."""
    return [[table.prompts[i] for i in rows.tolist()]] if getattr(router, "needs_text", False) else []


def _output(router: Any, rows: NDArray[np.int64], table: ResultsTable, vectors: Vectors | None, pair: bool) -> Any:
    if pair:
        if _uses_vectors(router, vectors, "score_vectors"):
            assert vectors is not None
            return router.score_vectors(vectors[rows], *_text(router, rows, table))
        return router.score([table.prompts[i] for i in rows.tolist()])
    if _uses_vectors(router, vectors, "predict_vectors"):
        assert vectors is not None
        return router.predict_vectors(vectors[rows], *_text(router, rows, table))
    return router.predict([table.prompts[i] for i in rows.tolist()])


def _check(name: str, out: Any, n: int, m: int, pair: bool) -> FloatArray:
    arr = np.asarray(out, dtype=np.float64)
    expected = (n,) if pair else (n, m)
    if arr.shape != expected:
        raise ValueError(f"router {name!r} returned shape {arr.shape}, expected {expected}")
    if np.isnan(arr).any():
        raise ValueError(f"router {name!r} returned NaN scores")
    return arr


def _align_columns(name: str, router: Any, pred: FloatArray, models: list[str]) -> FloatArray:
    """Reorder a router's predicted columns (``models_``) to the table's model order."""
    order = list(getattr(router, "models_", models))
    missing = [m for m in models if m not in order]
    if missing:
        raise ValueError(f"router {name!r} does not predict {', '.join(missing)} (it knows {', '.join(order)})")
    return pred[:, [order.index(m) for m in models]]


def out_of_sample(
    spec: RouterSpec,
    table: ResultsTable,
    split: Split,
    vectors: Vectors | None,
    pair: bool,
    on_fold: Callable[[], None] | None = None,
) -> FloatArray:
    """Predictions for ``split.eval_rows`` (pair: scores (n,); else predicted scores (n, m) in table model order).

    Learned routers are fitted once per fold on the fold's train rows and predict only its test rows.
    """
    m = len(table.models)
    n_total = len(table)
    full = np.full((n_total,) if pair else (n_total, m), np.nan)
    if spec.artifact is not None:
        rows = split.eval_rows
        out = _check(spec.name, _output(spec.artifact, rows, table, vectors, pair), rows.size, m, pair)
        full[rows] = out if pair else _align_columns(spec.name, spec.artifact, out, table.models)
        if on_fold is not None:
            on_fold()
        return full[split.eval_rows]
    assert spec.factory is not None
    for train, test in split.folds:
        if np.intersect1d(train, test).size:
            raise AssertionError("a fold's train and test rows overlap")
        router = spec.factory()
        train_table = table.subset(train)
        if _uses_vectors(router, vectors, "fit_vectors"):
            assert vectors is not None
            router.fit_vectors(vectors[train], train_table)
        else:
            router.fit(train_table)
        out = _check(spec.name, _output(router, test, table, vectors, pair), test.size, m, pair)
        full[test] = out if pair else _align_columns(spec.name, router, out, table.models)
        if on_fold is not None:
            on_fold()
    return full[split.eval_rows]
