"""The one data model of the evaluator: prompts x models -> score, with optional cost, tokens and category."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ResultsTable:
    """Per-prompt results of several models on one benchmark (or on one team's traffic).

    ``scores[i, j]`` is model ``models[j]``'s score on prompt ``i`` in [0, 1] (correctness, or a judge score
    rescaled to [0, 1]); NaN where unknown. ``costs`` is USD per call, ``input_tokens`` / ``output_tokens``
    the measured or estimated token counts; each is ``None`` when the source has no such data.
    ``strong`` / ``weak`` name the pair when the table is used as a two-model routing benchmark.
    """

    name: str
    prompt_ids: list[str]
    prompts: list[str]
    models: list[str]
    scores: FloatArray
    costs: FloatArray | None = None
    input_tokens: FloatArray | None = None
    output_tokens: FloatArray | None = None
    categories: list[str] | None = None
    strong: str | None = None
    weak: str | None = None
    meta: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n, m = len(self.prompts), len(self.models)
        if len(self.prompt_ids) != n:
            raise ValueError(f"{self.name}: {len(self.prompt_ids)} ids for {n} prompts")
        if len(set(self.models)) != m:
            raise ValueError(f"{self.name}: duplicate model names in {self.models}")
        for label, arr in (
            ("scores", self.scores),
            ("costs", self.costs),
            ("input_tokens", self.input_tokens),
            ("output_tokens", self.output_tokens),
        ):
            if arr is not None and arr.shape != (n, m):
                raise ValueError(f"{self.name}: {label} has shape {arr.shape}, expected {(n, m)}")
        if self.categories is not None and len(self.categories) != n:
            raise ValueError(f"{self.name}: {len(self.categories)} categories for {n} prompts")
        for role, model in (("strong", self.strong), ("weak", self.weak)):
            if model is not None and model not in self.models:
                raise ValueError(f"{self.name}: {role} model {model!r} is not one of {self.models}")

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def is_pair(self) -> bool:
        return self.strong is not None and self.weak is not None

    def column(self, model: str) -> FloatArray:
        """Scores of one model over all prompts."""
        return self.scores[:, self.model_index(model)]

    def model_index(self, model: str) -> int:
        try:
            return self.models.index(model)
        except ValueError:
            raise KeyError(f"model {model!r} is not in {self.name} (models: {', '.join(self.models)})") from None

    def subset(self, rows: Sequence[int] | NDArray[np.integer]) -> ResultsTable:
        """The table restricted to the given prompt rows (in that order)."""
        idx = np.asarray(rows, dtype=np.int64)

        def take(a: FloatArray | None) -> FloatArray | None:
            return None if a is None else a[idx]

        return replace(
            self,
            prompt_ids=[self.prompt_ids[i] for i in idx],
            prompts=[self.prompts[i] for i in idx],
            scores=self.scores[idx],
            costs=take(self.costs),
            input_tokens=take(self.input_tokens),
            output_tokens=take(self.output_tokens),
            categories=None if self.categories is None else [self.categories[i] for i in idx],
        )

    def select_models(self, models: Sequence[str]) -> ResultsTable:
        """The table restricted to the given models (in that order)."""
        cols = np.asarray([self.model_index(m) for m in models], dtype=np.int64)

        def take(a: FloatArray | None) -> FloatArray | None:
            return None if a is None else a[:, cols]

        keep = set(models)
        return replace(
            self,
            models=list(models),
            scores=self.scores[:, cols],
            costs=take(self.costs),
            input_tokens=take(self.input_tokens),
            output_tokens=take(self.output_tokens),
            strong=self.strong if self.strong in keep else None,
            weak=self.weak if self.weak in keep else None,
        )

    def pair(self, strong: str | None = None, weak: str | None = None) -> ResultsTable:
        """A two-model table ``[weak, strong]``; by default the higher-scoring model is strong."""
        if strong is None or weak is None:
            means = np.nanmean(self.scores, axis=0)
            by_mean = [self.models[j] for j in np.argsort(-means, kind="stable")]
            if strong is None:
                strong = next(m for m in by_mean if m != weak)
            if weak is None:
                weak = next(m for m in reversed(by_mean) if m != strong)
        if strong == weak:
            raise ValueError(f"strong and weak model are the same: {strong!r}")
        table = self.select_models([weak, strong])
        return replace(table, strong=strong, weak=weak)

    def dropna(self) -> ResultsTable:
        """Rows where every model has a score."""
        keep = np.flatnonzero(~np.isnan(self.scores).any(axis=1))
        return self if len(keep) == len(self) else self.subset(keep)

    def mean_scores(self) -> dict[str, float]:
        return {m: float(np.nanmean(self.scores[:, j])) for j, m in enumerate(self.models)}
