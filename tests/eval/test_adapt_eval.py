"""default-n adapted to arena-bench-v1's 14 judged models (which it never saw): the card's numbers are what a re-run
gives, and they say what they compare. Skipped when the shared data is absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from wayfare.data import ResultsTable
from wayfare.data.arena_hard import load_arena_hard
from wayfare.eval.adapt_eval import evaluate_adapted, expected_costs, split_rows
from wayfare.routers import load_router

SHARED = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
ARENA = SHARED / "chat" / "arena-bench-v1"
needs_arena = pytest.mark.skipif(not ARENA.is_dir(), reason=f"arena-bench-v1 is not at {ARENA} (WAYFARE_SHARED_DATA)")


def test_splits_are_seeded_disjoint_and_cover_every_row() -> None:
    cal, held = split_rows(100, 0.3, seed=4)
    assert len(cal) == 30 and len(held) == 70 and not set(cal) & set(held)
    assert sorted([*cal, *held]) == list(range(100))
    assert np.array_equal(split_rows(100, 0.3, seed=4)[0], cal) and not np.array_equal(split_rows(100, 0.3, 5)[0], cal)


def test_the_policy_decides_on_costs_it_can_know() -> None:
    """Input tokens of the prompt plus the model's mean answer length on the calibration rows, not the answer's own."""
    scores = np.array([[0.5, 0.5], [0.5, 0.5]])
    t = ResultsTable(
        "t", ["a", "b"], ["p", "q"], ["x", "y"], scores,
        costs=np.ones((2, 2)), input_tokens=np.array([[10.0, 10.0], [20.0, 20.0]]),
        output_tokens=np.array([[100.0, 1.0], [300.0, 3.0]]),
        meta={"prices_usd_per_1m_tokens": {"x": [1.0, 2.0], "y": [3.0, 4.0]}},
    )  # fmt: skip
    got = expected_costs(t, t)
    np.testing.assert_allclose(got, [[(10 + 400) / 1e6, (30 + 8) / 1e6], [(20 + 400) / 1e6, (60 + 8) / 1e6]])


@needs_arena
def test_the_card_holds_a_reproducible_arena_bench_v1_score() -> None:
    router = load_router("default-n")
    card = router.metrics_["arena_bench_v1"]
    table = load_arena_hard(ARENA)
    assert router.embedder is not None
    result = evaluate_adapted([router], table, router.embedder.embed(table.prompts))
    for key in ("adapted", "per_model_mean", "oracle", "aiq_adapted_minus_mean", "best_single_mean_score"):
        assert result[key] == card[key], key
    assert len(result["models"]) == 14 and "gpt-4-1106-preview" in result["best_single_model"]
    # the ceiling is far above both: the grades vary by prompt, default-n's features do not capture it
    for name in ("adapted", "per_model_mean"):
        assert card["oracle"]["aiq"]["mean"] > card[name]["aiq"]["interval"][1]
    lo, hi = card["aiq_adapted_minus_mean"]["interval"]
    assert lo <= card["aiq_adapted_minus_mean"]["mean"] <= hi
