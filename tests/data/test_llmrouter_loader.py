"""LLMRouter loader: task join, train/test de-duplication, split rows, list-price costs, no cluster_id leak."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from wayfare.data import DataFormatError, PriceTable, load_llmrouter, load_table

FIX = Path(__file__).parent / "fixtures" / "llmrouter"
SHARED = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
MODELS = ["gemma-2-9b-it", "llama3-chatqa-1.5-70b", "qwen2.5-7b-instruct"]


def test_fixture_splits_and_tasks() -> None:
    t = load_llmrouter(FIX)
    assert t.models == MODELS
    assert t.prompt_ids == [f"llmrouter/train/{i}" for i in range(5)] + ["llmrouter/test/1", "llmrouter/test/2"]
    assert t.meta["train_rows"] == [0, 1, 2, 3, 4]
    assert t.meta["test_rows"] == [5, 6]
    # first occurrence of a text in query_data wins (openbook_qa before arc_challenge)
    assert t.categories == ["gsm8k", "mbpp", "openbook_qa", "commongen", "gpqa", "gsm8k", "trivia_qa"]
    np.testing.assert_array_equal(t.scores[3], [0.75, 0.25, 0.5])
    counts = t.meta["split_counts"]
    assert isinstance(counts, dict) and counts["test"]["dropped_in_train"] == 1
    assert t.strong is None and t.weak is None


def test_costs_from_candidate_list_prices() -> None:
    t = load_llmrouter(FIX)
    assert t.costs is not None and t.input_tokens is not None
    # equal in/out prices 0.1 / 0.9 / 0.2 per 1M; no output tokens in the data -> input tokens only
    np.testing.assert_allclose(t.costs[0], t.input_tokens[0] * np.array([0.1, 0.9, 0.2]) / 1e6)
    assert "default_llm.json" in str(t.meta["cost_basis"]) and "input tokens only" in str(t.meta["cost_basis"])
    custom = load_llmrouter(
        FIX, prices=PriceTable.from_dict({"models": {m: {"input": 1, "output": 1} for m in MODELS}})
    )
    assert custom.costs is not None and custom.costs[0, 0] == pytest.approx(custom.costs[0, 1])


def test_exclude_tasks() -> None:
    t = load_llmrouter(FIX, exclude_tasks={"gpqa"})
    assert t.categories is not None and "gpqa" not in t.categories
    assert t.meta["train_rows"] == [0, 1, 2, 3] and t.meta["test_rows"] == [4, 5]


def test_cluster_id_cannot_leak(tmp_path: Path) -> None:
    """Changing or removing cluster_id changes nothing in the table."""
    shutil.copytree(FIX, tmp_path / "d")
    path = tmp_path / "d" / "dcrouter_preprocessed" / "train.json"
    rows = json.loads(path.read_text())
    for i, r in enumerate(rows):
        r["cluster_id"] = 100 + i
    path.write_text(json.dumps(rows))
    a, b = load_llmrouter(FIX), load_llmrouter(tmp_path / "d")
    for r in rows:
        del r["cluster_id"]
    path.write_text(json.dumps(rows))
    c = load_llmrouter(tmp_path / "d")
    for other in (b, c):
        np.testing.assert_array_equal(a.scores, other.scores)
        assert (a.prompts, a.categories, a.models) == (other.prompts, other.categories, other.models)
    assert "cluster" not in repr({k: v for k, v in a.meta.items()}).lower()
    assert "cluster" not in " ".join(a.models).lower()


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no such file"):
        load_llmrouter(tmp_path)
    shutil.copytree(FIX, tmp_path / "d")
    path = tmp_path / "d" / "dcrouter_preprocessed" / "test.json"
    path.write_text(json.dumps([{"question": "x", "scores": {"gemma-2-9b-it": 3}}]))
    with pytest.raises(DataFormatError, match=r"row 0: score of 'gemma-2-9b-it' must be in \[0, 1\]"):
        load_llmrouter(tmp_path / "d")


@pytest.mark.skipif(not (SHARED / "llmrouter").is_dir(), reason=f"real LLMRouter data not found at {SHARED}/llmrouter")
def test_real_llmrouter() -> None:
    t = load_table(SHARED / "llmrouter", "llmrouter")
    train, test = t.meta["train_rows"], t.meta["test_rows"]
    assert isinstance(train, list) and isinstance(test, list)
    assert len(train) == 5608 and len(test) == 500 - 119
    assert len(t.models) == 9 and set(t.categories or []) >= {"gpqa", "mmlu", "commongen"}
    # README: train mean of llama-3.1-nemotron-51b-instruct 0.621
    assert float(np.mean(t.column("llama-3.1-nemotron-51b-instruct")[train])) == pytest.approx(0.621, abs=0.001)
    assert t.costs is not None and not np.isnan(t.costs).any()
