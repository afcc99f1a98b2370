"""The benchmarks shipped in the package load offline, keep their split info and carry no GPQA rows."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import orjson
import pytest

from wayfare.data import BENCHMARKS, DataFormatError, bundled_path, load_benchmark

ROUTELLM_STRONG = "gpt-4-1106-preview"
ROUTELLM_WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"


@pytest.mark.parametrize(
    ("name", "n", "weak_acc", "strong_acc"), [("mmlu", 14037, 0.6809, 0.8059), ("gsm8k", 1307, 0.6373, 0.8577)]
)
def test_routellm_benchmarks(name: str, n: int, weak_acc: float, strong_acc: float) -> None:
    table = load_benchmark(name)
    assert len(table) == n
    assert (table.strong, table.weak) == (ROUTELLM_STRONG, ROUTELLM_WEAK)
    assert set(np.unique(table.scores)) <= {0.0, 1.0}
    means = table.mean_scores()
    assert means[ROUTELLM_WEAK] == pytest.approx(weak_acc, abs=1e-4)
    assert means[ROUTELLM_STRONG] == pytest.approx(strong_acc, abs=1e-4)
    # costs are filled from list prices; GPT-4 costs more than Mixtral on every prompt
    assert table.costs is not None
    assert (table.column(ROUTELLM_STRONG) >= 0).all()
    assert (table.costs[:, table.model_index(ROUTELLM_STRONG)] > table.costs[:, table.model_index(ROUTELLM_WEAK)]).all()
    basis = str(table.meta["cost_basis"])
    assert "prices.json" in basis and "estimated" in basis
    assert table.meta["input_tokens_estimated"] is True
    assert "RouteLLM" in str(table.meta["source"])
    assert len(set(table.prompt_ids)) == n


def test_mmlu_categories_are_subjects() -> None:
    table = load_benchmark("mmlu")
    assert table.categories is not None
    assert len(set(table.categories)) == 57
    assert "professional_law" in table.categories


def test_llmrouter_bundle_keeps_splits() -> None:
    table = load_benchmark("llmrouter")
    train, test = table.meta["train_rows"], table.meta["test_rows"]
    assert isinstance(train, list) and isinstance(test, list)
    assert len(train) == 5160 and len(test) == 381
    assert sorted(train + test) == list(range(len(table)))
    train_prompts = {table.prompts[i] for i in train}
    assert not any(table.prompts[i] in train_prompts for i in test)
    assert len(table.models) == 9
    assert table.costs is not None and not np.isnan(table.costs).any()


def test_no_bundled_row_is_gpqa() -> None:
    for name in BENCHMARKS:
        with gzip.open(bundled_path(name), "rb") as fh:
            for line in fh:
                row = orjson.loads(line)
                if "wayfare_table" in row:
                    continue
                assert "gpqa" not in str(row.get("category", "")).lower(), row["id"]
                assert "cluster_id" not in row


def test_bundle_is_small() -> None:
    total = sum(Path(bundled_path(n)).stat().st_size for n in BENCHMARKS)
    assert total < 5_000_000


def test_unknown_benchmark() -> None:
    with pytest.raises(DataFormatError, match="built-in benchmarks: mmlu, gsm8k, llmrouter"):
        load_benchmark("mt-bench-xx")


def test_pair_override() -> None:
    table = load_benchmark("llmrouter", strong="llama-3.1-nemotron-51b-instruct", weak="gemma-2-9b-it")
    assert table.is_pair
    with pytest.raises(DataFormatError, match="not in llmrouter"):
        load_benchmark("llmrouter", strong="gpt-5")


SHARED = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


@pytest.mark.skipif(not (SHARED / "routellm").is_dir(), reason=f"real RouteLLM data not found at {SHARED}/routellm")
@pytest.mark.parametrize("name", ["mmlu", "gsm8k"])
def test_bundle_matches_source(name: str) -> None:
    from wayfare.data import load_table

    src = load_table(SHARED / "routellm" / name, f"routellm-{name}")
    bundled = load_benchmark(name)
    assert bundled.prompts == src.prompts and bundled.prompt_ids == src.prompt_ids
    np.testing.assert_array_equal(bundled.scores, src.scores)
    assert bundled.costs is not None and src.costs is not None
    np.testing.assert_allclose(bundled.costs, src.costs)


@pytest.mark.skipif(not (SHARED / "llmrouter").is_dir(), reason=f"real LLMRouter data not found at {SHARED}/llmrouter")
def test_no_gpqa_text_in_bundle() -> None:
    """No bundled prompt is the text of a GPQA question from the source data (whatever its category says)."""
    gpqa = set()
    for split in ("train", "test"):
        for line in (SHARED / "llmrouter" / "query_data" / f"default_query_{split}.jsonl").read_bytes().splitlines():
            row = orjson.loads(line)
            if row["task_name"] == "gpqa":
                gpqa.add(row["query"])
    assert len(gpqa) > 400
    for name in BENCHMARKS:
        assert not gpqa & set(load_benchmark(name).prompts), name
