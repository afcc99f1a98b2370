"""Training helpers behind ``wayfare train``: reading training data, embedding with a progress bar, routers by
parameters. (The holdout summary is :mod:`wayfare.eval.holdout`: evaluation sits above the routers.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from wayfare.data import ResultsTable
from wayfare.embed.base import Embedder
from wayfare.routers._core import BaseRouter

EMBED_BATCH = 256


def embed_with_progress(embedder: Embedder, texts: Sequence[str], *, label: str = "embedding") -> NDArray[np.float32]:
    """Embed ``texts`` in batches, showing a rich progress bar (on stderr)."""
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task(label, total=len(texts))
        for start in range(0, len(texts), EMBED_BATCH):
            chunk = list(texts[start : start + EMBED_BATCH])
            out[start : start + len(chunk)] = embedder.embed(chunk)
            progress.advance(task, len(chunk))
    return out


def load_training_table(
    source: str, fmt: str | None, *, strong: str | None = None, weak: str | None = None
) -> ResultsTable:
    """A results table from a built-in benchmark name or a file in one of :data:`wayfare.data.FORMATS`, or a
    battles JSONL file (``fmt="battles"``). ``strong`` / ``weak`` name the pair (the other one defaults to the
    highest / lowest mean scorer); the table keeps all its models (:func:`wayfare.data.labels.relabel` reduces it)."""
    from wayfare.data import BENCHMARKS, load_benchmark, load_table

    if fmt == "battles":
        from wayfare.routers.battles import battles_to_table, load_battles

        table = battles_to_table(load_battles(source), name=source)
        table = replace(table, meta={**table.meta, "source": f"battles {source}"})
    elif fmt is None and source in BENCHMARKS:
        table = load_benchmark(source)
    else:
        table = load_table(source, fmt or "jsonl")
        table = replace(table, meta={**table.meta, "source": table.meta.get("source", f"{fmt or 'jsonl'} {source}")})
    if strong or weak:  # name the pair but keep every model: a label such as difficulty reads them all
        named = table.pair(strong=strong, weak=weak)
        table = replace(table, strong=named.strong, weak=named.weak)
    return table


def parse_params(items: list[str]) -> dict[str, Any]:
    """``--param name=value`` options: values read as JSON when they parse (numbers, lists...), else as text."""
    import orjson

    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--param must look like name=value, got {item!r}")
        try:
            params[key] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            params[key] = raw
    return params


def new_router(kind: str, params: dict[str, Any], *, seed: int, embedder_name: str, max_tokens: int) -> BaseRouter:
    """An unfitted registry router with its embedder opened (when it needs one)."""
    from wayfare.routers.registry import make_router

    router = make_router(kind, embedder=None, seed=seed, **params)
    if router.needs_embedder:
        from wayfare.embed import load_embedder

        router.embedder = load_embedder(embedder_name, max_tokens=max_tokens)
    return router


def embed_for(router: BaseRouter, prompts: list[str]) -> NDArray[np.float32]:
    """The router's embeddings of ``prompts`` with a progress bar; an empty (n, 0) matrix if it has no embedder."""
    if router.embedder is None:
        return np.zeros((len(prompts), 0), dtype=np.float32)
    return embed_with_progress(router.embedder, prompts, label=f"embedding {len(prompts)} prompts")
