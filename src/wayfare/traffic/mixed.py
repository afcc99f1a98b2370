"""Logged traffic beside the bundled benchmarks: the training table of ``wayfare train-from-log --with-benchmarks``.

A few hundred labelled requests are too few to learn prompt difficulty from, and the bundled benchmarks alone do not
know a team's traffic (docs/ROUTERS.md "Transfer"). Stacked, each source is relabelled on its own pair (the log on
its strong/weak pair; MMLU and GSM8K on GPT-4-1106 vs Mixtral-8x7B; LLMRouter on Nemotron-51B vs Mistral-7B, where
``difficulty`` uses all 9 models) exactly as the transfer evaluation does, every row's category is its source's name
(the log's is :data:`TRAFFIC`) and the log's rows count ``weight`` times. A ``gated`` router trained on that table
has a traffic expert, a benchmark expert and a gate between them.

Benchmark rows that share an 8-word shingle with *any* logged prompt (the held-out ones included) are dropped, so
``wayfare compare`` never scores a prompt the router saw through a benchmark.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from wayfare.data import ResultsTable
from wayfare.data.labels import Label
from wayfare.data.shingles import deleak
from wayfare.eval.transfer import Source, source_label, training_set
from wayfare.eval.transfer_sources import load_source

TRAFFIC = "traffic"
"""The category of the logged rows in the stacked table (the ``domain`` a gated router gives its own expert)."""
BENCHMARKS = ("mmlu", "gsm8k", "llmrouter")


@dataclass(frozen=True)
class Mixed:
    """The stacked training table, its embeddings and what went into it (for the artifact and the CLI)."""

    x: NDArray[np.float32]
    table: ResultsTable
    described: dict[str, dict[str, object]]
    weight: int
    """How many times each logged row counts."""
    benchmark_rows: int
    dropped: int
    """Benchmark rows left out for sharing an 8-word shingle with a logged prompt."""


def with_benchmarks(
    traffic: ResultsTable,
    every_logged_prompt: Sequence[str],
    label: Label,
    weight: int,
    embed: Callable[[list[str]], NDArray[np.float32]],
) -> Mixed:
    """``traffic`` (the log's training rows, a strong/weak pair table) stacked with the bundled benchmarks.

    ``every_logged_prompt`` is what benchmark rows are decontaminated against; ``embed(prompts)`` embeds."""
    if traffic.strong is None or traffic.weak is None:
        raise ValueError("the logged traffic table names no strong/weak pair")
    if not isinstance(weight, int) or weight < 1:
        raise ValueError(f"--traffic-weight must be a positive integer, got {weight!r}")
    logged = Source(TRAFFIC, traffic, strong=traffic.strong, weak=traffic.weak, weight=weight)
    sources, rows = [logged], [np.arange(len(traffic), dtype=np.int64)]
    described: dict[str, dict[str, object]] = {
        TRAFFIC: {"rows": len(traffic), "weight": weight, "label": source_label(logged, label).name}
    }
    for name in BENCHMARKS:
        src = load_source(name, [], [])
        keep, dropped = deleak(src.table.prompts, every_logged_prompt)
        sources.append(src)
        rows.append(np.asarray(keep, dtype=np.int64))
        described[name] = {
            "rows": len(keep),
            "dropped_sharing_text_with_the_log": dropped,
            "pair": f"{src.strong} vs {src.weak}",
            "label": source_label(src, label).name,
        }
    x, table = training_set(sources, rows, [embed(list(src.table.prompts)) for src in sources], label)
    kept = sum(len(r) for r in rows[1:])
    return Mixed(x, table, described, weight, kept, sum(len(s.table) for s in sources[1:]) - kept)
