"""The evaluation runner on synthetic tables: no prompt is scored by a router trained on it, baselines, modes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from wayfare.data import ResultsTable
from wayfare.eval.runner import EvalConfig, evaluate
from wayfare.eval.scoring import RouterSpec


def pair_table(n: int = 400, seed: int = 0, duplicates: int = 0) -> ResultsTable:
    """Prompts say whether they are 'hard' (weak usually wrong) or 'easy' (both usually right)."""
    rng = np.random.default_rng(seed)
    hard = rng.random(n) < 0.4
    weak = np.where(hard, rng.random(n) < 0.2, rng.random(n) < 0.85).astype(float)
    strong = np.where(hard, rng.random(n) < 0.8, rng.random(n) < 0.9).astype(float)
    prompts = [f"{'hard' if h else 'easy'} question {i}" for i, h in enumerate(hard)]
    for i in range(duplicates):  # the same text on several rows
        prompts[n - 1 - i] = prompts[i]
        weak[n - 1 - i], strong[n - 1 - i] = weak[i], strong[i]
    return ResultsTable(
        name="synthetic-pair",
        prompt_ids=[str(i) for i in range(n)],
        prompts=prompts,
        models=["small", "big"],
        scores=np.stack([weak, strong], axis=1),
        costs=np.tile([0.001, 0.01], (n, 1)),
        meta={"cost_basis": "synthetic: $0.001 and $0.01 per call"},
    )


class Memoriser:
    """Remembers the gain of every training prompt; a prompt it was trained on gets its true gain, others 0.5.

    If the runner ever let it score a training prompt, the curve would follow the oracle instead of being flat.
    """

    def __init__(self, log: list[tuple[set[str], list[str]]]) -> None:
        self.log = log

    def fit(self, table: ResultsTable) -> Memoriser:
        assert table.strong and table.weak
        gain = table.column(table.strong) - table.column(table.weak)
        self.seen = dict(zip(table.prompts, gain.tolist(), strict=True))
        self.models_ = list(table.models)
        return self

    def score(self, prompts: Sequence[str]) -> np.ndarray:
        self.log.append((set(self.seen), list(prompts)))
        return np.array([self.seen.get(p, 0.5) for p in prompts])

    def predict(self, prompts: Sequence[str]) -> np.ndarray:
        return np.tile(self.score(prompts)[:, None], (1, len(self.models_)))


class WordRouter:
    """Learns the mean strong-minus-weak gain of each prompt's first word (a real, generalising pair router)."""

    def fit(self, table: ResultsTable) -> WordRouter:
        assert table.strong and table.weak
        gain = table.column(table.strong) - table.column(table.weak)
        words = [p.split()[0] for p in table.prompts]
        self.gain = {w: float(np.mean([g for g, x in zip(gain, words, strict=True) if x == w])) for w in set(words)}
        self.models_ = list(table.models)
        return self

    def score(self, prompts: Sequence[str]) -> np.ndarray:
        return np.array([self.gain.get(p.split()[0], 0.0) for p in prompts])

    def predict(self, prompts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError


def test_a_router_never_scores_a_prompt_it_was_trained_on() -> None:
    log: list[tuple[set[str], list[str]]] = []
    table = pair_table(duplicates=30)
    result = evaluate(table, [RouterSpec("memo", factory=lambda: Memoriser(log))], EvalConfig(folds=4, n_resamples=0))
    assert len(log) == 4
    scored: list[str] = []
    for seen, prompts in log:
        assert not seen & set(prompts)
        scored += prompts
    assert sorted(scored) == sorted(table.prompts)  # every row scored exactly once, duplicates included
    memo = result.metrics["routers"]["memo"]
    assert memo["apgr"] == pytest.approx(0.5)  # all scores tie at 0.5: one straight segment
    assert result.metrics["routers"]["oracle"]["apgr"] > 0.9


def test_pair_metrics_json_shape_and_baselines() -> None:
    table = pair_table()
    result = evaluate(table, [RouterSpec("word", factory=WordRouter)], EvalConfig(folds=5, n_resamples=200, seed=3))
    m = result.metrics
    assert (m["benchmark"], m["n_prompts"], m["mode"]) == ("synthetic-pair", 400, "pair")
    assert (m["strong"], m["weak"], m["folds"]) == ("big", "small", 5)
    assert set(m["routers"]) == {"word", "random", "oracle", "always-weak", "always-strong"}
    word, rnd, oracle = m["routers"]["word"], m["routers"]["random"], m["routers"]["oracle"]
    for entry in (word, rnd, oracle):
        lo, hi = entry["apgr_ci"]
        assert lo <= entry["apgr"] <= hi
        assert 0.0 <= entry["cpt50"] <= entry["cpt80"] <= 1.0
        assert entry["cost_saved_at_95"] is not None
    assert rnd["apgr"] < word["apgr"] < oracle["apgr"]
    assert m["routers"]["always-weak"]["quality"] == pytest.approx(m["quality"]["small"])
    assert m["routers"]["always-strong"]["cost_per_1k"] == pytest.approx(10.0)
    assert "synthetic" in m["cost_basis"]


def test_holdout_from_table_meta_drops_leaked_test_rows() -> None:
    table = pair_table(n=300)
    prompts = list(table.prompts)
    prompts[250] = prompts[0]  # a test row whose text is also a training row
    table = ResultsTable(
        **{
            **table.__dict__,
            "prompts": prompts,
            "meta": {"train_rows": list(range(200)), "test_rows": list(range(200, 300))},
        }
    )
    log: list[tuple[set[str], list[str]]] = []
    result = evaluate(table, [RouterSpec("memo", factory=lambda: Memoriser(log))], EvalConfig(n_resamples=0))
    assert result.metrics["n_prompts"] == 99
    assert result.metrics["holdout_leaks_dropped"] == 1
    assert result.metrics["folds"] is None
    assert len(log) == 1 and not log[0][0] & set(log[0][1])


def test_artifacts_are_scored_without_training() -> None:
    table = pair_table()
    fitted = WordRouter().fit(pair_table(seed=9).pair())
    fitted.strong_, fitted.weak_ = "big", "small"  # type: ignore[attr-defined]
    result = evaluate(table, [RouterSpec("word-artifact", artifact=fitted)], EvalConfig(n_resamples=0))
    entry = result.metrics["routers"]["word-artifact"]
    assert entry["kind"].startswith("artifact")
    assert entry["apgr"] > result.metrics["routers"]["random"]["apgr"]
    fitted.strong_ = "small"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="trained for strong"):
        evaluate(table, [RouterSpec("word-artifact", artifact=fitted)], EvalConfig(n_resamples=0))


