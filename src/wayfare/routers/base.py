"""The router protocol every router implements (scikit-learn style, RouteLLM's prompt -> score).

Parameters go in the constructor (including the ``embedder`` a learned router uses); ``fit(table)`` learns from a
:class:`~wayfare.data.ResultsTable`; after fitting ``models_`` lists the models it predicts, in order.

- ``predict(prompts)`` -> array (n_prompts, n_models): expected score of each model on each prompt.
- Pair routers (fitted on a table whose ``strong`` / ``weak`` are set) also give
  ``score(prompts)`` -> array (n_prompts,): P(the strong model is needed), in [0, 1]; higher means strong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from wayfare.data import ResultsTable

FloatArray = NDArray[np.float64]


@runtime_checkable
class Router(Protocol):
    models_: list[str]

    def fit(self, table: ResultsTable) -> Router: ...

    def predict(self, prompts: Sequence[str]) -> FloatArray: ...


@runtime_checkable
class PairRouter(Router, Protocol):
    strong_: str
    weak_: str

    def score(self, prompts: Sequence[str]) -> FloatArray: ...
