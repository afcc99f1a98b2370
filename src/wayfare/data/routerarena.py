"""RouterArena cached model results (github.com/RouteWorks/RouterArena): one ``<model>.jsonl`` per model.

``path`` is the ``cached_results/`` directory or the directory holding it. Rows: ``{global_index, question,
llm_selected, generated_answer, token_usage: {input_tokens, output_tokens, total_tokens}, success, error,
evaluation_result: {score, inference_cost, metric, ground_truth}}``. ``global_index`` is a string such as
``"GSM8K_43"`` or ``"MMLUPro_biology_3310"`` (integers are accepted too); the text before its last underscore is
the prompt's category. Models (named by file stem) are joined on ``global_index``: ``join="inner"`` (default) keeps
only indices every model answered, ``join="outer"`` keeps all and leaves NaN where a model has no row.

Scores are ``evaluation_result.score``. A few metric-based scores fall slightly outside [0, 1] upstream (e.g.
-0.033): scores in [-1, 2] are clipped to [0, 1] and counted per model in ``meta["n_scores_clipped"]``; a score
outside [-1, 2] is not a [0, 1] metric and is an error. A failed call (``success`` false) scores 0 and is counted in
``meta["n_failed_calls"]``. Cost = ``inference_cost`` (USD per call), tokens from ``token_usage``. Where a row has no
``inference_cost``, the cost is computed from its tokens and the list prices of ``model_cost/cost.json`` (in
``path``, or next to ``cached_results/``; USD per 1M input / output tokens), falling back to Wayfare's price table
for models it does not list; an explicit ``prices`` replaces both.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from wayfare.data.errors import DataFormatError
from wayfare.data.jsonlines import json_objects
from wayfare.data.prices import ModelPrice, PriceTable, fill_costs
from wayfare.data.table import ResultsTable

Record = tuple[float, float, float, float]  # score, cost, input tokens, output tokens
CLIP_MIN, CLIP_MAX = -1.0, 2.0
"""Scores in [CLIP_MIN, CLIP_MAX] are clipped to [0, 1]; beyond, the metric is not a [0, 1] score at all."""
RESULTS_DIR = "cached_results"
COST_FILE = Path("model_cost") / "cost.json"


@dataclass
class _ModelRows:
    records: dict[str, Record] = field(default_factory=dict)
    questions: dict[str, str] = field(default_factory=dict)
    n_clipped: int = 0
    n_failed: int = 0


def _num(value: object, where: str, what: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataFormatError(f"{where}: {what} must be a number, got {value!r}")
    return float(value)


def category(index: str) -> str:
    """The dataset of a RouterArena index: the text before its last underscore (``"GSM8K_43"`` -> ``"GSM8K"``)."""
    return index.rpartition("_")[0]


def _sort_key(index: str) -> tuple[str, int, str]:
    """Dataset, then the number after the last underscore (integer indices sort numerically)."""
    prefix, _, number = index.rpartition("_")
    return (prefix, int(number), "") if number.isdigit() else (index, -1, index)


def _read_model(path: Path) -> _ModelRows:
    out = _ModelRows()
    for lineno, r in json_objects(path):
        where = f"{path}:{lineno}"
        gi = r.get("global_index")
        if isinstance(gi, bool) or not isinstance(gi, int | str) or gi == "":
            raise DataFormatError(f"{where}: expected a string or integer 'global_index', got {gi!r}")
        index = str(gi)
        question = r.get("question")
        if not isinstance(question, str):
            raise DataFormatError(f"{where}: 'question' must be a string")
        if index in out.records:
            raise DataFormatError(f"{where}: duplicate global_index {index}")
        ev = r.get("evaluation_result") or {}
        usage = r.get("token_usage") or {}
        if not isinstance(ev, dict) or not isinstance(usage, dict):
            raise DataFormatError(f"{where}: 'evaluation_result' and 'token_usage' must be objects")
        if r.get("success", True) is False:
            score = 0.0
            out.n_failed += 1
        else:
            raw_score = ev.get("score")
            raw_score = float(raw_score) if isinstance(raw_score, bool) else raw_score  # true/false metrics
            score = _num(raw_score, where, "evaluation_result.score")  # a missing score stays NaN
            if not math.isnan(score) and not 0.0 <= score <= 1.0:
                if not CLIP_MIN <= score <= CLIP_MAX:
                    raise DataFormatError(
                        f"{where}: evaluation_result.score {score:g} is not a [0, 1] score "
                        f"(only scores in [{CLIP_MIN:g}, {CLIP_MAX:g}] are clipped to [0, 1])"
                    )
                score = min(max(score, 0.0), 1.0)
                out.n_clipped += 1
        out.records[index] = (
            score,
            _num(ev.get("inference_cost"), where, "evaluation_result.inference_cost"),
            _num(usage.get("input_tokens"), where, "token_usage.input_tokens"),
            _num(usage.get("output_tokens"), where, "token_usage.output_tokens"),
        )
        out.questions[index] = question
    return out


def read_cost_file(path: Path) -> PriceTable:
    """RouterArena's ``model_cost/cost.json``: ``{model: {input_token_price_per_million, output_...}}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise DataFormatError(f"{path}: expected an object of model -> prices")
    prices: dict[str, ModelPrice] = {}
    for name, entry in data.items():
        try:
            p_in = float(entry["input_token_price_per_million"])
            p_out = float(entry["output_token_price_per_million"])
        except (KeyError, TypeError, ValueError):
            raise DataFormatError(
                f"{path}: {name!r} needs numeric 'input_token_price_per_million' and 'output_token_price_per_million'"
            ) from None
        if not (math.isfinite(p_in) and math.isfinite(p_out) and p_in >= 0 and p_out >= 0):
            raise DataFormatError(f"{path}: {name!r} has a negative or non-finite price")
        prices[str(name)] = ModelPrice(p_in, p_out, source="RouterArena model_cost/cost.json")
    return PriceTable(prices, source=str(path))


