"""Train/test splits that never let a router score a prompt it was trained on.

Folds are drawn over distinct prompt *texts*, so two rows with the same text always land in the same fold. With a
holdout (``meta["train_rows"]`` / ``meta["test_rows"]``, as LLMRouter ships), test rows whose text also appears in
the training rows are dropped from the evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from wayfare.data import ResultsTable

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Split:
    """Folds of (train rows, test rows) and the rows evaluated (the union of the test rows, ascending)."""

    folds: list[tuple[IntArray, IntArray]]
    eval_rows: IntArray
    description: str
    dropped_leaks: int = 0


def _text_groups(prompts: Sequence[str]) -> tuple[int, IntArray]:
    """(number of distinct texts, each row's text index): rows with the same text share an index."""
    texts, group = np.unique(np.asarray(prompts, dtype=object).astype(str), return_inverse=True)
    return len(texts), group.astype(np.int64)


def random_holdout_split(prompts: Sequence[str], fraction: float, seed: int) -> Split:
    """One train/test split holding out a random ``fraction`` of the distinct prompt texts (at least one)."""
    n_texts, group = _text_groups(prompts)
    held = np.zeros(n_texts, dtype=bool)
    held[np.random.default_rng(seed).permutation(n_texts)[: max(1, round(fraction * n_texts))]] = True
    test = np.flatnonzero(held[group]).astype(np.int64)
    train = np.flatnonzero(~held[group]).astype(np.int64)
    return Split([(train, test)], test, f"random {fraction:.0%} of the distinct prompts (seed {seed})")


def kfold_split(prompts: Sequence[str], k: int, seed: int) -> Split:
    """``k`` folds over distinct prompt texts (shuffled with ``seed``); every row is evaluated exactly once."""
    n = len(prompts)
    if k < 2:
        raise ValueError(f"--folds must be at least 2, got {k}")
    n_texts, group = _text_groups(prompts)
    if n_texts < k:
        raise ValueError(f"cannot make {k} folds from {n_texts} distinct prompts")
    rng = np.random.default_rng(seed)
    fold_of_text = np.empty(n_texts, dtype=np.int64)
    fold_of_text[rng.permutation(n_texts)] = np.arange(n_texts) % k
    fold_of_row = fold_of_text[group]
    folds = [
        (np.flatnonzero(fold_of_row != f).astype(np.int64), np.flatnonzero(fold_of_row == f).astype(np.int64))
        for f in range(k)
    ]
    return Split(folds, np.arange(n, dtype=np.int64), f"{k}-fold cross-validation over distinct prompts (seed {seed})")


def category_split(table: ResultsTable) -> Split:
    """One fold per category (a task or benchmark inside a mixed table): trained on every other category, scored on
    it, so a router is judged on kinds of prompts it never saw. Training rows whose prompt text also appears in the
    held-out category are dropped from that fold (and counted)."""
    if table.categories is None:
        raise ValueError(f"{table.name}: --hold-out-categories needs a table with a category per prompt")
    cats = np.asarray([str(c) for c in table.categories], dtype=object)
    names = sorted(set(cats.tolist()))
    if len(names) < 2:
        raise ValueError(f"{table.name}: --hold-out-categories needs at least two categories, found {names}")
    folds: list[tuple[IntArray, IntArray]] = []
    dropped = 0
    for name in names:
        test = np.flatnonzero(cats == name).astype(np.int64)
        held_texts = {table.prompts[i] for i in test.tolist()}
        others = np.flatnonzero(cats != name).astype(np.int64)
        train = np.asarray([i for i in others.tolist() if table.prompts[i] not in held_texts], dtype=np.int64)
        dropped += int(others.size - train.size)
        folds.append((train, test))
    note = f"leave-one-category-out over {len(names)} categories ({', '.join(names)})"
    if dropped:
        note += f"; {dropped} training rows repeating a held-out prompt dropped"
    return Split(folds, np.arange(len(table), dtype=np.int64), note, dropped)


def _rows(meta: dict[str, object], key: str, n: int) -> IntArray:
    raw = meta[key]
    if not isinstance(raw, (list, tuple, np.ndarray)):
        raise ValueError(f"table meta[{key!r}] must be a list of row indices")
    rows = np.asarray(raw, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= n):
        raise ValueError(f"table meta[{key!r}] has row indices outside 0..{n - 1}")
    return rows


def holdout_split(table: ResultsTable) -> Split:
    """The table's own train/test rows; test rows whose prompt text is in the training rows are dropped."""
    n = len(table)
    train = _rows(table.meta, "train_rows", n)
    test = _rows(table.meta, "test_rows", n)
    seen = {table.prompts[i] for i in train.tolist()}
    kept = np.asarray([i for i in test.tolist() if table.prompts[i] not in seen], dtype=np.int64)
    if not kept.size:
        raise ValueError(f"{table.name}: no test rows left after removing prompts that are also in training rows")
    dropped = int(test.size - kept.size)
    note = f"held-out test split ({kept.size} test rows, trained on {train.size} train rows"
    note += f"; {dropped} test rows also in train dropped)" if dropped else ")"
    return Split([(train, np.sort(kept))], np.sort(kept), note, dropped)


def has_holdout(table: ResultsTable) -> bool:
    return "train_rows" in table.meta and "test_rows" in table.meta


def restrict_meta_rows(meta: dict[str, object], kept: IntArray) -> dict[str, object]:
    """``meta`` with ``train_rows`` / ``test_rows`` renumbered after keeping only rows ``kept`` (ascending)."""
    out = dict(meta)
    new_index = {int(old): new for new, old in enumerate(kept.tolist())}
    for key in ("train_rows", "test_rows"):
        raw = meta.get(key)
        if isinstance(raw, (list, tuple, np.ndarray)):
            out[key] = [new_index[int(i)] for i in raw if int(i) in new_index]
    return out
