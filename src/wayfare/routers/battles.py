"""Pairwise preference battles ``{prompt, model_a, model_b, winner: a|b|tie}``: reading them, turning a results
table into battles, and turning battles into a results table (each model's mean battle outcome on the prompt)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from numpy.typing import NDArray

if TYPE_CHECKING:
    from wayfare.data import ResultsTable


_OUTCOME = {"a": 1.0, "model_a": 1.0, "b": 0.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


@dataclass(frozen=True)
class Battles:
    """Aggregated battles per distinct prompt: ``wins[i, a, b]`` = battles on prompt i that model a won against b
    (a tie counts ½ to each), ``games[i, a, b]`` = battles between a and b on prompt i (symmetric)."""

    prompts: list[str]
    models: list[str]
    wins: NDArray[np.float32]
    games: NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.prompts)


def battles_from_table(table: ResultsTable) -> Battles:
    """Every pair of models with known scores on a prompt fights one battle: the higher score wins, equal is a tie."""
    y = table.scores
    n, m = y.shape
    wins = np.zeros((n, m, m), dtype=np.float32)
    games = np.zeros((n, m, m), dtype=np.float32)
    for a, b in combinations(range(m), 2):
        both = ~np.isnan(y[:, a]) & ~np.isnan(y[:, b])
        ya, yb = np.nan_to_num(y[:, a]), np.nan_to_num(y[:, b])
        outcome = np.where(ya > yb, 1.0, np.where(ya < yb, 0.0, 0.5))
        wins[:, a, b] = np.where(both, outcome, 0.0)
        wins[:, b, a] = np.where(both, 1.0 - outcome, 0.0)
        games[:, a, b] = games[:, b, a] = both
    return Battles(list(table.prompts), list(table.models), wins, games)


def parse_battles(rows: Iterable[Mapping[str, Any]], *, source: str = "battles") -> Battles:
    """Aggregate battle rows ``{prompt, model_a, model_b, winner}`` (winner: a, b or tie)."""
    prompt_index: dict[str, int] = {}
    model_index: dict[str, int] = {}
    records: list[tuple[int, int, int, float]] = []
    for line_no, row in enumerate(rows, start=1):
        try:
            prompt, ma, mb, winner = row["prompt"], row["model_a"], row["model_b"], str(row["winner"]).lower()
        except (KeyError, TypeError):
            raise ValueError(f"{source}:{line_no}: need prompt, model_a, model_b and winner") from None
        if winner not in _OUTCOME:
            raise ValueError(f"{source}:{line_no}: winner must be a, b or tie, got {row['winner']!r}")
        if ma == mb:
            raise ValueError(f"{source}:{line_no}: model_a and model_b are both {ma!r}")
        i = prompt_index.setdefault(str(prompt), len(prompt_index))
        a = model_index.setdefault(str(ma), len(model_index))
        b = model_index.setdefault(str(mb), len(model_index))
        records.append((i, a, b, _OUTCOME[winner]))
    if not records:
        raise ValueError(f"{source}: no battles")
    n, m = len(prompt_index), len(model_index)
    wins = np.zeros((n, m, m), dtype=np.float32)
    games = np.zeros((n, m, m), dtype=np.float32)
    for i, a, b, outcome in records:
        wins[i, a, b] += outcome
        wins[i, b, a] += 1.0 - outcome
        games[i, a, b] += 1.0
        games[i, b, a] += 1.0
    return Battles(list(prompt_index), list(model_index), wins, games)


def load_battles(path: str | Path) -> Battles:
    """Read a battles JSONL file."""
    p = Path(path)
    rows = []
    with p.open("rb") as fh:
        for line_no, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    rows.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    raise ValueError(f"{p}:{line_no}: not valid JSON") from None
    return parse_battles(rows, source=str(p))


def battles_to_table(battles: Battles, *, name: str = "battles") -> ResultsTable:
    """A results table whose score for (prompt, model) is the model's mean battle outcome there (NaN if it did not
    fight on that prompt)."""
    from wayfare.data import ResultsTable

    played = battles.games.sum(axis=2)
    won = battles.wins.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(played > 0, won / np.maximum(played, 1e-9), np.nan).astype(np.float64)
    ids = [str(i) for i in range(len(battles))]
    return ResultsTable(name=name, prompt_ids=ids, prompts=battles.prompts, models=battles.models, scores=scores)
