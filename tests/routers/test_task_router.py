"""The task router: it recognises a prompt's task and predicts each model's (shrunk) mean score on that task."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from wayfare.data import ResultsTable
from wayfare.routers import TradeoffPolicy, decide, load_router, make_router, save_router
from wayfare.routers.task import shrunk_task_means


@pytest.fixture(scope="module")
def split(llmrouter_small: ResultsTable) -> tuple[ResultsTable, ResultsTable]:
    return llmrouter_small.subset(range(1200)), llmrouter_small.subset(range(1200, len(llmrouter_small)))


def test_task_router_recognises_held_out_tasks(embedder: object, split: tuple[ResultsTable, ResultsTable]) -> None:
    train, test = split
    router = make_router("task", embedder=embedder).fit(train)  # type: ignore[arg-type]
    assert test.categories is not None
    probs = router.predict_tasks(test.prompts)  # type: ignore[attr-defined]
    assert probs.shape == (len(test), len(router.tasks_))  # type: ignore[attr-defined]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    guessed = [router.tasks_[i] for i in probs.argmax(axis=1)]  # type: ignore[attr-defined]
    assert np.mean([g == t for g, t in zip(guessed, test.categories, strict=True)]) > 0.75


def test_predictions_are_task_probability_weighted_means(
    embedder: object, split: tuple[ResultsTable, ResultsTable]
) -> None:
    train, test = split
    router = make_router("task", embedder=embedder, prior_n=0.0).fit(train)  # type: ignore[arg-type]
    probs = router.predict_tasks(test.prompts[:40])  # type: ignore[attr-defined]
    np.testing.assert_allclose(router.predict(test.prompts[:40]), probs @ router.task_means_, atol=1e-5)  # type: ignore[attr-defined]
    assert train.categories is not None
    k = router.tasks_.index("gsm8k")  # type: ignore[attr-defined]
    rows = [i for i, c in enumerate(train.categories) if c == "gsm8k"]
    np.testing.assert_allclose(router.task_means_[k], np.nanmean(train.scores[rows], axis=0), atol=1e-6)  # type: ignore[attr-defined]


def test_shrinkage_pulls_small_tasks_to_the_overall_mean() -> None:
    y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, np.nan]])
    tasks = ["a", "a", "b", "b", "b", "b"]
    raw = shrunk_task_means(y, tasks, ["a", "b"], prior_n=0.0)
    np.testing.assert_allclose(raw, [[1.0, 0.0], [0.0, 1.0]])
    overall = np.nanmean(y, axis=0)
    heavy = shrunk_task_means(y, tasks, ["a", "b"], prior_n=1e9)
    np.testing.assert_allclose(heavy, [overall, overall], atol=1e-6)
    mid = shrunk_task_means(y, tasks, ["a", "b"], prior_n=2.0)
    assert 0.5 < mid[0, 0] < 1.0  # (2 + 2·2/6) / 4


def test_routes_a_logic_puzzle_away_from_a_model_that_fails_them(
    embedder: object, split: tuple[ResultsTable, ResultsTable], tmp_path: object
) -> None:
    train, _ = split
    router = make_router("task", embedder=embedder).fit(train)  # type: ignore[arg-type]
    puzzle = (
        "Q: There are 3 houses in a row, numbered 1 on the left to 3 on the right. There is one person living in "
        "each house. The people in these houses have different characteristics:\n - Each person has a different "
        "pet: one has a cat, one has a bird, one has a fish\n\nClues:\n1. The cat owner does not live in the "
        "second house.\n\nWhat is the number of the house where the bird keeper lives?"
    )
    pred = dict(zip(router.models_, router.predict([puzzle])[0], strict=True))
    # in LLMRouter's logic-grid puzzles gemma-2-9b solves about a third, llama-3.1-8b under a tenth
    assert pred["gemma-2-9b-it"] > pred["llama-3.1-8b-instruct"]
    prices = {m: 0.9 if ("nemotron" in m or "70b" in m) else 0.2 for m in router.models_}
    prices["gemma-2-9b-it"] = 0.1
    assert decide(router, puzzle, TradeoffPolicy(0.05), prices).model == "gemma-2-9b-it"

    folder = save_router(router, tmp_path / "task")  # type: ignore[operator]
    loaded = load_router(folder, embedder=embedder)  # type: ignore[arg-type]
    assert loaded.tasks_ == router.tasks_  # type: ignore[attr-defined]
    np.testing.assert_allclose(loaded.predict([puzzle]), router.predict([puzzle]), atol=1e-6)


def test_needs_tasks_and_valid_parameters(embedder: object, split: tuple[ResultsTable, ResultsTable]) -> None:
    train, _ = split
    with pytest.raises(ValueError, match="has no categories"):
        make_router("task", embedder=embedder).fit(replace(train, categories=None))  # type: ignore[arg-type]
    one = replace(train, categories=["all"] * len(train))
    flat = make_router("task", embedder=embedder, prior_n=0.0).fit(one)  # type: ignore[arg-type]
    np.testing.assert_allclose(
        flat.predict(train.prompts[:3]), np.tile(np.nanmean(train.scores, axis=0), (3, 1)), atol=1e-6
    )
    for bad in ({"c": 0.0}, {"feature_scale": -1.0}, {"prior_n": -1.0}):
        with pytest.raises(ValueError):
            make_router("task", **bad)
