"""The blend router: TF-IDF terms scored without scikit-learn, answer-option geometry, and the weighted mean."""

from __future__ import annotations

import numpy as np
import pytest

from wayfare.data import ResultsTable
from wayfare.routers import load_router, make_router, save_router
from wayfare.routers.option_features import OPTION_FEATURE_NAMES, option_features
from wayfare.routers.tfidf import TfidfVocabulary, terms


def test_tfidf_rows_match_scikit_learn() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = ["The cat sat on the mat.", "A cat and a dog.", "Dogs chase cats; the cat runs.", "Mats are flat."] * 2
    vocab = TfidfVocabulary.fit(docs, min_df=1)
    ref = TfidfVectorizer(analyzer=terms, sublinear_tf=True, min_df=1).fit(docs)
    assert vocab.vocab == list(ref.get_feature_names_out())
    new = ["the cat chased a dog", "nothing known here zzz"]
    expected = ref.transform(new).toarray()
    weights = np.random.default_rng(0).normal(size=(len(vocab.vocab), 2))
    np.testing.assert_allclose(vocab.dot(new, weights), expected @ weights, atol=1e-9)
    assert "w:the cat" in terms("The cat") and "c: ca" in terms("The cat")


def test_option_features_read_the_options_of_a_multiple_choice_prompt(embedder: object) -> None:
    prompts = [
        "Which is a fruit?\nA. apple\nB. apple pie\nC. granite\nD. river\nAnswer:",
        "What is 17 * 23?",  # no options: zeros
    ]
    f = option_features(prompts, embedder.embed)  # type: ignore[attr-defined]
    assert f.shape == (2, len(OPTION_FEATURE_NAMES))
    assert np.all(f[1] == 0)
    col = {n: i for i, n in enumerate(OPTION_FEATURE_NAMES)}
    assert f[0, col["stem_option_cos_max"]] >= f[0, col["stem_option_cos_second"]]
    assert f[0, col["option_pair_cos_max"]] >= f[0, col["option_pair_cos_mean"]] >= f[0, col["option_pair_cos_min"]]


def test_blend_is_the_weighted_mean_of_its_members(
    embedder: object, mmlu_two_subjects: ResultsTable, tmp_path: object
) -> None:
    table = mmlu_two_subjects
    train, test = table.subset(range(300)), table.subset(range(300, 360))
    x_train = embedder.embed(train.prompts)  # type: ignore[attr-defined]
    x_test = embedder.embed(test.prompts)  # type: ignore[attr-defined]
    router = make_router("blend", embedder=embedder, knn_weight=0.2, tfidf_weight=0.3)  # type: ignore[arg-type]
    router.fit_vectors(x_train, train)
    knn = router.knn_.predict_vectors(x_test)  # type: ignore[attr-defined]
    probe = router.probe_.predict_vectors(router._probe_input(x_test, test.prompts))  # type: ignore[attr-defined]
    only_tfidf = make_router("blend", embedder=embedder, knn_weight=0.0, tfidf_weight=1.0)  # type: ignore[arg-type]
    tfidf = only_tfidf.fit_vectors(x_train, train).predict_vectors(x_test, test.prompts)
    np.testing.assert_allclose(
        router.predict_vectors(x_test, test.prompts), 0.2 * knn + 0.5 * probe + 0.3 * tfidf, atol=1e-6
    )
    folder = save_router(router, tmp_path / "blend")  # type: ignore[operator]
    loaded = load_router(folder, embedder=embedder)  # type: ignore[arg-type]
    np.testing.assert_allclose(loaded.score(test.prompts), router.score(test.prompts), atol=1e-5)
    with pytest.raises(ValueError, match="also reads the prompt text"):
        router.score_vectors(x_test)


def test_blend_rejects_bad_weights_and_needs_an_embedder_for_options(mmlu_two_subjects: ResultsTable) -> None:
    with pytest.raises(ValueError, match="must be <= 1"):
        make_router("blend", knn_weight=0.6, tfidf_weight=0.6)
    with pytest.raises(ValueError, match="tfidf_c"):
        make_router("blend", tfidf_c=0)
    x = np.eye(len(mmlu_two_subjects), 16, dtype=np.float32)
    with pytest.raises(ValueError, match="embeds answer options"):
        make_router("blend").fit_vectors(x, mmlu_two_subjects)
