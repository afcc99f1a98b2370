"""The ensemble router's text features, its prompts-aware vector API, and knn's sampled k tuning."""

from __future__ import annotations

import numpy as np
import pytest

from wayfare.data import ResultsTable, load_benchmark
from wayfare.routers import make_router
from wayfare.routers.knn import KNNRouter, _top_neighbours
from wayfare.routers.text_features import FEATURE_NAMES, feature_matrix, split_options


def test_split_options_reads_a_real_mmlu_prompt() -> None:
    prompt = load_benchmark("mmlu").prompts[0]  # "Find the degree ... \nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:"
    stem, options = split_options(prompt)
    assert stem.startswith("Find the degree") and options == ["0", "4", "2", "6"]
    assert split_options("What is 17 * 23?") == ("What is 17 * 23?", [])


def test_features_separate_arithmetic_from_prose() -> None:
    f = feature_matrix(["What is 17 * 23 + 4?\nA. 395\nB. 400\nC. 391\nD. 12\nAnswer:", "Tell me about Paris."])
    assert f.shape == (2, len(FEATURE_NAMES))
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    assert f[0, col["n_options"]] == 4 and f[1, col["n_options"]] == 0
    assert f[0, col["numeric_options"]] == 1 and f[0, col["numbers"]] == pytest.approx(np.log1p(7))
    assert f[0, col["math_symbols"]] == pytest.approx(np.log1p(2)) and f[1, col["digit_fraction"]] == 0
    lengths = np.array([3.0, 3.0, 3.0, 2.0])  # the option lengths: population spread over (mean + 1)
    assert f[0, col["option_length_spread"]] == pytest.approx(lengths.std() / (lengths.mean() + 1.0))
    assert f[0, col["log_option_max_chars"]] == pytest.approx(np.log1p(3)) and f[1, col["option_length_spread"]] == 0
    repeated = feature_matrix(["Tell me about Paris.", "Why?", "Tell me about Paris."])  # weighted tables repeat
    np.testing.assert_array_equal(repeated[[0, 2]], f[[1, 1]])
    assert feature_matrix([]).shape == (0, len(FEATURE_NAMES))
    with pytest.raises(TypeError):
        feature_matrix("one string")


def test_ensemble_is_the_weighted_mean_of_its_members(embedder: object, mmlu_two_subjects: ResultsTable) -> None:
    table = mmlu_two_subjects
    train, test = table.subset(range(300)), table.subset(range(300, 400))
    x_train = embedder.embed(train.prompts)  # type: ignore[attr-defined]
    x_test = embedder.embed(test.prompts)  # type: ignore[attr-defined]
    router = make_router("ensemble", embedder=embedder, knn_weight=0.3).fit_vectors(x_train, train)  # type: ignore[arg-type]
    knn = router.knn_.predict_vectors(x_test)  # type: ignore[attr-defined]
    probe = router.probe_.predict_vectors(router._probe_input(x_test, test.prompts))  # type: ignore[attr-defined]
    np.testing.assert_allclose(router.predict_vectors(x_test, test.prompts), 0.3 * knn + 0.7 * probe, atol=1e-9)
    np.testing.assert_allclose(router.score_vectors(x_test, test.prompts), router.score(test.prompts), atol=1e-6)
    with pytest.raises(ValueError, match="also reads the prompt text"):
        router.score_vectors(x_test)
    with pytest.raises(ValueError, match="one text per embedding row"):
        router.predict_vectors(x_test, test.prompts[:3])
    with pytest.raises(ValueError, match="knn_weight"):
        make_router("ensemble", knn_weight=1.5)


def test_knn_tunes_k_on_a_sample_without_seeing_itself(embedder: object, mmlu_two_subjects: ResultsTable) -> None:
    x = embedder.embed(mmlu_two_subjects.prompts)  # type: ignore[attr-defined]
    rows = np.arange(0, len(x), 7)
    idx = _top_neighbours(x[rows], x, 30, exclude=rows)
    assert idx.shape == (len(rows), 30) and not (idx == rows[:, None]).any()
    sims = np.take_along_axis(x[rows] @ x.T, idx, axis=1)
    assert np.all(np.diff(sims, axis=1) <= 1e-6)  # most similar first
    small = KNNRouter(embedder=embedder, tune_size=60, k_grid=(5, 20, 80))  # type: ignore[arg-type]
    full = KNNRouter(embedder=embedder, tune_size=10_000, k_grid=(5, 20, 80))  # type: ignore[arg-type]
    small.fit(mmlu_two_subjects)
    full.fit(mmlu_two_subjects)
    assert small.k_ in (5, 20, 80) and full.k_ in (5, 20, 80)
    # the topic signal is strong here: the full leave-one-out and the 60-prompt sample agree on a large k
    assert small.k_ >= 20 and full.k_ >= 20
    with pytest.raises(ValueError, match="tune_size"):
        KNNRouter(tune_size=0)


def test_probe_only_ensemble_stores_no_prompts(
    embedder: object, mmlu_two_subjects: ResultsTable, tmp_path: object
) -> None:
    from wayfare.routers import load_router, save_router

    table = mmlu_two_subjects
    router = make_router("ensemble", embedder=embedder, knn_weight=0.0).fit(table)  # type: ignore[arg-type]
    folder = save_router(router, tmp_path / "probe")  # type: ignore[operator]
    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
        assert not [k for k in npz.files if k.startswith("knn.")]
    loaded = load_router(folder, embedder=embedder)  # type: ignore[arg-type]
    np.testing.assert_allclose(loaded.score(table.prompts[:30]), router.score(table.prompts[:30]), atol=1e-6)
    huge = "print(1+2*3)\n" * 2000  # a long code prompt far outside the training data stays a sane probability
    assert 0.0 < float(loaded.score([huge])[0]) < 1.0
