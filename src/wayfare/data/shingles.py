"""Word shingles: the overlap test used to keep one benchmark's prompts out of another's training data.

Two prompts *share a shingle* when they have the same run of 8 consecutive words (lower-cased ``\\w+`` words);
a text of 8 words or fewer is one shingle. Benchmarks copy each other (LLMRouter repeats MMLU and GSM8K
questions), so a router trained on one and scored on another is only measuring transfer once such rows are gone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

SHINGLE_WORDS = 8
_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = SHINGLE_WORDS) -> set[str]:
    """The ``n``-word shingles of ``text`` (lower-cased ``\\w+`` words); a shorter text is one shingle."""
    words = _WORD.findall(text.lower())
    if len(words) <= n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def shingle_sets(texts: Sequence[str], n: int = SHINGLE_WORDS) -> list[frozenset[str]]:
    """Each text's shingles."""
    return [frozenset(shingles(t, n)) for t in texts]


def sharing_rows(sets: Sequence[frozenset[str]], seen: set[str] | frozenset[str]) -> NDArray[np.int64]:
    """Indices of the shingle sets that share at least one shingle with ``seen``."""
    return np.asarray([i for i, s in enumerate(sets) if not seen.isdisjoint(s)], dtype=np.int64)


def deleak(prompts: Sequence[str], against: Iterable[str], n: int = SHINGLE_WORDS) -> tuple[list[int], int]:
    """(indices of ``prompts`` kept, number dropped): a prompt is dropped when it shares any ``n``-word shingle
    with any text of ``against``."""
    seen: set[str] = set()
    for text in against:
        seen |= shingles(text, n)
    kept = [i for i, p in enumerate(prompts) if seen.isdisjoint(shingles(p, n))]
    return kept, len(prompts) - len(kept)
