"""LLMRouter's per-query results (github.com/ulab-uiuc/LLMRouter, ``data/dcrouter_preprocessed``).

``dcrouter_preprocessed/{train,test}.json`` hold each question and the score of every model; the task comes from
joining the question to ``query_data/default_query_{train,test}.jsonl`` (first occurrence of the exact text).
Test questions that also appear in train are dropped from test. ``cluster_id`` is never read: upstream computed it
from the score vectors, so it is the label in disguise.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from pathlib import Path

import numpy as np
import orjson

from wayfare.data.errors import DataFormatError
from wayfare.data.jsonlines import json_objects
from wayfare.data.prices import ModelPrice, PriceTable, fill_costs
from wayfare.data.table import ResultsTable

SPLITS = ("train", "test")
READ_KEYS = ("question", "scores")
"""The only keys read from a dcrouter row (``cluster_id`` and anything else are ignored)."""


def _load_json(path: Path) -> object:
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read: {exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: not valid JSON: {exc}") from None


def _tasks(path: Path) -> dict[str, str]:
    """query text -> task_name, first occurrence wins."""
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file (LLMRouter query_data is needed for the task of each row)")
    out: dict[str, str] = {}
    for lineno, obj in json_objects(path):
        query = obj.get("query")
        if not isinstance(query, str):
            raise DataFormatError(f"{path}:{lineno}: expected an object with a string 'query'")
        out.setdefault(query, str(obj.get("task_name") or "unknown"))
    return out


def llmrouter_prices(path: str | Path) -> PriceTable:
    """List prices from an LLMRouter ``llm_candidates/default_llm.json`` (``input_price`` / ``output_price``)."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict):
        raise DataFormatError(f"{path}: expected an object of models")
    prices: dict[str, ModelPrice] = {}
    for name, entry in data.items():
        try:
            p_in, p_out = float(entry["input_price"]), float(entry["output_price"])
        except (KeyError, TypeError, ValueError):
            raise DataFormatError(f"{path}: model {name!r} needs numeric input_price and output_price") from None
        prices[name] = ModelPrice(p_in, p_out, f"LLMRouter list price ({entry.get('service', '?')} API)", "")
    return PriceTable(prices, source=str(path))


def load_llmrouter(
    path: str | Path, *, prices: PriceTable | None = None, exclude_tasks: Collection[str] = ()
) -> ResultsTable:
    """Both splits of LLMRouter in one table; ``meta["train_rows"]`` / ``meta["test_rows"]`` index them.

    ``path`` is the directory holding ``dcrouter_preprocessed/``, ``query_data/`` and (for prices)
    ``llm_candidates/default_llm.json``; without ``prices`` the latter is used, else the shipped table.
    Rows of ``exclude_tasks`` (e.g. ``{"gpqa"}``) are left out.
    """
    root = Path(path)
    if prices is None:
        cand = root / "llm_candidates" / "default_llm.json"
        prices = llmrouter_prices(cand) if cand.is_file() else None
    ids: list[str] = []
    prompts: list[str] = []
    cats: list[str] = []
    rows_scores: list[dict[str, float]] = []
    split_rows: dict[str, list[int]] = {s: [] for s in SPLITS}
    seen_train: set[str] = set()
    seen: set[str] = set()
    counts: dict[str, object] = {}
    for split in SPLITS:
        data_path = root / "dcrouter_preprocessed" / f"{split}.json"
        if not data_path.is_file():
            raise DataFormatError(f"{data_path}: no such file (LLMRouter format)")
        data = _load_json(data_path)
        if not isinstance(data, list):
            raise DataFormatError(f"{data_path}: expected a JSON array of rows")
        tasks = _tasks(root / "query_data" / f"default_query_{split}.jsonl")
        leaked = duplicates = excluded = unmatched = 0
        for i, raw in enumerate(data):
            if not isinstance(raw, dict):
                raise DataFormatError(f"{data_path}: row {i} is not an object")
            row = {k: raw.get(k) for k in READ_KEYS}
            question, scores = row["question"], row["scores"]
            if not isinstance(question, str) or not isinstance(scores, dict) or not scores:
                raise DataFormatError(f"{data_path}: row {i} needs a string 'question' and a 'scores' object")
            if split == "test" and question in seen_train:
                leaked += 1
                continue
            if question in seen:
                duplicates += 1
                continue
            seen.add(question)
            if split == "train":
                seen_train.add(question)  # before exclusion: an excluded train text still leaks into test
            task = tasks.get(question, "unknown")
            unmatched += task == "unknown"
            if task in exclude_tasks:
                excluded += 1
                continue
            parsed: dict[str, float] = {}
            for model, value in scores.items():
                if not isinstance(value, int | float) or not math.isfinite(value) or not 0 <= value <= 1:
                    raise DataFormatError(f"{data_path}: row {i}: score of {model!r} must be in [0, 1], got {value!r}")
                parsed[str(model)] = float(value)
            split_rows[split].append(len(prompts))
            ids.append(f"llmrouter/{split}/{i}")
            prompts.append(question)
            cats.append(task)
            rows_scores.append(parsed)
        counts[split] = {
            "source_rows": len(data),
            "kept": len(split_rows[split]),
            "dropped_in_train": leaked,
            "dropped_duplicate": duplicates,
            "dropped_excluded_task": excluded,
            "no_task_match": unmatched,
        }
    if not prompts:
        raise DataFormatError(f"{root}: no rows left")
    models = sorted({m for s in rows_scores for m in s})
    scores_arr = np.array([[s.get(m, np.nan) for m in models] for s in rows_scores], dtype=np.float64)
    meta: dict[str, object] = {
        "source": str(root),
        "format": "llmrouter",
        "train_rows": split_rows["train"],
        "test_rows": split_rows["test"],
        "split_counts": counts,
        "excluded_tasks": sorted(exclude_tasks),
        "dedup": "test questions whose exact text is in train are dropped from test",
    }
    table = ResultsTable(
        name="llmrouter",
        prompt_ids=ids,
        prompts=prompts,
        models=models,
        scores=scores_arr,
        categories=cats,
        meta=meta,
    )
    return fill_costs(table, prices)
