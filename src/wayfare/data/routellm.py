"""RouteLLM's MMLU and GSM8K evaluation CSVs (github.com/lm-sys/RouteLLM, ``routellm/evals/``).

Per-prompt correctness (bool columns) of GPT-4-1106 (strong) and Mixtral-8x7B (weak). Prompts equal to an
``eval_prompt`` in ``contaminated_prompts.jsonl`` are dropped, as RouteLLM's own harness does.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from wayfare.data.errors import DataFormatError
from wayfare.data.jsonlines import json_objects
from wayfare.data.prices import CHARS_PER_TOKEN, PriceTable, estimate_tokens, fill_costs
from wayfare.data.table import ResultsTable

STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
MODELS = [WEAK, STRONG]
CONTAMINATED = "contaminated_prompts.jsonl"


def _bool(value: str, where: str) -> float:
    v = value.strip().lower()
    if v in ("true", "1", "1.0"):
        return 1.0
    if v in ("false", "0", "0.0"):
        return 0.0
    raise DataFormatError(f"{where}: expected True/False, got {value!r}")


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    csv.field_size_limit(sys.maxsize)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in ["prompt", *MODELS] if c not in (reader.fieldnames or [])]
            if missing:
                raise DataFormatError(f"{path}: missing column(s) {', '.join(missing)}")
            yield from enumerate(reader)
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read: {exc}") from exc


def contaminated_prompts(path: Path) -> set[str]:
    """The ``eval_prompt`` values of a RouteLLM ``contaminated_prompts.jsonl`` (empty set if the file is absent)."""
    if not path.is_file():
        return set()
    out: set[str] = set()
    for lineno, obj in json_objects(path):
        prompt = obj.get("eval_prompt")
        if not isinstance(prompt, str):
            raise DataFormatError(f"{path}:{lineno}: expected an object with a string 'eval_prompt'")
        out.add(prompt)
    return out


def _table(
    name: str,
    ids: list[str],
    prompts: list[str],
    scores: list[list[float]],
    categories: list[str] | None,
    out_tokens: list[list[float]],
    meta: dict[str, object],
    prices: PriceTable | None,
) -> ResultsTable:
    tin = np.array([[estimate_tokens(p)] * len(MODELS) for p in prompts], dtype=np.float64)
    meta = {
        **meta,
        "input_tokens_estimated": True,
        "input_tokens_basis": (
            f"input tokens estimated from the question text as ceil(chars/{CHARS_PER_TOKEN:g}); "
            "the few-shot prefix RouteLLM prepended is not counted"
        ),
    }
    table = ResultsTable(
        name=name,
        prompt_ids=ids,
        prompts=prompts,
        models=list(MODELS),
        scores=np.array(scores, dtype=np.float64).reshape(len(prompts), len(MODELS)),
        input_tokens=tin,
        output_tokens=np.array(out_tokens, dtype=np.float64).reshape(len(prompts), len(MODELS)),
        categories=categories,
        strong=STRONG,
        weak=WEAK,
        meta=meta,
    )
    return fill_costs(table, prices)


def load_routellm_mmlu(path: str | Path, *, prices: PriceTable | None = None) -> ResultsTable:
    """RouteLLM MMLU: ``path`` holds ``mmlu_<subject>.csv`` files (directly or under ``responses/``).

    Category = subject. Output tokens = 1 (RouteLLM generated one token per answer). Contaminated prompts are read
    from ``contaminated_prompts.jsonl`` in ``path`` (or its parent when ``path`` is ``responses/``).
    """
    root = Path(path)
    csv_dir = root / "responses" if (root / "responses").is_dir() else root
    files = sorted(csv_dir.glob("mmlu_*.csv"))
    if not files:
        raise DataFormatError(f"{root}: no mmlu_<subject>.csv files (RouteLLM MMLU format)")
    cont_path = root / CONTAMINATED if (root / CONTAMINATED).is_file() else csv_dir.parent / CONTAMINATED
    dropped = contaminated_prompts(cont_path)
    ids, prompts, cats, scores = [], [], [], []
    total = 0
    for f in files:
        subject = f.stem.removeprefix("mmlu_")
        for i, rec in _read_csv(f):
            total += 1
            if rec["prompt"] in dropped:
                continue
            where = f"{f}: record {i + 1}"
            ids.append(f"mmlu/{subject}/{i}")
            prompts.append(rec["prompt"])
            cats.append(subject)
            scores.append([_bool(rec[m], where) for m in MODELS])
    meta: dict[str, object] = {
        "source": str(root),
        "format": "routellm-mmlu",
        "n_source_rows": total,
        "n_contaminated_dropped": total - len(prompts),
        "output_tokens_basis": "output tokens = 1 (RouteLLM scored one generated token per MMLU answer)",
    }
    out = [[1.0, 1.0] for _ in prompts]
    return _table("mmlu", ids, prompts, scores, cats, out, meta, prices)


def load_routellm_gsm8k(path: str | Path, *, prices: PriceTable | None = None) -> ResultsTable:
    """RouteLLM GSM8K: ``gsm8k_responses.csv`` (``path`` is the file or its directory).

    Output tokens are estimated from each model's recorded response as ``ceil(chars/4)``.
    """
    p = Path(path)
    csv_path = p / "gsm8k_responses.csv" if p.is_dir() else p
    if not csv_path.is_file():
        raise DataFormatError(f"{csv_path}: no such file (RouteLLM GSM8K format needs gsm8k_responses.csv)")
    dropped = contaminated_prompts(csv_path.parent / CONTAMINATED)
    ids, prompts, scores, out = [], [], [], []
    total = 0
    has_responses = True
    for i, rec in _read_csv(csv_path):
        total += 1
        has_responses = has_responses and all(f"{m}_response" in rec for m in MODELS)
        if rec["prompt"] in dropped:
            continue
        where = f"{csv_path}: record {i + 1}"
        ids.append(f"gsm8k/{i}")
        prompts.append(rec["prompt"])
        scores.append([_bool(rec[m], where) for m in MODELS])
        out.append([float(estimate_tokens(rec.get(f"{m}_response") or "")) for m in MODELS])
    meta: dict[str, object] = {
        "source": str(csv_path),
        "format": "routellm-gsm8k",
        "n_source_rows": total,
        "n_contaminated_dropped": total - len(prompts),
        "output_tokens_estimated": True,
        "output_tokens_basis": (
            f"output tokens estimated from the recorded responses as ceil(chars/{CHARS_PER_TOKEN:g})"
            if has_responses
            else "output tokens unknown (no response columns): counted as 0"
        ),
    }
    return _table("gsm8k", ids, prompts, scores, None, out, meta, prices)
