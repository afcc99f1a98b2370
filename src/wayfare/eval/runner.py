"""The evaluation run: split the benchmark, get every router's out-of-sample predictions, compute the metrics.

Pair mode (two models, or ``strong`` / ``weak`` given) reports APGR / CPT / cost saved per router; N-model mode
reports the cost-quality frontier (AIQ, quality at the best single model's cost, arena score). Baselines are always
included. The result's ``metrics`` is what ``metrics.json`` holds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.progress import Progress

from wayfare._version import __version__
from wayfare.data import ResultsTable
from wayfare.embed.base import Embedder
from wayfare.eval import multi_eval, pair_eval
from wayfare.eval.curves import PairCurve
from wayfare.eval.multi_eval import Frontier, MultiData
from wayfare.eval.pair_eval import PairData
from wayfare.eval.scoring import RouterSpec, Vectors, out_of_sample
from wayfare.eval.splits import Split, category_split, has_holdout, holdout_split, kfold_split, restrict_meta_rows

EMBED_BATCH = 2048  # large: a disk-cached embedder persists once per call


@dataclass(frozen=True)
class EvalConfig:
    folds: int = 5
    seed: int = 0
    n_resamples: int = 1000
    strong: str | None = None
    weak: str | None = None
    by_category: bool = False
    """Leave one category out per fold instead of k-fold / the table's holdout (:func:`category_split`)."""


@dataclass
class EvalResult:
    metrics: dict[str, Any]
    mode: str
    pair_curves: dict[str, PairCurve] = field(default_factory=dict)
    frontiers: dict[str, Frontier] = field(default_factory=dict)


def prepare_table(table: ResultsTable, config: EvalConfig) -> tuple[ResultsTable, str]:
    """Pick the mode, select the pair if any, and drop rows with a missing score (keeping the holdout indices)."""
    pair_mode = len(table.models) == 2 or config.strong is not None or config.weak is not None
    if len(table.models) < 2:
        raise ValueError(f"{table.name}: routing needs at least two models, found {table.models}")
    if pair_mode:
        strong = config.strong or (table.strong if config.weak is None else None)
        weak = config.weak or (table.weak if config.strong is None else None)
        table = table.pair(strong, weak)
    keep = np.flatnonzero(~np.isnan(table.scores).any(axis=1)).astype(np.int64)
    if keep.size < len(table):
        table = replace(table.subset(keep), meta=restrict_meta_rows(table.meta, keep))
    if len(table) == 0:
        raise ValueError(f"{table.name}: no prompt has a score for every model")
    return table, "pair" if pair_mode else "multi"


def _embed(embedder: Embedder, prompts: list[str], progress: Progress | None) -> Vectors:
    task = progress.add_task(f"embedding {len(prompts)} prompts", total=len(prompts)) if progress else None
    parts = []
    for start in range(0, len(prompts), EMBED_BATCH):
        batch = prompts[start : start + EMBED_BATCH]
        parts.append(np.asarray(embedder.embed(batch), dtype=np.float32))
        if progress is not None and task is not None:
            progress.advance(task, len(batch))
    return np.concatenate(parts)


def _vectors_for(spec: RouterSpec, embedder: Embedder | None, vectors: Vectors | None) -> Vectors | None:
    """Shared vectors only for routers that embed with the run's embedder (artifacts may carry another)."""
    if spec.artifact is None or embedder is None:
        return vectors
    own = getattr(spec.artifact, "embedder_name_", None)
    return vectors if own == embedder.name else None


def _check_artifact_pair(spec: RouterSpec, table: ResultsTable) -> None:
    art = spec.artifact
    strong, weak = getattr(art, "strong_", None), getattr(art, "weak_", None)
    if (strong, weak) == ("strong", "weak"):
        return  # a generic pair router (e.g. the shipped default): trained on several pairs, serves any pair
    if (strong, weak) != (table.strong, table.weak):
        raise ValueError(
            f"router {spec.name!r} was trained for strong={strong!r}, weak={weak!r} but the benchmark pair is "
            f"strong={table.strong!r}, weak={table.weak!r} (use --strong/--weak)"
        )


