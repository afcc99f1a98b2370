"""Every learned router learns a real routing signal, round-trips through its artifact, and serves N models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wayfare.data import ResultsTable
from wayfare.routers import (
    ArtifactError,
    available_routers,
    load_router,
    make_router,
    read_meta,
    save_router,
)
from wayfare.routers._core import _KINDS
from wayfare.routers.artifact import ARRAYS_FILE, META_FILE

LEARNED = ["knn", "logreg", "mf", "sw_ranking", "rorf", "irt", "ensemble", "gated", "blend", "task"]
FAST = {"mf": {"max_iter": 50, "rank": 8}, "irt": {"max_iter": 50, "dims": 4}, "rorf": {"n_estimators": 30}}


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a random positive scores above a random negative), ties counted half."""
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def test_registry_lists_every_router() -> None:
    assert set(available_routers()) == {*LEARNED, "adapted", "random", "oracle"}  # adapted needs a fitted base
    # every router class registers its kind for reading artifacts; the public registry must list each of them
    assert set(_KINDS) == set(available_routers())
    with pytest.raises(ValueError, match="unknown router 'nope'"):
        make_router("nope")
    with pytest.raises(ValueError, match="bad parameters for router 'knn'"):
        make_router("knn", depth=3)


@pytest.mark.parametrize("kind", LEARNED)
def test_pair_router_learns_which_subject_needs_the_strong_model(
    kind: str, embedder: object, mmlu_two_subjects: ResultsTable, tmp_path: object
) -> None:
    table = mmlu_two_subjects
    n_train = int(0.7 * len(table))
    train, test = table.subset(range(n_train)), table.subset(range(n_train, len(table)))
    router = make_router(kind, embedder=embedder, seed=0, **FAST.get(kind, {}))  # type: ignore[arg-type]
    router.fit(train)
    assert router.strong_ == "gpt-4-1106-preview"
    scores = router.score(test.prompts)
    assert scores.shape == (len(test),)
    assert np.all((scores >= 0) & (scores <= 1))
    assert test.categories is not None
    moral = np.array([c == "moral_scenarios" for c in test.categories])
    # held-out prompts of the subject where GPT-4 is needed must score higher than those where Mixtral wins
    assert auc(scores[moral], scores[~moral]) > 0.9

    folder = save_router(router, tmp_path / kind)  # type: ignore[operator]
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["kind"] == kind and meta["version"] == 1
    assert meta["embedder"] == {"name": "test-hashing-256", "dim": 256}
    assert meta["training"]["n_prompts"] == len(train)
    with np.load(folder / ARRAYS_FILE, allow_pickle=False) as npz:
        assert npz.files  # plain arrays, readable without pickle
    loaded = load_router(folder, embedder=embedder)  # type: ignore[arg-type]
    assert loaded.models_ == router.models_ and loaded.strong_ == router.strong_
    np.testing.assert_allclose(loaded.score(test.prompts), scores, atol=1e-5)
    np.testing.assert_allclose(loaded.predict(test.prompts[:20]), router.predict(test.prompts[:20]), atol=1e-5)


@pytest.mark.parametrize("kind", LEARNED)
def test_n_model_router_predicts_every_model(kind: str, embedder: object, llmrouter_small: ResultsTable) -> None:
    table = llmrouter_small
    train, test = table.subset(range(1200)), table.subset(range(1200, len(table)))
    router = make_router(kind, embedder=embedder, **FAST.get(kind, {}))  # type: ignore[arg-type]
    router.fit(train)
    pred = router.predict(test.prompts)
    assert pred.shape == (len(test), 9)
    assert router.models_ == table.models
    # per-prompt predictions must beat always predicting each model's training mean
    baseline = np.nanmean(train.scores, axis=0)
    mse = np.nanmean((pred - test.scores) ** 2)
    assert mse < np.nanmean((baseline - test.scores) ** 2)
    with pytest.raises(ValueError, match="without a strong/weak pair"):
        router.score(test.prompts[:2])


def test_artifact_errors_are_clear(embedder: object, mmlu_two_subjects: ResultsTable, tmp_path: object) -> None:
    router = make_router("logreg", embedder=embedder).fit(mmlu_two_subjects)  # type: ignore[arg-type]
    folder = save_router(router, tmp_path / "r")  # type: ignore[operator]
    with pytest.raises(ArtifactError, match="no router artifact"):
        load_router(tmp_path / "missing")  # type: ignore[operator]
    meta = read_meta(folder)
    meta["version"] = 99
    (folder / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="version 99 is not supported"):
        load_router(folder, embedder=embedder)  # type: ignore[arg-type]
    meta["version"] = 1
    (folder / META_FILE).write_text(json.dumps(meta))

    class Other:
        name, dim = "other", 8

        def embed(self, texts: list[str]) -> np.ndarray:
            return np.zeros((len(texts), 8), dtype=np.float32)

    with pytest.raises(ArtifactError, match="trained on test-hashing-256"):
        load_router(folder, embedder=Other())  # type: ignore[arg-type]
    with pytest.raises(ArtifactError, match="no router artifact at default-x"):
        load_router("default-x")


def test_unfitted_router_says_so(embedder: object) -> None:
    from wayfare.routers import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted"):
        make_router("knn", embedder=embedder).predict(["hi"])  # type: ignore[arg-type]
