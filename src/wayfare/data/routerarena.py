"""RouterArena cached model results: a directory with one ``<model>.jsonl`` per model.

Rows: ``{global_index, question, llm_selected, generated_answer, token_usage: {input_tokens, output_tokens},
success, evaluation_result: {score, inference_cost, metric, ground_truth}}``. Models are joined on
``global_index``. ``join="inner"`` (default) keeps only indices every model answered; ``join="outer"`` keeps all
and leaves NaN where a model has no row. Cost = ``inference_cost`` (USD per call), tokens from ``token_usage``;
a failed call (``success`` false) scores 0.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
import orjson

from wayfare.data.errors import DataFormatError
from wayfare.data.prices import PriceTable, fill_costs
from wayfare.data.table import ResultsTable

Record = tuple[float, float, float, float]  # score, cost, input tokens, output tokens


def _num(value: object, where: str, what: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataFormatError(f"{where}: {what} must be a number, got {value!r}")
    return float(value)


def _read_model(path: Path) -> tuple[dict[int, Record], dict[int, str]]:
    records: dict[int, Record] = {}
    questions: dict[int, str] = {}
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read: {exc}") from exc
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            r = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise DataFormatError(f"{where}: not valid JSON: {exc}") from None
        if not isinstance(r, dict) or not isinstance(r.get("global_index"), int):
            raise DataFormatError(f"{where}: expected an object with an integer 'global_index'")
        if not isinstance(r.get("question"), str):
            raise DataFormatError(f"{where}: 'question' must be a string")
        gi = r["global_index"]
        if gi in records:
            raise DataFormatError(f"{where}: duplicate global_index {gi}")
        ev = r.get("evaluation_result") or {}
        usage = r.get("token_usage") or {}
        if not isinstance(ev, dict) or not isinstance(usage, dict):
            raise DataFormatError(f"{where}: 'evaluation_result' and 'token_usage' must be objects")
        success = r.get("success", True) is not False
        raw_score = ev.get("score")
        raw_score = float(raw_score) if isinstance(raw_score, bool) else raw_score  # true/false metrics
        score = _num(raw_score, where, "evaluation_result.score") if success else 0.0
        if success and not math.isnan(score) and not (0.0 <= score <= 1.0):  # a missing score stays NaN
            raise DataFormatError(f"{where}: evaluation_result.score must be in [0, 1], got {score}")
        records[gi] = (
            score,
            _num(ev.get("inference_cost"), where, "evaluation_result.inference_cost"),
            _num(usage.get("input_tokens"), where, "token_usage.input_tokens"),
            _num(usage.get("output_tokens"), where, "token_usage.output_tokens"),
        )
        questions[gi] = r["question"]
    return records, questions


def load_routerarena(
    path: str | Path, *, prices: PriceTable | None = None, join: Literal["inner", "outer"] = "inner"
) -> ResultsTable:
    """RouterArena cached results as a table (model name = file stem)."""
    root = Path(path)
    files = sorted(root.glob("*.jsonl")) if root.is_dir() else []
    if not files:
        raise DataFormatError(f"{root}: RouterArena format needs a directory of <model>.jsonl files")
    if join not in ("inner", "outer"):
        raise DataFormatError(f"join must be 'inner' or 'outer', got {join!r}")
    models = [f.stem for f in files]
    per_model: list[dict[int, Record]] = []
    questions: dict[int, str] = {}
    for f in files:
        records, qs = _read_model(f)
        per_model.append(records)
        for gi, q in qs.items():
            questions.setdefault(gi, q)
    keys = [set(r) for r in per_model]
    index = sorted(set.intersection(*keys) if join == "inner" else set.union(*keys))
    if not index:
        raise DataFormatError(f"{root}: no global_index is answered by every model (try join='outer')")
    arrs = np.full((4, len(index), len(models)), np.nan, dtype=np.float64)
    for j, records in enumerate(per_model):
        for i, gi in enumerate(index):
            if gi in records:
                arrs[:, i, j] = records[gi]

    def known(a: np.ndarray) -> np.ndarray | None:
        return None if np.isnan(a).all() else a

    meta: dict[str, object] = {
        "source": str(root),
        "format": "routerarena",
        "join": join,
        "n_indices_union": len(set.union(*keys)),
        "failed_calls": "rows with success false score 0",
    }
    table = ResultsTable(
        name=root.name or "routerarena",
        prompt_ids=[str(gi) for gi in index],
        prompts=[questions[gi] for gi in index],
        models=models,
        scores=arrs[0],
        costs=known(arrs[1]),
        input_tokens=known(arrs[2]),
        output_tokens=known(arrs[3]),
        meta=meta,
    )
    return fill_costs(table, prices)
