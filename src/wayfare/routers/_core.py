"""Shared machinery of the embedding-based routers: fitting on a results table, pair scores, state for artifacts.

Every learned router embeds the prompt text with its ``embedder`` and maps the (n, dim) vectors to expected
scores (n, n_models). Subclasses implement ``_fit(X, Y)``, ``_predict(X)`` and the state hooks; this base class
provides the public scikit-learn-style API (``fit`` / ``predict`` / ``score`` / ``get_params``), the vector-level
entry points the evaluator can call with cached embeddings (``fit_vectors`` / ``predict_vectors`` /
``score_vectors``), and the metadata recorded in a saved artifact.
"""

from __future__ import annotations

import inspect
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.base import Embedder

if TYPE_CHECKING:
    from wayfare.data import ResultsTable

FloatArray = NDArray[np.float64]
Arrays = dict[str, NDArray[Any]]
JSONDict = dict[str, Any]


class NotFittedError(RuntimeError):
    """The router was used before ``fit`` (or before loading a fitted artifact)."""


_KINDS: dict[str, type[BaseRouter]] = {}


def router_of_kind(kind: str) -> type[BaseRouter]:
    """The router class whose ``kind`` is ``kind`` (every subclass that sets ``kind`` registers itself), for reading
    artifacts without importing the registry."""
    try:
        return _KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown router {kind!r}; available: {', '.join(_KINDS)}") from None


