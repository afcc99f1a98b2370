"""Leave-one-source-out evaluation (wayfare.eval.transfer): what is trained on, what is scored, what is dropped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from wayfare.data import ResultsTable
from wayfare.data.labels import parse_label
from wayfare.eval.curves import oracle_scores, pair_curve
from wayfare.eval.metrics import apgr
from wayfare.eval.transfer import Candidate, Source, evaluate_transfer, kfold_with_others
from wayfare.eval.transfer_report import table_rows


def source(name: str, prompts: list[str], scores: np.ndarray, models: list[str]) -> Source:
    table = ResultsTable(
        name=name, prompt_ids=[str(i) for i in range(len(prompts))], prompts=prompts, models=models,
        scores=scores.astype(np.float64),
    )  # fmt: skip
    return Source(name, table, strong=models[-1], weak=models[0])


def hard_easy(name: str, n: int, seed: int, extra_models: int = 0) -> Source:
    """Prompts marked 'hard' (the weak model fails, the strong one succeeds) or 'easy' (both succeed)."""
    rng = np.random.default_rng(seed)
    hard = rng.random(n) < 0.4
    prompts = [f"{name} {'hard' if h else 'easy'} question number {i} about topic {i % 7}" for i, h in enumerate(hard)]
    weak = np.where(hard, 0.0, 1.0)
    cols = [weak, *([np.where(hard, 0.5, 1.0)] * extra_models), np.ones(n)]
    models = ["weak", *[f"m{j}" for j in range(extra_models)], "strong"]
    return source(name, prompts, np.column_stack(cols), models)


def vectors_of(prompts: Sequence[str]) -> np.ndarray:
    return np.asarray([[1.0 if "hard" in p else 0.0, len(p) / 100.0] for p in prompts], dtype=np.float32)


def oracle_apgr(src: Source) -> float:
    weak, strong = src.table.column(src.weak), src.table.column(src.strong)
    return apgr(pair_curve(oracle_scores(weak, strong), weak, strong))


class Recorder:
    """A fitter that scores by the 'hard' feature and records every training table it was given."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def __call__(self, x: np.ndarray, table: Any, prompts: Sequence[str]) -> Any:
        self.seen.append(table)
        return lambda xv, texts: np.asarray(xv[:, 0], dtype=np.float64)


def test_each_source_is_scored_by_a_router_that_never_saw_it() -> None:
    sources = [hard_easy("alpha", 60, 0), hard_easy("beta", 50, 1, extra_models=2), hard_easy("gamma", 40, 2)]
    rec = Recorder()
    cand = Candidate("probe", parse_label("weak-fails"), rec)
    metrics = evaluate_transfer(
        sources, [cand], [vectors_of(s.table.prompts) for s in sources], n_resamples=200, in_source=False
    )
    assert len(rec.seen) == 3
    for held, table in zip(sources, rec.seen, strict=True):
        assert not any(p.startswith(held.name) for p in table.prompts)
        assert len(table) == sum(len(s.table) for s in sources) - len(held.table)
        assert table.models == ["weak", "strong"] and table.meta == {}
    entry = metrics["candidates"]["probe / weak-fails"]
    # a router scoring exactly the weak model's failures is the oracle here
    for s in sources:
        assert entry["transfer"][s.name]["apgr"] == pytest.approx(oracle_apgr(s))
    lo, hi = entry["transfer_mean"]["apgr_ci"]
    assert lo <= entry["transfer_mean"]["apgr"] <= hi
    beta = dict(metrics["sources"]["beta"])
    assert beta.pop("oracle_apgr") == pytest.approx(oracle_apgr(sources[1]))
    assert beta == {
        "n_prompts": 50, "strong": "strong", "weak": "weak", "n_models": 4, "origin": "beta", "weight": 1,
    }  # fmt: skip
    # the report's last row is that limit, per source and on average
    header, rows = table_rows(metrics, "transfer")
    assert header[-1] == "mean"
    assert rows[-1][0] == "oracle (the limit)" and len(rows) == 2
    want = [oracle_apgr(s) for s in sources]
    assert [float(v) for v in rows[-1][1:]] == pytest.approx([*want, float(np.mean(want))], abs=5e-4)


