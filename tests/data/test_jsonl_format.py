"""Wayfare's own JSONL results format: reading, writing, round trips and line-numbered errors."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from wayfare.data import DataFormatError, load_benchmark, load_jsonl, load_table, save_jsonl

FIX = Path(__file__).parent / "fixtures" / "traffic.jsonl"
GPT4, MIXTRAL = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"


def test_read_traffic_fixture() -> None:
    t = load_table(FIX, "jsonl")
    assert t.name == "traffic"
    assert t.prompt_ids == ["req-1", "req-2", "req-3"]
    assert t.models == [GPT4, MIXTRAL]
    # the last user message is the routed text, list-of-parts content joined
    assert t.prompts[1] == "Prove that sqrt(2) is irrational."
    assert t.categories == ["summarise", "math", ""]
    np.testing.assert_array_equal(t.scores[:2], [[1.0, 1.0], [0.9, 0.2]])
    assert t.scores[2, 0] == 1.0 and math.isnan(t.scores[2, 1])
    # recorded costs kept; missing ones priced from the list-price table with estimated input tokens
    assert t.costs is not None and t.costs[0, 0] == pytest.approx(0.0012)
    assert t.costs[1, 0] == pytest.approx(math.ceil(len(t.prompts[1]) / 4) * 10 / 1e6)
    assert math.isnan(t.costs[2, 1])
    assert "recorded" in str(t.meta["cost_basis"]) and "estimated" in str(t.meta["cost_basis"])


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    t = load_jsonl(FIX)
    path = save_jsonl(t, tmp_path / "out.jsonl.gz")
    back = load_jsonl(path)
    assert back.prompt_ids == t.prompt_ids and back.prompts == t.prompts and back.models == t.models
    np.testing.assert_array_equal(back.scores, t.scores)
    assert back.costs is not None and t.costs is not None
    np.testing.assert_allclose(back.costs, t.costs)
    assert back.categories == t.categories


def test_round_trip_splits_and_pair(tmp_path: Path) -> None:
    t = load_benchmark("gsm8k").subset(range(10))
    t = replace(t, meta={**t.meta, "train_rows": [0, 1, 2, 3, 4, 5, 6], "test_rows": [7, 8, 9]})
    back = load_jsonl(save_jsonl(t, tmp_path / "g.jsonl"))
    assert (back.strong, back.weak) == (t.strong, t.weak)
    assert back.meta["train_rows"] == [0, 1, 2, 3, 4, 5, 6] and back.meta["test_rows"] == [7, 8, 9]
    assert back.output_tokens is not None and t.output_tokens is not None
    np.testing.assert_array_equal(back.output_tokens, t.output_tokens)
    headerless = load_jsonl(save_jsonl(t, tmp_path / "h.jsonl", header=False))
    assert headerless.strong is None and headerless.meta["test_rows"] == [7, 8, 9]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": 1, "prompt": "p", "results": {"m": {"score": 1}}}', "not json"], r"bad\.jsonl:2: not valid JSON"),
        (['{"id": 1, "results": {"m": {"score": 1}}}'], r":1: give exactly one of 'prompt' or 'messages'"),
        (
            ['{"id": 1, "prompt": "p", "results": {"m": {"score": 7}}}'],
            r":1: results\.m\.score: score must be in \[0, 1\]",
        ),
        (['{"id": 1, "prompt": "p", "results": {}}'], r":1: 'results' is empty"),
        (['{"prompt": "p", "results": {"m": {"score": 1}}}'], r":1: id: Field required"),
        (
            ['{"id": 1, "messages": [{"role": "system", "content": "s"}], "results": {"m": {"score": 1}}}'],
            r":1: 'messages' has no message with role 'user'",
        ),
        (
            ['{"id": 1, "prompt": "p", "results": {"m": {"score": 1}}}', '{"id": 1, "prompt": "q", "results": {}}'],
            r":2: ",
        ),
        (
            ['{"id": "a", "prompt": "p", "results": {"m": {"score": 1}}}'] * 2,
            r":2: duplicate id 'a' \(first on line 1\)",
        ),
        (['{"id": 1, "prompt": "p", "results": {"m": {"score": 1, "cost_usd": -1}}}'], r":1: results\.m\.cost_usd"),
        (
            ['{"id": 1, "prompt": "p", "results": {"m": {"score": 1}}}', '{"wayfare_table": {}}'],
            r":2: 'wayfare_table' header is only allowed on the first line",
        ),
        (['{"wayfare_table": {"strong": "x"}}', '{"id": 1, "prompt": "p", "results": {"m": {"score": 1}}}'], "header"),
        ([""], r"no rows"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=message):
        load_jsonl(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no such file"):
        load_jsonl(tmp_path / "nope.jsonl")
    with pytest.raises(DataFormatError, match="unknown format 'csv'"):
        load_table(FIX, "csv")