class BaseRouter(ABC):
    """Base of every router. ``kind`` is the registry name; constructor arguments are the parameters."""

    kind: ClassVar[str] = ""
    needs_embedder: ClassVar[bool] = True
    needs_text: ClassVar[bool] = False  # true: the vector-level methods also need the prompts (text features)

    embedder: Embedder | None
    models_: list[str]
    strong_: str
    weak_: str
    training_: JSONDict
    metrics_: JSONDict
    calibration_: JSONDict
    embedder_name_: str | None
    embedder_dim_: int | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):  # concrete routers register their kind (see router_of_kind)
            _KINDS[cls.kind] = cls

    def __init__(self, embedder: Embedder | None = None, *, seed: int = 0) -> None:
        self.embedder = embedder
        self.seed = seed
        self.metrics_ = {}
        self.calibration_ = {}
        self.embedder_name_ = None
        self.embedder_dim_ = None

    # ------------------------------------------------------------------ parameters (scikit-learn style)
    def get_params(self) -> JSONDict:
        """Constructor parameters except the embedder (JSON-safe)."""
        sig = inspect.signature(type(self).__init__)
        return {name: getattr(self, name) for name in sig.parameters if name not in ("self", "embedder")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ fitting
    def fit(self, table: ResultsTable) -> BaseRouter:
        """Learn from a results table (NaN scores are treated as unknown and skipped)."""
        x = self.embed(table.prompts) if self.needs_embedder else np.zeros((len(table), 0), dtype=np.float32)
        return self.fit_vectors(x, table)

    def fit_vectors(self, x: NDArray[np.floating[Any]], table: ResultsTable) -> BaseRouter:
        """Like ``fit`` with the prompts' embeddings already computed (rows aligned with ``table.prompts``)."""
        if len(table) == 0:
            raise ValueError(f"cannot fit a router on an empty table ({table.name})")
        if x.shape[0] != len(table):
            raise ValueError(f"{x.shape[0]} embeddings for {len(table)} prompts")
        y = np.asarray(table.scores, dtype=np.float64)
        if np.isnan(y).all():
            raise ValueError(f"{table.name}: no known scores to learn from")
        start = time.perf_counter()
        self.models_ = list(table.models)
        if table.strong is not None and table.weak is not None:
            self.strong_, self.weak_ = table.strong, table.weak
        elif len(table.models) == 2:
            means = np.nanmean(y, axis=0)
            order = np.argsort(-means, kind="stable")
            self.strong_, self.weak_ = self.models_[int(order[0])], self.models_[int(order[1])]
        if self.needs_embedder and self.embedder is not None:
            self.embedder_name_, self.embedder_dim_ = self.embedder.name, self.embedder.dim
        self._fit(np.asarray(x, dtype=np.float32), y, table)
        self.training_: JSONDict = {
            "table": table.name,
            "n_prompts": len(table),
            "n_models": len(table.models),
            "label": str(table.meta.get("label", "strong-wins" if len(self.models_) == 2 else "scores")),
            "mean_label": {m: round(v, 6) for m, v in table.mean_scores().items()},
            "fit_seconds": round(time.perf_counter() - start, 3),
        }
        if "source" in table.meta:
            self.training_["source"] = str(table.meta["source"])
        return self

    # ------------------------------------------------------------------ inference
    def embed(self, prompts: Sequence[str]) -> NDArray[np.float32]:
        if self.embedder is None:
            raise ValueError(f"{type(self).__name__} needs an embedder: pass embedder=... (see wayfare.embed)")
        return np.asarray(self.embedder.embed(list(prompts)), dtype=np.float32)

    def predict(self, prompts: Sequence[str]) -> FloatArray:
        """Expected score of each model (columns ordered as ``models_``) on each prompt, in [0, 1]."""
        self._check_fitted()
        if self.needs_embedder:
            return self.predict_vectors(self.embed(prompts), prompts)
        return self._predict_prompts(prompts)

    def predict_vectors(self, x: NDArray[np.floating[Any]], prompts: Sequence[str] | None = None) -> FloatArray:
        """``predict`` from precomputed embeddings; ``prompts`` (the same rows' text) is required by routers whose
        ``needs_text`` is true (they add features of the text to the embedding) and ignored by the others."""
        self._check_fitted()
        x32 = np.asarray(x, dtype=np.float32)
        if self.needs_text:
            if prompts is None:
                raise ValueError(
                    f"{type(self).__name__} also reads the prompt text: pass prompts=... or call predict(prompts)"
                )
            if isinstance(prompts, str) or len(prompts) != x32.shape[0]:
                raise ValueError(f"prompts must be a sequence with one text per embedding row ({x32.shape[0]})")
            out = self._predict_text(x32, prompts)
        else:
            out = self._predict(x32)
        return np.clip(np.asarray(out, dtype=np.float64), 0.0, 1.0)

    def score(self, prompts: Sequence[str]) -> FloatArray:
        """Pair routers: P(the strong model is needed) per prompt, in [0, 1]; higher means strong."""
        self._check_pair()
        if self.needs_embedder:
            return self.score_vectors(self.embed(prompts), prompts)
        return self.score_from_predictions(self._predict_prompts(prompts))

    def score_vectors(self, x: NDArray[np.floating[Any]], prompts: Sequence[str] | None = None) -> FloatArray:
        self._check_pair()
        return self.score_from_predictions(self.predict_vectors(x, prompts))

    def score_from_predictions(self, pred: FloatArray) -> FloatArray:
        """The pair score of per-model predictions (columns = ``models_``), e.g. one member's of a composite
        router: P(strong does better) + ½ P(tie) under independent correctness, (1 + p_strong − p_weak) / 2."""
        s, w = self.models_.index(self.strong_), self.models_.index(self.weak_)
        return np.clip((1.0 + pred[:, s] - pred[:, w]) / 2.0, 0.0, 1.0)

    @property
    def is_pair(self) -> bool:
        return hasattr(self, "strong_") and hasattr(self, "weak_")

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(table) or load an artifact")

    def _check_pair(self) -> None:
        self._check_fitted()
        if not self.is_pair:
            raise ValueError(
                f"{type(self).__name__} was fitted on {len(self.models_)} models without a strong/weak pair: "
                "use predict(), or fit on table.pair(strong, weak)"
            )

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _fit(self, x: NDArray[np.float32], y: FloatArray, table: ResultsTable) -> None: ...

    @abstractmethod
    def _predict(self, x: NDArray[np.float32]) -> FloatArray: ...

    def _predict_prompts(self, prompts: Sequence[str]) -> FloatArray:
        raise NotImplementedError

    def _predict_text(self, x: NDArray[np.float32], prompts: Sequence[str]) -> FloatArray:
        """Routers with ``needs_text``: predictions from the embeddings and the prompts' text."""
        raise NotImplementedError

    @abstractmethod
    def _get_state(self) -> tuple[JSONDict, Arrays]:
        """JSON-safe state and named arrays that, with the params, rebuild the fitted router."""

    @abstractmethod
    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None: ...


def known_mask(y: FloatArray) -> NDArray[np.bool_]:
    return ~np.isnan(y)


def column_means(y: FloatArray) -> FloatArray:
    """Mean known score per model (0.5 where a model has no known score)."""
    counts = known_mask(y).sum(axis=0)
    sums = np.nansum(y, axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.5)


def standardise(f: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Column means and standard deviations of a feature matrix (1 where a column is constant)."""
    std = f.std(axis=0)
    return f.mean(axis=0), np.where(std > 1e-9, std, 1.0)


def members_state(members: Mapping[str, BaseRouter]) -> tuple[JSONDict, Arrays]:
    """The state of a composite router's fitted sub-routers, each under its name (arrays as ``<name>.<array>``)."""
    state: JSONDict = {}
    arrays: Arrays = {}
    for name, member in members.items():
        state[name], member_arrays = member._get_state()
        arrays.update({f"{name}.{k}": v for k, v in member_arrays.items()})
    return state, arrays


def load_members(
    members: Mapping[str, BaseRouter], models: list[str], state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]
) -> None:
    """Restore sub-routers saved by :func:`members_state`."""
    for name, member in members.items():
        member.models_ = models
        prefix = name + "."
        member._set_state(state[name], {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)})