def test_a_weighted_source_counts_its_rows_that_many_times_when_trained_on() -> None:
    alpha, beta, gamma = hard_easy("alpha", 60, 0), hard_easy("beta", 20, 1), hard_easy("gamma", 40, 2)
    beta = replace(beta, weight=3)
    rec = Recorder()
    metrics = evaluate_transfer(
        [alpha, beta, gamma], [Candidate("probe", parse_label("weak-fails"), rec)],
        [vectors_of(s.table.prompts) for s in (alpha, beta, gamma)], n_resamples=0, in_source=False,
    )  # fmt: skip
    held_alpha, held_beta, held_gamma = rec.seen
    assert sum(p.startswith("beta") for p in held_alpha.prompts) == 3 * 20
    assert len(held_alpha) == 3 * 20 + 40 and len(held_beta) == 60 + 40 and len(held_gamma) == 60 + 3 * 20
    assert metrics["sources"]["beta"]["weight"] == 3 and metrics["sources"]["alpha"]["weight"] == 1
    with pytest.raises(ValueError, match="weight must be a positive integer"):
        replace(beta, weight=0)


def test_difficulty_uses_all_models_where_there_are_three_and_weak_fails_on_pairs() -> None:
    sources = [hard_easy("alpha", 30, 0), hard_easy("beta", 30, 1, extra_models=2)]
    rec = Recorder()
    metrics = evaluate_transfer(
        sources, [Candidate("probe", parse_label("difficulty"), rec)], [vectors_of(s.table.prompts) for s in sources],
        n_resamples=0, in_source=False,
    )  # fmt: skip
    assert metrics["candidates"]["probe / difficulty"]["labels_used"] == {"alpha": "weak-fails", "beta": "difficulty"}
    trained_on_beta = rec.seen[0]  # alpha held out
    hard = np.asarray(["hard" in p for p in trained_on_beta.prompts])
    np.testing.assert_allclose(trained_on_beta.scores[hard, 0], (0 + 0.5 + 0.5 + 1) / 4)  # mean of all 4 models
    np.testing.assert_allclose(trained_on_beta.scores[:, 1], 1.0)


def test_difficulty_can_leave_models_out_and_falls_back_to_weak_fails_below_three() -> None:
    sources = [hard_easy("alpha", 30, 0, extra_models=1), hard_easy("beta", 30, 1, extra_models=2)]
    rec = Recorder()
    label = parse_label("difficulty:exclude=m0")
    metrics = evaluate_transfer(
        sources, [Candidate("probe", label, rec)], [vectors_of(s.table.prompts) for s in sources],
        n_resamples=0, in_source=False,
    )  # fmt: skip
    used = metrics["candidates"]["probe / difficulty:exclude=m0"]["labels_used"]
    assert used == {"alpha": "weak-fails", "beta": "difficulty:exclude=m0"}  # alpha has two models left
    trained_on_beta = rec.seen[0]
    hard = np.asarray(["hard" in p for p in trained_on_beta.prompts])
    np.testing.assert_allclose(trained_on_beta.scores[hard, 0], (0 + 0.5 + 1) / 3)  # weak, m1, strong


def test_training_rows_that_copy_the_held_out_source_are_dropped_and_counted() -> None:
    alpha = hard_easy("alpha", 40, 0)
    copied = alpha.table.prompts[:7]
    beta = hard_easy("beta", 30, 1)
    leaky = source(
        "beta", [*beta.table.prompts, *[f"Please answer: {p}" for p in copied]],
        np.vstack([beta.table.scores, np.ones((7, 2))]), ["weak", "strong"],
    )  # fmt: skip
    rec = Recorder()
    sources = [alpha, leaky]
    metrics = evaluate_transfer(
        sources, [Candidate("probe", parse_label("strong-wins"), rec)], [vectors_of(s.table.prompts) for s in sources],
        n_resamples=0, in_source=False,
    )  # fmt: skip
    assert metrics["decontamination"]["alpha"]["dropped_from_training"] == {"beta": 7}
    assert metrics["decontamination"]["beta"]["dropped_from_training"] == {"alpha": 7}
    assert not set(rec.seen[0].prompts) & {f"Please answer: {p}" for p in copied}


def test_in_source_folds_are_reported_beside_transfer() -> None:
    sources = [hard_easy("alpha", 50, 0), hard_easy("beta", 50, 1)]
    metrics = evaluate_transfer(
        sources, [Candidate("probe", parse_label("weak-fails"), Recorder())],
        [vectors_of(s.table.prompts) for s in sources], folds=5, n_resamples=0,
    )  # fmt: skip
    entry = metrics["candidates"]["probe / weak-fails"]
    assert set(entry["in_source"]) == {"alpha", "beta"}
    assert entry["in_source_mean"]["apgr"] == pytest.approx(np.mean([oracle_apgr(s) for s in sources]))


