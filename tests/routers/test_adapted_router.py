"""The adapted router: per-model ridge heads on a fitted base router's predictions, for models the base never saw."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from wayfare.data import ResultsTable
from wayfare.routers import load_router, make_router, save_router
from wayfare.routers.adapted import MIN_GRADED, AdaptedRouter, ridge_head

CODE = ("mbpp", "human_eval")


@pytest.fixture(scope="module")
def base(embedder: object, llmrouter_small: ResultsTable) -> object:
    """A task router trained on LLMRouter's nine models (the adapted router's base)."""
    return make_router("task", embedder=embedder).fit(llmrouter_small.subset(range(1000)))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def new_models(llmrouter_small: ResultsTable) -> ResultsTable:
    """Unseen prompts graded for two models the base never saw: ``coder`` is good only on code prompts, ``steady``
    is middling everywhere (plus a little seeded noise)."""
    t = llmrouter_small.subset(range(1000, 1500))
    assert t.categories is not None
    is_code = np.array([c in CODE for c in t.categories])
    rng = np.random.default_rng(0)
    coder = np.where(is_code, 0.9, 0.1) + rng.normal(0, 0.05, len(t))
    steady = 0.5 + rng.normal(0, 0.05, len(t))
    scores = np.clip(np.column_stack([coder, steady]), 0, 1)
    return ResultsTable(
        name="mine",
        prompt_ids=t.prompt_ids,
        prompts=t.prompts,
        models=["coder", "steady"],
        scores=scores,
        categories=t.categories,
    )


def test_learns_that_one_model_is_good_only_on_one_kind_of_prompt(base: object, new_models: ResultsTable) -> None:
    cal, held = new_models.subset(range(150)), new_models.subset(range(150, len(new_models)))
    assert held.categories is not None
    is_code = np.array([c in CODE for c in held.categories])
    assert is_code.sum() >= 10 and (~is_code).sum() >= 10
    adapted = AdaptedRouter(bases=["mine-base"]).set_bases([base]).fit(cal)  # type: ignore[list-item]
    predicted = adapted.predict(held.prompts)
    picks = predicted.argmax(axis=1)
    assert predicted.min() >= 0.0 and predicted.max() <= 1.0  # expected scores, clipped to the score range
    assert adapted.models_ == ["coder", "steady"]
    assert np.mean(picks[is_code] == 0) >= 0.8  # code prompts go to the coder
    assert np.mean(picks[~is_code] == 1) >= 0.8  # the rest to the steady model
    # the per-model-mean baseline has no prompt dependence: one model for every prompt, and it scores less
    mean_only = AdaptedRouter(prompt_features=False).set_bases([base]).fit(cal)  # type: ignore[list-item]
    flat = mean_only.predict(held.prompts)
    np.testing.assert_allclose(flat, np.repeat(np.nanmean(cal.scores, axis=0)[None, :], len(held), axis=0))
    rows = np.arange(len(held))
    assert held.scores[rows, picks].mean() > held.scores[rows, flat.argmax(axis=1)].mean() + 0.05


def test_an_infinite_penalty_is_the_per_model_mean(base: object, new_models: ResultsTable) -> None:
    rng = np.random.default_rng(1)
    noise = new_models.subset(range(60))
    noise = ResultsTable(noise.name, noise.prompt_ids, noise.prompts, noise.models, rng.uniform(0, 1, (60, 2)))
    r = AdaptedRouter(alpha=float("inf")).set_bases([base]).fit(noise)  # type: ignore[list-item]
    pred = r.predict(noise.prompts)
    np.testing.assert_allclose(pred, np.repeat(noise.scores.mean(axis=0)[None, :], 60, axis=0), atol=1e-9)


def test_an_infinite_penalty_is_saved_as_standard_json(base: object, new_models: ResultsTable, tmp_path: Path) -> None:
    r = AdaptedRouter(alpha=float("inf")).set_bases([base]).fit(new_models.subset(range(60)))  # type: ignore[list-item]
    save_router(r, tmp_path / "r")

    def refuse(name: str) -> None:
        raise ValueError(f"non-standard JSON constant {name}")

    meta = json.loads((tmp_path / "r" / "router.json").read_text(), parse_constant=refuse)
    assert meta["params"]["alpha"] == "inf"
    again = load_router(tmp_path / "r", embedder=r.embedder)
    np.testing.assert_allclose(again.predict(new_models.prompts[:5]), r.predict(new_models.prompts[:5]))


def test_save_load_round_trip_needs_no_base_folder(
    base: object, new_models: ResultsTable, embedder: object, tmp_path: Path
) -> None:
    cal = new_models.subset(range(100))
    r = AdaptedRouter(bases=["somewhere/else"]).set_bases([base]).fit(cal)  # type: ignore[list-item]
    folder = save_router(r, tmp_path / "adapted")
    from wayfare.routers.artifact import load_artifact

    back = load_artifact(folder, embedder=embedder)  # type: ignore[arg-type]
    assert isinstance(back, AdaptedRouter) and back.models_ == ["coder", "steady"]
    assert [b.kind for b in back.base_routers_] == ["task"] and back.alpha_ == r.alpha_
    prompts = new_models.prompts[100:140]
    np.testing.assert_allclose(back.predict(prompts), r.predict(prompts), atol=1e-6)


def test_bad_input_is_a_clear_error(base: object, new_models: ResultsTable) -> None:
    with pytest.raises(ValueError, match="needs at least 2"):
        AdaptedRouter().set_bases([base]).fit(new_models.select_models(["coder"]))  # type: ignore[list-item]
    few = new_models.subset(range(MIN_GRADED - 1))
    with pytest.raises(ValueError, match=f"too few graded prompts in mine: coder \\({MIN_GRADED - 1}\\)"):
        AdaptedRouter().set_bases([base]).fit(few)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="alpha must be"):
        AdaptedRouter(alpha=-1.0)
    with pytest.raises(ValueError, match="non-empty list"):
        AdaptedRouter(bases=[])
    with pytest.raises(ValueError, match="no router artifact"):
        AdaptedRouter(bases=[str(Path("no") / "such-router")]).fit_vectors(np.zeros((len(new_models), 8)), new_models)


def test_leave_one_out_residuals_are_exact() -> None:
    rng = np.random.default_rng(2)
    z, y = rng.normal(size=(25, 3)), rng.uniform(size=25)
    for alpha in (0.0, 0.3, float("inf")):
        _, _, loo = ridge_head(z, y, alpha)
        for i in (0, 7, 24):
            keep = np.arange(25) != i
            w, b, _ = ridge_head(z[keep], y[keep], alpha * 25 / 24)  # the same absolute penalty on 24 rows
            assert loo[i] == pytest.approx(y[i] - (b + z[i] @ w), abs=1e-9)


def test_registered_and_loadable_by_kind(
    base: object, new_models: ResultsTable, embedder: object, tmp_path: Path
) -> None:
    r = make_router("adapted", prompt_features=False)
    assert isinstance(r, AdaptedRouter)
    r.set_bases([base]).fit(new_models.subset(range(40)))  # type: ignore[list-item]
    save_router(r, tmp_path / "m")
    assert load_router(str(tmp_path / "m"), embedder=embedder).models_ == ["coder", "steady"]  # type: ignore[arg-type]
