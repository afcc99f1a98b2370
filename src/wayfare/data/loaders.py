"""One entry point for every results format, and the benchmarks bundled with Wayfare."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from pathlib import Path

from wayfare.data.arena_hard import load_arena_hard
from wayfare.data.errors import DataFormatError
from wayfare.data.jsonl import load_jsonl
from wayfare.data.llmrouter import load_llmrouter
from wayfare.data.mtbench import load_mt_bench
from wayfare.data.prices import PriceTable
from wayfare.data.routellm import load_routellm_gsm8k, load_routellm_mmlu
from wayfare.data.routerarena import load_routerarena
from wayfare.data.table import ResultsTable

Loader = Callable[..., ResultsTable]

FORMATS: dict[str, Loader] = {
    "routellm-mmlu": load_routellm_mmlu,
    "routellm-gsm8k": load_routellm_gsm8k,
    "llmrouter": load_llmrouter,
    "mt-bench": load_mt_bench,
    "arena-hard": load_arena_hard,
    "routerarena": load_routerarena,
    "jsonl": load_jsonl,
}
"""Format name -> loader. Every loader takes a path and a keyword ``prices`` and returns a ResultsTable."""

BENCHMARKS: dict[str, str] = {
    "mmlu": "mmlu.jsonl.gz",
    "gsm8k": "gsm8k.jsonl.gz",
    "llmrouter": "llmrouter.jsonl.gz",
}
"""Built-in benchmark name -> bundled file under ``wayfare/data/bundled/`` (see its README.md)."""


def _with_pair(table: ResultsTable, strong: str | None, weak: str | None) -> ResultsTable:
    if strong is None and weak is None:
        return table
    for role, model in (("strong", strong), ("weak", weak)):
        if model is not None and model not in table.models:
            raise DataFormatError(f"{role} model {model!r} is not in {table.name} (models: {', '.join(table.models)})")
    return replace(table, strong=strong or table.strong, weak=weak or table.weak)


def load_table(
    path: str | Path,
    format: str,
    *,
    prices: PriceTable | None = None,
    strong: str | None = None,
    weak: str | None = None,
    **options: object,
) -> ResultsTable:
    """Read ``path`` in ``format`` (one of :data:`FORMATS`); ``strong`` / ``weak`` override the pair if given.

    ``options`` go to the format's loader, e.g. ``judge="gpt-4"`` (mt-bench), ``join="outer"`` (routerarena),
    ``exclude_tasks={"gpqa"}`` (llmrouter).
    """
    loader = FORMATS.get(format)
    if loader is None:
        raise DataFormatError(f"unknown format {format!r}; choose one of: {', '.join(FORMATS)}")
    accepted = set(inspect.signature(loader).parameters) - {"path", "prices"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        allowed = ", ".join(sorted(accepted)) or "none"
        raise DataFormatError(f"format {format!r} has no option {', '.join(unknown)} (options: {allowed})")
    if not Path(path).exists():
        raise DataFormatError(f"{path}: no such file or directory")
    return _with_pair(loader(path, prices=prices, **options), strong, weak)


def bundled_path(name: str) -> Path:
    """Path of a bundled benchmark file."""
    if name not in BENCHMARKS:
        raise DataFormatError(f"unknown benchmark {name!r}; built-in benchmarks: {', '.join(BENCHMARKS)}")
    return Path(str(resources.files("wayfare.data").joinpath("bundled", BENCHMARKS[name])))


def load_benchmark(
    name: str, *, prices: PriceTable | None = None, strong: str | None = None, weak: str | None = None
) -> ResultsTable:
    """A built-in benchmark (``mmlu``, ``gsm8k``, ``llmrouter``) read from the copy bundled in the package."""
    path = bundled_path(name)
    if not path.is_file():
        raise DataFormatError(f"bundled benchmark {name!r} is missing ({path}); run scripts/bundle_data.py")
    table = load_jsonl(path, prices=prices, name=name)
    origin = table.meta.get("origin", "see wayfare/data/bundled/README.md")
    table = replace(table, meta={**table.meta, "source": f"bundled {name} ({path.name}); {origin}"})
    return _with_pair(table, strong, weak)
