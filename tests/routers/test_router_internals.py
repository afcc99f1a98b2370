"""The pieces behind the routers: NumPy tree traversal matches scikit-learn, battles, adding a model to MF,
baselines."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from wayfare.data import ResultsTable
from wayfare.routers import battles_from_table, battles_to_table, make_router
from wayfare.routers.battles import parse_battles
from wayfare.routers.forest import ForestRouter
from wayfare.routers.sw_ranking import SWRankingRouter


def test_exported_forest_matches_scikit_learn(embedder: object, mmlu_two_subjects: ResultsTable) -> None:
    table = mmlu_two_subjects
    router = ForestRouter(embedder=embedder, n_estimators=15, max_depth=8, min_samples_leaf=3, seed=1)  # type: ignore[arg-type]
    router.fit(table)
    x = router.embed(table.prompts)
    s, w = table.column(table.strong or ""), table.column(table.weak or "")
    labels = np.select([(s >= 0.5) & (w < 0.5), (s < 0.5) & (w < 0.5), (s >= 0.5) & (w >= 0.5)], [0, 1, 2], 3)
    ref = RandomForestClassifier(
        n_estimators=15, max_depth=8, min_samples_leaf=3, max_features="sqrt", random_state=1, n_jobs=1
    ).fit(x, labels)
    expected = np.zeros((len(x), 4))
    expected[:, ref.classes_.astype(int)] = ref.predict_proba(x)
    np.testing.assert_allclose(router.label_proba(x), expected, atol=1e-6)


def test_battles_round_trip_and_sw_ranking_learns_preferences(embedder: object) -> None:
    rows = [
        {"prompt": f"integrate x^{i} dx", "model_a": "big", "model_b": "small", "winner": "a"} for i in range(30)
    ] + [
        {"prompt": f"say hello to {name}", "model_a": "small", "model_b": "big", "winner": "tie"} for name in "abcdefgh"
    ]
    battles = parse_battles(rows)
    assert battles.models == ["big", "small"] and len(battles) == 38
    table = battles_to_table(battles)
    assert table.scores[0].tolist() == [1.0, 0.0] and table.scores[-1].tolist() == [0.5, 0.5]
    again = battles_from_table(table)
    np.testing.assert_array_equal(again.wins, battles.wins)
    router = SWRankingRouter(embedder=embedder, prior_strength=0.1).fit_battles(battles)  # type: ignore[arg-type]
    router.strong_, router.weak_ = "big", "small"
    math, chat = router.score(["integrate x^41 dx", "say hello to zed"])
    assert math > 0.8 and abs(chat - 0.5) < 0.15
    with pytest.raises(ValueError, match="winner must be a, b or tie"):
        parse_battles([{"prompt": "p", "model_a": "x", "model_b": "y", "winner": "x"}])


def test_mf_adds_a_model_from_a_few_hundred_prompts(embedder: object, llmrouter_small: ResultsTable) -> None:
    table = llmrouter_small
    known = [m for m in table.models if m != "codegemma-7b"]
    router = make_router("mf", embedder=embedder, rank=8, max_iter=150).fit(table.select_models(known))  # type: ignore[arg-type]
    train, test = slice(0, 300), slice(1200, 1500)
    router.add_model("codegemma-7b", table.prompts[train], table.column("codegemma-7b")[train].tolist())  # type: ignore[attr-defined]
    assert router.models_[-1] == "codegemma-7b"
    pred = router.predict(table.prompts[test])[:, -1]
    truth = table.column("codegemma-7b")[test]
    # the new model's predictions rank its held-out successes above its failures
    assert np.mean(pred[truth == 1]) > np.mean(pred[truth == 0]) + 0.05


def test_random_and_oracle_baselines(mmlu_two_subjects: ResultsTable) -> None:
    table = mmlu_two_subjects
    rnd = make_router("random", seed=3).fit(table)
    a = rnd.score(table.prompts)
    np.testing.assert_array_equal(a, make_router("random", seed=3).fit(table).score(table.prompts))
    assert not np.array_equal(a, make_router("random", seed=4).fit(table).score(table.prompts))
    assert 0.4 < a.mean() < 0.6
    oracle = make_router("oracle").fit(table)
    s, w = table.column("gpt-4-1106-preview"), table.column("mistralai/Mixtral-8x7B-Instruct-v0.1")
    np.testing.assert_array_equal(oracle.score(table.prompts), (s > w).astype(float))
    with pytest.raises(KeyError, match="oracle has no results"):
        oracle.score(["unseen prompt"])
