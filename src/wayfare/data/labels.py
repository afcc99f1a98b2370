"""Training labels: what a pair router learns to predict, as a transform of a results table.

A pair router learns an expected score for its ``weak`` and ``strong`` columns and routes on
``(1 + strong - weak) / 2``. Which numbers sit in those two columns is a design decision (the *label*):

- ``strong-wins``: the two models' own scores (the router learns "the strong model does better than the weak one";
  on tie-heavy data, where both are right or both wrong, most rows carry no signal).
- ``weak-fails``: strong column 1, weak column the weak model's score: the router learns "the weak model fails".
- ``difficulty``: strong column 1, weak column the mean score of *all* models in the table (at least three), i.e.
  the router learns the prompt's difficulty, 1 - mean score, a far less noisy label than one comparison.
  ``difficulty:exclude=A+B`` leaves models A and B out of the mean (e.g. models that fail a task by ignoring its
  answer format, which is noise, not difficulty); names a table does not have are ignored, so one label can serve
  several sources.
- ``gap:T``: strong column 1, weak column 1 where the weak model is within ``T`` of the strong one, else 0
  (Hybrid-LLM's relaxed label, Ding et al. 2024).

For N-model routers (which predict every model's score) ``strong-wins`` keeps the scores as they are and ``gap:T``
marks each model 1 where it is within ``T`` of the best model on that prompt; ``weak-fails`` and ``difficulty``
name a pair and have no N-model form.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from wayfare.data.table import ResultsTable

LABELS = ("strong-wins", "weak-fails", "difficulty", "difficulty:exclude=A+B", "gap:T")
MIN_DIFFICULTY_MODELS = 3


@dataclass(frozen=True)
class Label:
    """A parsed label: ``kind`` is one of strong-wins, weak-fails, difficulty, gap; ``gap`` is T for gap:T."""

    kind: str
    gap: float = 0.0
    exclude: tuple[str, ...] = ()
    """Models left out of a ``difficulty`` mean."""

    @property
    def name(self) -> str:
        if self.kind == "gap":
            return f"gap:{self.gap:g}"
        if self.exclude:
            return f"{self.kind}:exclude={'+'.join(self.exclude)}"
        return self.kind


def parse_label(text: str) -> Label:
    """``strong-wins``, ``weak-fails``, ``difficulty`` or ``gap:T`` (T in [0, 1])."""
    value = text.strip()
    if value in ("strong-wins", "weak-fails", "difficulty"):
        return Label(value)
    kind, sep, raw = value.partition(":")
    if kind == "difficulty" and sep:
        key, eq, names = raw.partition("=")
        excluded = tuple(n.strip() for n in names.split("+") if n.strip())
        if key.strip() != "exclude" or not eq or not excluded:
            raise ValueError(f"label {text!r}: write difficulty:exclude=MODEL+MODEL")
        return Label("difficulty", exclude=excluded)
    if kind == "gap" and sep:
        try:
            gap = float(raw)
        except ValueError:
            gap = float("nan")
        if not 0.0 <= gap <= 1.0:
            raise ValueError(f"label gap:T needs T in [0, 1], got {raw!r}")
        return Label("gap", gap)
    raise ValueError(f"unknown label {text!r}; choose one of: {', '.join(LABELS)}")


def relabel_pair(table: ResultsTable, label: Label | str, *, strong: str, weak: str) -> ResultsTable:
    """The two-model table ``[weak, strong]`` whose columns hold ``label`` (computed from ``table``'s models).

    Rows keep their order; where a score the label needs is unknown the label is NaN (routers skip NaN when
    fitting). ``meta["label"]`` records the label."""
    lab = parse_label(label) if isinstance(label, str) else label
    s, w = table.column(strong), table.column(weak)
    if lab.kind == "strong-wins":
        new_w, new_s = w, s
    elif lab.kind == "weak-fails":
        new_w, new_s = w, np.where(np.isnan(w), np.nan, 1.0)
    elif lab.kind == "difficulty":
        cols = [j for j, m in enumerate(table.models) if m not in lab.exclude]
        if len(cols) < MIN_DIFFICULTY_MODELS:
            left = f" after leaving out {', '.join(m for m in table.models if m in lab.exclude)}" if lab.exclude else ""
            raise ValueError(
                f"label difficulty needs a table with at least {MIN_DIFFICULTY_MODELS} models ({table.name} has "
                f"{len(cols)}{left}); use weak-fails on a two-model table"
            )
        used = table.scores[:, cols]
        counts = (~np.isnan(used)).sum(axis=1)
        mean = np.where(counts > 0, np.nansum(used, axis=1) / np.maximum(counts, 1), np.nan)
        new_w, new_s = mean, np.where(np.isnan(mean), np.nan, 1.0)
    else:
        unknown = np.isnan(s) | np.isnan(w)
        new_w = np.where(unknown, np.nan, (w >= s - lab.gap - 1e-12).astype(np.float64))
        new_s = np.where(unknown, np.nan, 1.0)
    pair = table.select_models([weak, strong])
    scores = np.column_stack([new_w, new_s]).astype(np.float64)
    return replace(pair, scores=scores, strong=strong, weak=weak, meta={**table.meta, "label": lab.name})


def relabel_models(table: ResultsTable, label: Label | str) -> ResultsTable:
    """An N-model table with ``label`` applied to every column (``strong-wins``: unchanged; ``gap:T``: 1 where the
    model is within ``T`` of the best model on that prompt)."""
    lab = parse_label(label) if isinstance(label, str) else label
    if lab.kind == "strong-wins":
        return replace(table, meta={**table.meta, "label": lab.name})
    if lab.kind != "gap":
        raise ValueError(
            f"label {lab.name} names a strong/weak pair; an N-model router takes strong-wins (the scores) or gap:T "
            "(give --strong/--weak for a pair router)"
        )
    best = np.nanmax(np.where(np.isnan(table.scores), -np.inf, table.scores), axis=1, keepdims=True)
    scores = np.where(np.isnan(table.scores), np.nan, (table.scores >= best - lab.gap - 1e-12).astype(np.float64))
    return replace(table, scores=scores, meta={**table.meta, "label": lab.name})


def relabel(table: ResultsTable, label: Label | str) -> ResultsTable:
    """``label`` applied to a table: a pair table when ``table`` names a strong and a weak model (computed from all
    of the table's models), else every model's column."""
    if table.strong is not None and table.weak is not None:
        return relabel_pair(table, label, strong=table.strong, weak=table.weak)
    return relabel_models(table, label)