def _locate(root: Path) -> tuple[Path, Path | None]:
    """The directory of ``<model>.jsonl`` files and RouterArena's ``cost.json`` if there is one."""
    results = root / RESULTS_DIR if (root / RESULTS_DIR).is_dir() else root
    candidates = [root / COST_FILE]
    if results.resolve().name == RESULTS_DIR:
        candidates.append(results.resolve().parent / COST_FILE)
    return results, next((c for c in candidates if c.is_file()), None)


def load_routerarena(
    path: str | Path, *, prices: PriceTable | None = None, join: Literal["inner", "outer"] = "inner"
) -> ResultsTable:
    """RouterArena cached results as a table (model name = file stem, category = dataset of the index)."""
    root = Path(path)
    if join not in ("inner", "outer"):
        raise DataFormatError(f"join must be 'inner' or 'outer', got {join!r}")
    results, cost_file = _locate(root)
    files = sorted(results.glob("*.jsonl")) if results.is_dir() else []
    if not files:
        raise DataFormatError(
            f"{root}: RouterArena format needs a directory of <model>.jsonl files (or one holding {RESULTS_DIR}/)"
        )
    models = [f.stem for f in files]
    per_model = [_read_model(f) for f in files]
    questions: dict[str, str] = {}
    for rows in per_model:
        for gi, q in rows.questions.items():
            questions.setdefault(gi, q)
    keys = [set(rows.records) for rows in per_model]
    index = sorted(set.intersection(*keys) if join == "inner" else set.union(*keys), key=_sort_key)
    if not index:
        raise DataFormatError(f"{root}: no global_index is answered by every model (try join='outer')")
    arrs = np.full((4, len(index), len(models)), np.nan, dtype=np.float64)
    for j, rows in enumerate(per_model):
        for i, gi in enumerate(index):
            if gi in rows.records:
                arrs[:, i, j] = rows.records[gi]

    def known(a: np.ndarray) -> np.ndarray | None:
        return None if np.isnan(a).all() else a

    cats = [category(gi) for gi in index]
    meta: dict[str, object] = {
        "source": str(root),
        "format": "routerarena",
        "join": join,
        "n_indices_union": len(set.union(*keys)),
        "score_transform": f"evaluation_result.score; scores in [{CLIP_MIN:g}, 0) or (1, {CLIP_MAX:g}] clipped to "
        "[0, 1]; a failed call (success false) scores 0",
        "n_scores_clipped": {m: rows.n_clipped for m, rows in zip(models, per_model, strict=True)},
        "n_failed_calls": {m: rows.n_failed for m, rows in zip(models, per_model, strict=True)},
        "price_file": None,
    }
    if prices is None and cost_file is not None:
        default = PriceTable.default()
        listed = read_cost_file(cost_file)
        prices = PriceTable({**default.prices, **listed.prices}, source=f"{cost_file} (else {default.source})")
        meta["price_file"] = str(cost_file)
    table = ResultsTable(
        name=(results.resolve().parent.name if results.resolve().name == RESULTS_DIR else results.resolve().name)
        or "routerarena",
        prompt_ids=index,
        prompts=[questions[gi] for gi in index],
        models=models,
        scores=arrs[0],
        costs=known(arrs[1]),
        input_tokens=known(arrs[2]),
        output_tokens=known(arrs[3]),
        categories=cats if any(cats) else None,
        meta=meta,
    )
    need = ~np.isnan(table.scores)
    if table.costs is not None:
        need &= np.isnan(table.costs)
    table = fill_costs(table, prices)
    if table.costs is None or not need.any():
        return table
    filled = need & ~np.isnan(table.costs)
    by_model = {m: int(filled[:, j].sum()) for j, m in enumerate(models)}
    return replace(table, meta={**table.meta, "n_costs_from_list_prices": by_model})
