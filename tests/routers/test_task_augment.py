"""Task-label augmentation of the task router: real MMLU / GSM8K questions as extra classifier examples."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from wayfare.data import ResultsTable, load_benchmark
from wayfare.data.shingles import deleak, shingles
from wayfare.eval.splits import holdout_split
from wayfare.routers import load_router, make_router, save_router
from wayfare.routers.task_augment import augmentation_prompts, mmlu_stem, sample_per_task


@pytest.fixture(scope="module")
def llmrouter_split() -> tuple[ResultsTable, ResultsTable]:
    """2,000 rows of LLMRouter's train split and its whole de-leaked test split."""
    table = load_benchmark("llmrouter")
    split = holdout_split(table)
    train, test = split.folds[0]
    rng = np.random.default_rng(0)
    return table.subset(rng.permutation(train)[:2000]), table.subset(test)


def test_shingles_and_deleak() -> None:
    assert shingles("One two three") == {"one two three"}
    assert len(shingles("a b c d e f g h i j")) == 3  # 10 words: three 8-word windows
    eval_texts = ["Passage. The quick brown fox jumps over the lazy dog near the river bank today."]
    prompts = [
        "THE QUICK BROWN FOX JUMPS OVER THE LAZY dog, said nobody",  # shares an 8-word shingle (case-insensitive)
        "The quick brown fox jumps over a lazy dog",  # one word differs in every window
        "Unrelated question about chemistry?",
    ]
    kept, dropped = deleak(prompts, eval_texts)
    assert kept == [1, 2] and dropped == 1


def test_mmlu_stem_drops_options_and_answer() -> None:
    prompt = "Find the degree of Q(sqrt(2)) over Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:"
    assert mmlu_stem(prompt) == "Find the degree of Q(sqrt(2)) over Q."
    assert mmlu_stem("What is 2 + 2?") == "What is 2 + 2?"


def test_augmentation_prompts_are_deleaked_against_llmrouter_and_sampled() -> None:
    extra, dropped = augmentation_prompts("routellm", {"mmlu", "gsm8k", "math"}, 0, "llmrouter", 0)
    assert set(extra) == {"mmlu", "gsm8k"}  # the source has no other task
    llm = set().union(*(shingles(p) for p in load_benchmark("llmrouter").prompts))
    assert dropped > 1000  # LLMRouter's own mmlu/gsm8k rows come from the same question sets
    for prompts in extra.values():
        assert all(llm.isdisjoint(shingles(p)) for p in prompts[:300])
        assert not any(p.rstrip().endswith("Answer:") for p in prompts)
    assert len(extra["mmlu"]) + len(extra["gsm8k"]) + dropped == 14037 + 1307
    only, _ = augmentation_prompts("routellm", {"gsm8k"}, 50, "llmrouter", 0)
    assert list(only) == ["gsm8k"] and len(only["gsm8k"]) == 50
    assert sample_per_task({"a": ["x", "y", "z"]}, 2, 1) == sample_per_task({"a": ["x", "y", "z"]}, 2, 1)


def test_short_mmlu_questions_are_recognised_after_augmentation(
    embedder: object, llmrouter_split: tuple[ResultsTable, ResultsTable], tmp_path: object
) -> None:
    train, test = llmrouter_split
    assert test.categories is not None
    # LLMRouter's test "mmlu" rows are mostly short questions; its train "mmlu" rows mostly reading passages
    short = [p for p, c in zip(test.prompts, test.categories, strict=True) if c == "mmlu" and len(p) < 400]
    assert len(short) >= 30
    plain = make_router("task", embedder=embedder).fit(train)  # type: ignore[arg-type]
    aug = make_router("task", embedder=embedder, augment="routellm", augment_per_task=500).fit(train)  # type: ignore[arg-type]
    assert aug.augment_counts_ == {"gsm8k": 500, "mmlu": 500}  # type: ignore[attr-defined]
    assert aug.augment_dropped_ > 1000  # type: ignore[attr-defined]

    def recall(router: object) -> float:
        probs = router.predict_tasks(short)  # type: ignore[attr-defined]
        return float(np.mean([router.tasks_[i] == "mmlu" for i in probs.argmax(axis=1)]))  # type: ignore[attr-defined]

    assert recall(aug) >= recall(plain) + 0.2
    assert recall(aug) >= 0.5
    question = "Which of the following best describes the function of the Federal Reserve in the United States?"
    assert aug.tasks_[int(aug.predict_tasks([question]).argmax())] == "mmlu"  # type: ignore[attr-defined]
    # the per-task model means still come only from the table, so they equal the plain router's
    np.testing.assert_allclose(aug.task_means_, plain.task_means_)  # type: ignore[attr-defined]

    folder = save_router(aug, tmp_path / "task-aug")  # type: ignore[operator]
    loaded = load_router(folder, embedder=embedder)  # type: ignore[arg-type]
    assert loaded.get_params() == aug.get_params()
    assert loaded.augment_counts_ == aug.augment_counts_  # type: ignore[attr-defined]
    assert loaded.augment_dropped_ == aug.augment_dropped_  # type: ignore[attr-defined]
    np.testing.assert_allclose(loaded.predict(short[:20]), aug.predict(short[:20]), atol=1e-6)


def test_augmentation_only_adds_tasks_the_table_has(
    embedder: object, llmrouter_split: tuple[ResultsTable, ResultsTable]
) -> None:
    train, _ = llmrouter_split
    assert train.categories is not None
    rows = [i for i, c in enumerate(train.categories) if c != "gsm8k"][:800]
    no_gsm = train.subset(rows)
    router = make_router("task", embedder=embedder, augment="routellm", augment_per_task=100).fit(no_gsm)  # type: ignore[arg-type]
    assert router.augment_counts_ == {"mmlu": 100}  # type: ignore[attr-defined]
    assert "gsm8k" not in router.tasks_  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="embedder"):
        make_router("task", augment="routellm").fit_vectors(np.zeros((len(no_gsm), 4), np.float32), no_gsm)
    for bad in ({"augment": "nope"}, {"augment_per_task": -1}):
        with pytest.raises(ValueError):
            make_router("task", **bad)
    off = make_router("task", embedder=embedder).fit(replace(no_gsm))  # type: ignore[arg-type]
    assert off.augment_counts_ == {} and off.augment_dropped_ == 0  # type: ignore[attr-defined]
