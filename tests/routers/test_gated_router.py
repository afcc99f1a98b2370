"""The gated router: a domain expert and a general expert mixed by a gate that recognises the domain."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from wayfare.data import ResultsTable
from wayfare.routers import load_router, make_router, save_router


@pytest.fixture(scope="module")
def two_domains(mmlu_two_subjects: ResultsTable) -> ResultsTable:
    """Real MMLU rows: high-school mathematics is the 'domain' (Mixtral beats GPT-4 there), moral scenarios the rest
    (GPT-4 far ahead), so the two experts must learn opposite things."""
    table = mmlu_two_subjects.pair("gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1")
    return table


@pytest.mark.parametrize("knn_weight", [0.0, 0.3])  # probes only (scored as one fused product) and probes + kNN
def test_prediction_is_the_gate_weighted_mix_of_the_experts(
    embedder: object, two_domains: ResultsTable, knn_weight: float
) -> None:
    table = two_domains
    train, test = table.subset(range(400)), table.subset(range(400, len(table)))
    router = make_router(
        "gated", embedder=embedder, domain="high_school_mathematics", domain_weight=3, knn_weight=knn_weight
    )  # type: ignore[arg-type]
    router.fit(train)
    x = embedder.embed(test.prompts)  # type: ignore[attr-defined]
    g = router.gate(x, test.prompts)  # type: ignore[attr-defined]
    general = router.general_.predict_vectors(x, test.prompts)  # type: ignore[attr-defined]
    domain = router.domain_.predict_vectors(x, test.prompts)  # type: ignore[attr-defined]
    mixed = g[:, None] * domain + (1 - g[:, None]) * general
    np.testing.assert_allclose(router.predict_vectors(x, test.prompts), mixed, atol=1e-6)
    # the gate tells the held-out maths prompts from the moral scenarios
    assert test.categories is not None
    maths = np.asarray([c == "high_school_mathematics" for c in test.categories])
    assert g[maths].mean() > 0.8 and g[~maths].mean() < 0.2
    # the general expert never saw a maths row; the domain expert saw each one domain_weight times
    n_maths = sum(c == "high_school_mathematics" for c in train.categories or [])
    assert router.general_.training_["n_prompts"] == len(train) - n_maths  # type: ignore[attr-defined]
    assert router.domain_.training_["n_prompts"] == len(train) + 2 * n_maths  # type: ignore[attr-defined]
    # and the mix orders the maths prompts like the domain expert: P(strong needed) lower there than on morals
    s = router.score(test.prompts)
    assert s[maths].mean() < s[~maths].mean()


def test_without_domain_rows_it_is_the_plain_probe(embedder: object, two_domains: ResultsTable) -> None:
    table = replace(two_domains, categories=None)
    gated = make_router("gated", embedder=embedder).fit(table)  # type: ignore[arg-type]
    plain = make_router("ensemble", embedder=embedder, knn_weight=0.0).fit(table)  # type: ignore[arg-type]
    prompts = table.prompts[:50]
    np.testing.assert_allclose(gated.score(prompts), plain.score(prompts), atol=1e-12)
    assert gated.domain_ is None and not gated.gate(embedder.embed(prompts), prompts).any()  # type: ignore[attr-defined]


@pytest.mark.parametrize("domain", ["high_school_mathematics", "not-a-category"])
def test_saved_and_loaded_it_scores_the_same(
    embedder: object, two_domains: ResultsTable, tmp_path: Path, domain: str
) -> None:
    router = make_router("gated", embedder=embedder, domain=domain).fit(two_domains)  # type: ignore[arg-type]
    folder = save_router(router, tmp_path / "gated")
    loaded = load_router(folder, embedder=embedder)  # type: ignore[arg-type]
    prompts = two_domains.prompts[:40]
    np.testing.assert_allclose(loaded.score(prompts), router.score(prompts), atol=1e-6)
    assert loaded.get_params() == router.get_params()


def test_bad_parameters_are_refused_and_an_all_domain_table_gives_one_probe(
    embedder: object, two_domains: ResultsTable, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="domain_weight"):
        make_router("gated", domain_weight=0)
    with pytest.raises(ValueError, match="gate_c"):
        make_router("gated", gate_c=0)
    with pytest.raises(ValueError, match="domain must be"):
        make_router("gated", domain="")
    only = replace(two_domains, categories=["x"] * len(two_domains))
    gated = make_router("gated", embedder=embedder, domain="x").fit(only)  # type: ignore[arg-type]
    plain = make_router("ensemble", embedder=embedder, knn_weight=0.0).fit(only)  # type: ignore[arg-type]
    assert gated.domain_ is None and gated.domain_n_ == len(only)  # type: ignore[attr-defined]
    np.testing.assert_allclose(gated.score(only.prompts[:30]), plain.score(only.prompts[:30]), atol=1e-12)
    loaded = load_router(save_router(gated, tmp_path / "all-domain"), embedder=embedder)  # type: ignore[arg-type]
    assert loaded.domain_ is None  # type: ignore[attr-defined]
    np.testing.assert_allclose(loaded.score(only.prompts[:30]), plain.score(only.prompts[:30]), atol=1e-6)
