"""The holdout summary of ``wayfare train --holdout``: fit a copy of a router on part of a table, measure it on the
rest (the table's own de-leaked test split when it has one)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from wayfare.data import ResultsTable
from wayfare.eval.curves import pair_curve
from wayfare.eval.metrics import apgr, cpt
from wayfare.eval.splits import has_holdout, holdout_split, random_holdout_split
from wayfare.routers._core import BaseRouter, JSONDict
from wayfare.routers.registry import make_router


def holdout_rows(table: ResultsTable, fraction: float, seed: int) -> tuple[NDArray[Any], NDArray[Any], str]:
    """(train rows, test rows, description): the table's own de-leaked test split when it has one, else a random
    ``fraction`` of the distinct prompt texts, so that rows with the same text never straddle the two sides."""
    split = holdout_split(table) if has_holdout(table) else random_holdout_split(table.prompts, fraction, seed)
    train, test = split.folds[0]
    return train, test, split.description


def holdout_metrics(
    router: BaseRouter,
    x: NDArray[np.float32],
    table: ResultsTable,
    *,
    fraction: float,
    seed: int,
    truth: ResultsTable | None = None,
) -> JSONDict:
    """Fit a copy of ``router`` on the training rows and measure it on held-out rows: the table's own test split
    when it has one (LLMRouter; test rows whose text is in train are dropped), else a random ``fraction`` of the
    distinct prompt texts (rows with the same text stay on one side).

    Pair: APGR, CPT(50%), CPT(80%) of the score; N models: mean score of the model with the highest predicted score
    vs the best single model, and the mean squared error of the predicted scores. ``table`` holds the training label
    (:mod:`wayfare.data.labels`); the held-out rows are scored on ``truth``, the same rows' real scores of the same
    models (default: ``table`` itself, i.e. the label is the scores).
    """
    train, test, described = holdout_rows(table, fraction, seed)
    probe = make_router(router.kind, embedder=router.embedder, **router.get_params())
    probe.fit_vectors(x[train], table.subset(train))
    held = (truth if truth is not None else table).subset(test)
    texts = held.prompts
    out: dict[str, Any] = {
        "label": str(table.meta.get("label", "strong-wins")),
        "holdout": described,
        "holdout_fraction": round(len(test) / len(table), 6),
        "holdout_prompts": len(test),
        "seed": seed,
    }
    if probe.is_pair:
        known = ~np.isnan(held.column(probe.strong_)) & ~np.isnan(held.column(probe.weak_))
        curve = pair_curve(
            probe.score_vectors(x[test][known], [t for t, k in zip(texts, known, strict=True) if k]),
            held.column(probe.weak_)[known],
            held.column(probe.strong_)[known],
        )
        out.update({"apgr": apgr(curve), "cpt50": cpt(curve, 0.5), "cpt80": cpt(curve, 0.8)})
    pred = probe.predict_vectors(x[test], texts)
    y = held.scores[:, [held.model_index(m) for m in probe.models_]]
    out["mse"] = float(np.nanmean((pred - y) ** 2))
    full = ~np.isnan(y).any(axis=1)
    if full.any():
        chosen = np.argmax(pred[full], axis=1)
        out["routed_argmax_mean_score"] = float(y[full][np.arange(full.sum()), chosen].mean())
        out["best_single_mean_score"] = float(np.max(y[full].mean(axis=0)))
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in out.items()}
