"""Price table lookups, cost arithmetic and filling costs from token counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wayfare.data import PriceTable, ResultsTable, estimate_tokens, fill_costs


def test_shipped_prices() -> None:
    p = PriceTable.default()
    assert p.price("gpt-4-1106-preview") == (10.0, 30.0)
    assert p.price("mistralai/Mixtral-8x7B-Instruct-v0.1") == (0.6, 0.6)
    assert p.price("gemma-2-9b-it") == (0.1, 0.1)
    assert p.price("llama-3.1-nemotron-51b-instruct") == (0.9, 0.9)
    # case-insensitive and provider-prefix-free lookups
    assert p.price("Mixtral-8x7B-Instruct-v0.1") == (0.6, 0.6)
    assert p.price("google/GEMMA-2-9B-IT") == (0.1, 0.1)
    assert p.cost("gpt-4-1106-preview", 1000, 500) == pytest.approx((1000 * 10 + 500 * 30) / 1e6)
    assert "OpenAI" in p.entry("gpt-4-1106-preview").source
    with pytest.raises(KeyError, match="no price for model 'gpt-9'"):
        p.price("gpt-9")


def test_from_dict_validates() -> None:
    with pytest.raises(ValueError, match="'models' object"):
        PriceTable.from_dict([])
    with pytest.raises(ValueError, match="numeric 'input' and 'output'"):
        PriceTable.from_dict({"models": {"a": {"input": 1}}})
    with pytest.raises(ValueError, match="negative"):
        PriceTable.from_dict({"models": {"a": {"input": -1, "output": 1}}})


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def _table(**kw: object) -> ResultsTable:
    base: dict[str, object] = {
        "name": "t",
        "prompt_ids": ["a", "b"],
        "prompts": ["x" * 40, "y" * 8],
        "models": ["big", "small"],
        "scores": np.array([[1.0, 0.0], [1.0, np.nan]]),
    }
    base.update(kw)
    return ResultsTable(**base)  # type: ignore[arg-type]


PRICES = PriceTable.from_dict({"models": {"big": {"input": 10, "output": 30}, "small": {"input": 1, "output": 2}}})


def test_fill_costs_from_tokens() -> None:
    t = fill_costs(_table(input_tokens=np.full((2, 2), 100.0), output_tokens=np.full((2, 2), 10.0)), PRICES)
    assert t.costs is not None
    assert t.costs[0, 0] == pytest.approx((100 * 10 + 10 * 30) / 1e6)
    assert t.costs[0, 1] == pytest.approx((100 * 1 + 10 * 2) / 1e6)
    assert math.isnan(t.costs[1, 1])  # no score -> no call -> no cost
    assert "input_tokens_estimated" not in t.meta
    assert t.meta["prices_usd_per_1m_tokens"] == {"big": [10.0, 30.0], "small": [1.0, 2.0]}


def test_fill_costs_estimates_input_tokens() -> None:
    t = fill_costs(_table(), PRICES)
    assert t.costs is not None and t.input_tokens is not None
    assert t.input_tokens[0, 0] == 10 and t.input_tokens[1, 0] == 2
    assert t.costs[0, 0] == pytest.approx(10 * 10 / 1e6)
    assert t.meta["input_tokens_estimated"] is True
    assert "ceil(chars/4)" in str(t.meta["cost_basis"]) and "input tokens only" in str(t.meta["cost_basis"])


def test_fill_costs_unpriced_model_leaves_costs_none() -> None:
    t = fill_costs(_table(models=["big", "mystery"]), PRICES)
    assert t.costs is None
    assert "mystery" in str(t.meta["cost_basis"])


def test_recorded_costs_kept() -> None:
    recorded = np.array([[0.5, 0.1], [0.5, np.nan]])
    t = fill_costs(_table(costs=recorded), PRICES)
    assert t.costs is not None
    np.testing.assert_array_equal(t.costs, recorded)
    assert str(t.meta["cost_basis"]).startswith("costs recorded")
