"""TF-IDF n-gram features of a prompt, computed without scikit-learn at inference.

Terms are lower-cased word unigrams and bigrams (``\\w\\w+`` tokens) and character 3- to 5-grams inside word
boundaries (``char_wb``), read from the first :data:`WINDOW` characters. A prompt's vector is the sublinear term
frequency (1 + log tf) times the term's inverse document frequency, L2-normalised. Fitting the vocabulary uses
scikit-learn (training only); :class:`TfidfVocabulary` then turns prompts into sparse rows with NumPy and SciPy-free
Python, so a saved router needs neither.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

WINDOW = 2000  # characters read per prompt: bounds the cost whatever the prompt length
_WORD = re.compile(r"(?u)\b\w\w+\b")
_SPACE = re.compile(r"\s+")


def terms(prompt: str) -> list[str]:
    """The n-gram terms of one prompt: ``w:`` word 1-2 grams and ``c:`` character 3-5 grams within words."""
    text = prompt[:WINDOW].lower()
    words = _WORD.findall(text)
    out = ["w:" + w for w in words]
    out += ["w:" + a + " " + b for a, b in pairwise(words)]
    for word in _SPACE.split(text):
        if not word:
            continue
        padded = f" {word} "
        for n in (3, 4, 5):
            out += ["c:" + padded[i : i + n] for i in range(max(len(padded) - n + 1, 1))]
    return out


@dataclass
class TfidfVocabulary:
    """Fitted terms (``vocab[i]`` is column i) and their inverse document frequencies."""

    vocab: list[str]
    idf: NDArray[np.float64]

    def __post_init__(self) -> None:
        self._index = {t: i for i, t in enumerate(self.vocab)}

    @classmethod
    def fit(cls, prompts: Sequence[str], *, min_df: int = 3, max_features: int = 200_000) -> TfidfVocabulary:
        """Vocabulary of the ``max_features`` most frequent terms seen in at least ``min_df`` prompts; smooth idf
        ``1 + ln((1 + n) / (1 + df))`` as scikit-learn computes it."""
        df: Counter[str] = Counter()
        for p in prompts:
            df.update(set(terms(p)))
        kept = [t for t, c in df.items() if c >= min_df]
        kept.sort(key=lambda t: (-df[t], t))
        kept = sorted(kept[:max_features])
        n = len(prompts)
        idf = np.asarray([1.0 + np.log((1.0 + n) / (1.0 + df[t])) for t in kept], dtype=np.float64)
        return cls(kept, idf)

    def rows(self, prompts: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """CSR parts ``(indptr, indices, values)`` of the prompts' L2-normalised TF-IDF rows."""
        indptr = [0]
        indices: list[int] = []
        values: list[float] = []
        for p in prompts:
            counts = Counter(i for i in (self._index.get(t) for t in terms(p)) if i is not None)
            cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            vals = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * self.idf[cols]
            norm = float(np.sqrt((vals**2).sum())) or 1.0
            indices.extend(cols.tolist())
            values.extend((vals / norm).tolist())
            indptr.append(len(indices))
        return np.asarray(indptr, np.int64), np.asarray(indices, np.int64), np.asarray(values, np.float64)

    def dot(self, prompts: Sequence[str], weights: NDArray[np.floating]) -> NDArray[np.float64]:
        """``X @ weights`` for the prompts' TF-IDF matrix X (n, V) and ``weights`` (V, m), without SciPy."""
        indptr, indices, values = self.rows(prompts)
        w = np.asarray(weights, dtype=np.float64)
        out = np.zeros((len(prompts), w.shape[1]))
        for r in range(len(prompts)):
            a, b = indptr[r], indptr[r + 1]
            out[r] = values[a:b] @ w[indices[a:b]]
        return out