def evaluate(
    table: ResultsTable,
    routers: Sequence[RouterSpec],
    config: EvalConfig | None = None,
    *,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Evaluate ``routers`` and the baselines on ``table``."""
    config = config or EvalConfig()
    table, mode = prepare_table(table, config)
    split: Split
    if config.by_category:
        split = category_split(table)
    elif has_holdout(table):
        split = holdout_split(table)
    else:
        split = kfold_split(table.prompts, config.folds, config.seed)
    names = [s.name for s in routers]
    clash = sorted(
        {n for n in names if names.count(n) > 1} | ({"random", "oracle", "always-weak", "always-strong"} & set(names))
    )
    if clash:
        raise ValueError(f"router names must be unique and not a baseline's name: {', '.join(clash)}")
    rows = split.eval_rows
    costs = table.costs
    if costs is not None and np.isnan(costs[rows]).any():
        costs = None
    if mode == "multi" and costs is None:
        raise ValueError(
            f"{table.name}: comparing {len(table.models)} models needs a cost per call for each model "
            f"({table.meta.get('cost_basis', 'no costs in the data')}); add prices (--prices FILE), or pick two with "
            "--strong/--weak"
        )
    vectors = None
    if embedder is not None and routers:
        vectors = _embed(embedder, table.prompts, progress)

    result = EvalResult(metrics={}, mode=mode)
    entries: dict[str, dict[str, Any]] = {}
    if mode == "pair":
        assert table.strong is not None and table.weak is not None
        ws, ss = table.model_index(table.weak), table.model_index(table.strong)
        data = PairData(
            weak=table.scores[rows, ws],
            strong=table.scores[rows, ss],
            weak_cost=None if costs is None else costs[rows, ws],
            strong_cost=None if costs is None else costs[rows, ss],
        )
        if data.weak.mean() == data.strong.mean():
            raise ValueError(
                f"{table.name}: {table.strong} and {table.weak} have the same mean score: PGR is undefined"
            )
        entries, result.pair_curves = pair_eval.baseline_metrics(data, config.n_resamples, config.seed)
    else:
        assert costs is not None
        mdata = MultiData(models=list(table.models), scores=table.scores[rows], costs=costs[rows])
        entries, result.frontiers = multi_eval.baseline_metrics(mdata, config.n_resamples, config.seed)

    for spec in routers:
        if mode == "pair" and spec.artifact is not None:
            _check_artifact_pair(spec, table)
        steps = 1 if spec.artifact is not None else len(split.folds)
        task = progress.add_task(f"router {spec.name}", total=steps) if progress else None

        def tick(task_id: Any = task) -> None:
            if progress is not None and task_id is not None:
                progress.advance(task_id)

        start = time.perf_counter()
        pred = out_of_sample(spec, table, split, _vectors_for(spec, embedder, vectors), mode == "pair", tick)
        seconds = time.perf_counter() - start
        if mode == "pair":
            entry, result.pair_curves[spec.name] = pair_eval.router_metrics(pred, data, config.n_resamples, config.seed)
        else:
            entry, result.frontiers[spec.name] = multi_eval.router_metrics(pred, mdata, config.n_resamples, config.seed)
        entry["kind"] = "trained per fold" if spec.trained_here else "artifact (scored without training)"
        entry["description"] = spec.description
        entry["fit_predict_seconds"] = round(seconds, 3)
        entries[spec.name] = entry

    result.metrics = _summary(table, mode, split, config, embedder, rows, costs is not None)
    if mode == "multi":
        result.metrics["single_models"] = multi_eval.single_models(mdata)
    result.metrics["routers"] = entries
    return result


def _summary(
    table: ResultsTable,
    mode: str,
    split: Split,
    config: EvalConfig,
    embedder: Embedder | None,
    rows: NDArray[np.int64],
    has_costs: bool,
) -> dict[str, Any]:
    quality = {m: float(np.mean(table.scores[rows, j])) for j, m in enumerate(table.models)}
    return {
        "benchmark": table.name,
        "n_prompts": int(rows.size),
        "mode": mode,
        "models": list(table.models),
        "strong": table.strong if mode == "pair" else None,
        "weak": table.weak if mode == "pair" else None,
        "quality": quality,
        "split": split.description,
        "folds": len(split.folds) if len(split.folds) > 1 else None,
        "holdout_leaks_dropped": split.dropped_leaks,
        "seed": config.seed,
        "bootstrap_resamples": config.n_resamples,
        "ci_level": 0.95,
        "cost_basis": str(table.meta.get("cost_basis", "recorded costs" if has_costs else "none")),
        "costs_available": has_costs,
        "source": str(table.meta.get("source", table.name)),
        "embedder": None if embedder is None else embedder.name,
        "wayfare_version": __version__,
    }