def test_bad_sources_are_refused() -> None:
    alpha = hard_easy("alpha", 10, 0)
    with pytest.raises(ValueError, match="at least two sources"):
        evaluate_transfer([alpha], [], [vectors_of(alpha.table.prompts)])
    with pytest.raises(ValueError, match="source names must be distinct"):
        evaluate_transfer([alpha, alpha], [], [vectors_of(alpha.table.prompts)] * 2)
    with pytest.raises(ValueError, match="strong model 'nope' is not in its table"):
        Source("alpha", alpha.table, strong="nope", weak="weak")


def test_stacked_training_rows_name_their_source_and_kfold_with_others_never_sees_the_fold() -> None:
    sources = [hard_easy("alpha", 60, 0), hard_easy("beta", 50, 1), replace(hard_easy("chat", 30, 2), weight=3)]
    rec = Recorder()
    cand = Candidate("probe", parse_label("weak-fails"), rec)
    scores = kfold_with_others(sources, 2, cand, [vectors_of(s.table.prompts) for s in sources], folds=5)
    assert len(rec.seen) == 5 and scores.shape == (30,)
    chat = sources[2].table.prompts
    folds_of_chat = []
    for table in rec.seen:
        assert table.categories is not None
        by_source = {c: table.categories.count(c) for c in set(table.categories)}
        # the other sources are always there, whole; the chat rows are repeated by the source's weight
        assert by_source["alpha"] == 60 and by_source["beta"] == 50 and by_source["chat"] % 3 == 0
        trained = {p for p, c in zip(table.prompts, table.categories, strict=True) if c == "chat"}
        folds_of_chat.append(set(chat) - trained)
    # every chat prompt is scored by exactly one fold, and that fold never trained on it
    assert all(folds_of_chat) and set().union(*folds_of_chat) == set(chat)
    assert sum(len(f) for f in folds_of_chat) == 30
    np.testing.assert_array_equal(scores, vectors_of(chat)[:, 0])


def test_labels_that_give_the_same_training_tables_share_one_fit() -> None:
    # alpha has two models, so difficulty is weak-fails there; beta has four, so the labels differ on it
    sources = [hard_easy("alpha", 40, 0), hard_easy("beta", 40, 1, extra_models=2), hard_easy("gamma", 30, 2)]
    vectors = [vectors_of(s.table.prompts) for s in sources]
    rec = Recorder()
    labels = ("weak-fails", "difficulty", "difficulty:exclude=nobody")
    cands = [Candidate("probe", parse_label(name), rec) for name in labels]
    metrics = evaluate_transfer(sources, cands, vectors, folds=2, n_resamples=50)
    # held out: weak-fails fits 3 times; difficulty adds the two folds that train on beta (holding beta out trains
    # on alpha + gamma, equal under every label); the exclude names no model, so it is difficulty and adds nothing.
    # In-source (2 folds each): alpha and gamma are equal under every label, beta two ways.
    distinct_held, distinct_inside = 3 + 2, 2 * (1 + 2 + 1)
    assert len(rec.seen) == distinct_held + distinct_inside
    by = {name: metrics["candidates"][f"probe / {name}"] for name in labels}
    assert by["difficulty"] == {**by["difficulty:exclude=nobody"], "label": "difficulty"}
    assert by["difficulty:exclude=nobody"]["labels_used"] == {
        "alpha": "weak-fails",
        "beta": "difficulty",
        "gamma": "weak-fails",
    }
    assert by["weak-fails"]["transfer"]["beta"] == by["difficulty"]["transfer"]["beta"]
    assert by["weak-fails"]["in_source"]["alpha"] == by["difficulty"]["in_source"]["alpha"]

    other = Recorder()  # a different fitter never shares: its fits are its own
    evaluate_transfer(sources, [Candidate("probe", parse_label("weak-fails"), other)], vectors, folds=2, n_resamples=0)
    assert len(other.seen) == 3 + 2 * 3


def test_a_candidate_naming_an_in_source_twin_shares_its_in_source_fits() -> None:
    # the gated router inside one source is its plain expert: given that expert's fitter as its in-source twin, it
    # fits only its held-out folds and reports the twin's in-source numbers
    sources = [hard_easy("alpha", 40, 0), hard_easy("beta", 40, 1), hard_easy("gamma", 30, 2)]
    vectors = [vectors_of(s.table.prompts) for s in sources]
    expert, gated = Recorder(), Recorder()
    label = parse_label("weak-fails")
    cands = [Candidate("expert", label, expert), Candidate("gated", label, gated, in_source_fit=expert)]
    metrics = evaluate_transfer(sources, cands, vectors, folds=2, n_resamples=50)
    assert len(expert.seen) == 3 + 3 * 2  # held out, then 2 folds in each source
    assert len(gated.seen) == 3  # held out only
    by = metrics["candidates"]
    assert by["gated / weak-fails"]["in_source"] == by["expert / weak-fails"]["in_source"]