def test_multi_model_mode() -> None:
    rng = np.random.default_rng(4)
    n = 300
    hard = rng.random(n) < 0.5
    p = np.where(hard[:, None], [0.1, 0.4, 0.8], [0.8, 0.85, 0.9])
    scores = (rng.random((n, 3)) < p).astype(float)
    table = ResultsTable(
        name="synthetic-multi",
        prompt_ids=[str(i) for i in range(n)],
        prompts=[f"{'hard' if h else 'easy'} q{i}" for i, h in enumerate(hard)],
        models=["s", "m", "l"],
        scores=scores,
        costs=np.tile([0.0001, 0.001, 0.01], (n, 1)),
    )
    result = evaluate(table, [], EvalConfig(n_resamples=50))
    m = result.metrics
    assert m["mode"] == "multi"
    oracle, rnd = m["routers"]["oracle"], m["routers"]["random"]
    assert oracle["aiq"] > rnd["aiq"]
    lo, hi = oracle["aiq_ci"]
    assert lo <= oracle["aiq"] <= hi
    assert oracle["quality_at_best_single_cost"] >= m["single_models"]["l"]["quality"]
    assert m["routers"]["always-strong"]["model"] == "l"
    assert m["routers"]["always-weak"]["model"] == "s"
    # Pair mode on the same table when a pair is named.
    assert evaluate(table, [], EvalConfig(strong="l", weak="s", n_resamples=0)).metrics["mode"] == "pair"
    no_costs = ResultsTable(**{**table.__dict__, "costs": None})
    with pytest.raises(ValueError, match="cost per call"):
        evaluate(no_costs, [], EvalConfig(n_resamples=0))


def test_unusable_inputs_are_clear_errors() -> None:
    table = pair_table()
    with pytest.raises(ValueError, match="at least 2"):
        evaluate(table, [], EvalConfig(folds=1))
    with pytest.raises(ValueError, match="baseline"):
        evaluate(table, [RouterSpec("oracle", factory=WordRouter)], EvalConfig())
    same = ResultsTable(**{**table.__dict__, "scores": np.ones((400, 2))})
    with pytest.raises(ValueError, match="same mean score"):
        evaluate(same, [], EvalConfig())


def test_holding_out_categories_scores_each_category_with_a_router_that_never_saw_it() -> None:
    """Hard prompts are mostly 'math', easy ones mostly 'chat', and the first word is the category: a router that
    learns each first word's gain does well under k-fold (it has seen every category) and learns nothing usable
    when the category it is scored on was held out."""
    base = pair_table(seed=3)
    rng = np.random.default_rng(4)
    topics = [("math" if ("hard" in p) == (rng.random() < 0.9) else "chat") for p in base.prompts]
    prompts = [f"{t} {p}" for t, p in zip(topics, base.prompts, strict=True)]
    table = ResultsTable(
        name="categories", prompt_ids=base.prompt_ids, prompts=prompts, models=base.models, scores=base.scores,
        costs=base.costs, categories=topics, meta=base.meta,
    )  # fmt: skip
    log: list[tuple[set[str], list[str]]] = []
    cfg = EvalConfig(n_resamples=0, by_category=True)
    evaluate(table, [RouterSpec("memo", factory=lambda: Memoriser(log))], cfg)
    assert len(log) == 2
    for seen, scored in log:  # each fold: trained on one category, scored on the other
        assert {p.split()[0] for p in seen}.isdisjoint({p.split()[0] for p in scored})
    held = evaluate(table, [RouterSpec("word", factory=WordRouter)], cfg).metrics
    assert held["split"].startswith("leave-one-category-out over 2 categories (chat, math)")
    assert held["routers"]["word"]["apgr"] == pytest.approx(0.5)  # an unseen first word: one score for all
    kfold = evaluate(table, [RouterSpec("word", factory=WordRouter)], EvalConfig(n_resamples=0, folds=4)).metrics
    assert kfold["routers"]["word"]["apgr"] > 0.6
    with pytest.raises(ValueError, match="needs a table with a category per prompt"):
        evaluate(pair_table(), [], cfg)
