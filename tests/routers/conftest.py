"""Fixtures for router tests: a small deterministic embedder (hashed character n-grams, scikit-learn's
HashingVectorizer) and real benchmark slices from the bundled data."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.feature_extraction.text import HashingVectorizer

from wayfare.data import ResultsTable, load_benchmark


class HashingEmbedder:
    """Implements the Embedder protocol with hashed character 3-4-grams (L2-normalised)."""

    def __init__(self, dim: int = 256) -> None:
        self._dim = dim
        self._vec = HashingVectorizer(
            analyzer="char_wb", ngram_range=(3, 4), n_features=dim, alternate_sign=False, norm="l2"
        )

    @property
    def name(self) -> str:
        return f"test-hashing-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.asarray(self._vec.transform(list(texts)).toarray(), dtype=np.float32)


@pytest.fixture(scope="session")
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def mmlu_two_subjects() -> ResultsTable:
    """Real MMLU rows of two subjects with opposite routing needs: in moral_scenarios GPT-4 is far better than
    Mixtral (80.9% vs 43.0%); in high_school_mathematics Mixtral is better (31.9% vs 3.0%)."""
    table = load_benchmark("mmlu")
    assert table.categories is not None
    rows = [i for i, c in enumerate(table.categories) if c in ("moral_scenarios", "high_school_mathematics")]
    rng = np.random.default_rng(0)
    return table.subset(rng.permutation(rows))


@pytest.fixture(scope="session")
def llmrouter_small() -> ResultsTable:
    """1,500 rows of the de-leaked LLMRouter train split (9 models, real scores)."""
    table = load_benchmark("llmrouter")
    rng = np.random.default_rng(0)
    return table.subset(rng.permutation(len(table))[:1500])
