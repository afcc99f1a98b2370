"""Training labels (wayfare.data.labels): what each label puts in a pair router's weak / strong columns."""

from __future__ import annotations

import numpy as np
import pytest

from wayfare.data import ResultsTable
from wayfare.data.labels import parse_label, relabel_models, relabel_pair

NAN = float("nan")


def table(scores: list[list[float]], models: list[str], **kw: object) -> ResultsTable:
    n = len(scores)
    return ResultsTable(
        name="t", prompt_ids=[str(i) for i in range(n)], prompts=[f"p{i}" for i in range(n)], models=models,
        scores=np.asarray(scores, dtype=np.float64), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


# columns: small, mid, big; big is strong, small weak
THREE = table([[1, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 0], [1, 0, 0.5]], ["small", "mid", "big"])


def test_strong_wins_keeps_the_pair_scores() -> None:
    out = relabel_pair(THREE, "strong-wins", strong="big", weak="small")
    assert out.models == ["small", "big"] and (out.strong, out.weak) == ("big", "small")
    np.testing.assert_array_equal(out.scores, THREE.scores[:, [0, 2]])
    assert out.meta["label"] == "strong-wins"


def test_weak_fails_puts_one_in_the_strong_column_and_the_weak_score_in_the_other() -> None:
    out = relabel_pair(THREE, "weak-fails", strong="big", weak="small")
    np.testing.assert_array_equal(out.scores[:, 1], np.ones(5))
    np.testing.assert_array_equal(out.scores[:, 0], [1, 0, 0, 0, 1])


def test_difficulty_uses_the_mean_score_of_every_model() -> None:
    out = relabel_pair(THREE, "difficulty", strong="big", weak="small")
    np.testing.assert_allclose(out.scores[:, 0], [1, 2 / 3, 1 / 3, 0, 0.5])
    np.testing.assert_array_equal(out.scores[:, 1], np.ones(5))


def test_difficulty_ignores_unknown_scores_and_needs_three_models() -> None:
    t = table([[NAN, 1, 0], [NAN, NAN, NAN]], ["a", "b", "c"])
    out = relabel_pair(t, "difficulty", strong="c", weak="a")
    assert out.scores[0, 0] == 0.5 and np.isnan(out.scores[1]).all()  # unknown rows stay (NaN), order kept
    two = table([[1, 0]], ["a", "b"])
    with pytest.raises(ValueError, match="difficulty needs a table with at least 3 models"):
        relabel_pair(two, "difficulty", strong="b", weak="a")


def test_difficulty_can_leave_models_out_of_the_mean() -> None:
    four = table([[1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 1, 0]], ["small", "mid", "big", "format-breaker"])
    label = parse_label("difficulty:exclude=format-breaker+not-in-this-table")
    assert label.exclude == ("format-breaker", "not-in-this-table")
    assert label.name == "difficulty:exclude=format-breaker+not-in-this-table"
    out = relabel_pair(four, label, strong="big", weak="small")
    np.testing.assert_allclose(out.scores[:, 0], [1, 2 / 3, 1 / 3])  # the format-breaker's zeros are not counted
    assert out.meta["label"] == label.name
    np.testing.assert_allclose(
        relabel_pair(four, "difficulty", strong="big", weak="small").scores[:, 0], [0.75, 0.5, 0.25]
    )
    with pytest.raises(ValueError, match="has 2 after leaving out mid"):
        relabel_pair(THREE, "difficulty:exclude=mid", strong="big", weak="small")


def test_gap_marks_the_weak_model_good_enough_within_t() -> None:
    t = table([[0.9, 1.0], [0.5, 1.0], [1.0, 0.2], [0.7, 0.8]], ["weak", "strong"])
    np.testing.assert_array_equal(relabel_pair(t, "gap:0.1", strong="strong", weak="weak").scores[:, 0], [1, 0, 1, 1])
    np.testing.assert_array_equal(relabel_pair(t, "gap:0", strong="strong", weak="weak").scores[:, 0], [0, 0, 1, 0])


def test_n_model_labels() -> None:
    out = relabel_models(THREE, "gap:0.5")
    np.testing.assert_array_equal(out.scores[4], [1, 0, 1])  # best 1.0: small (1.0) and big (0.5) are within 0.5
    assert relabel_models(THREE, "strong-wins").scores is THREE.scores
    with pytest.raises(ValueError, match="names a strong/weak pair"):
        relabel_models(THREE, "weak-fails")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("strong", "unknown label 'strong'"),
        ("gap:2", r"T in \[0, 1\]"),
        ("gap:x", r"T in \[0, 1\]"),
        ("difficulty:exclude=", "write difficulty:exclude=MODEL"),
        ("difficulty:without=a", "write difficulty:exclude"),
    ],
)
def test_bad_labels_are_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_label(text)
    assert parse_label("gap:0.25").name == "gap:0.25"
