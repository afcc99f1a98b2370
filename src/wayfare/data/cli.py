"""`wayfare data ...`: inspect a results table and convert any supported format to Wayfare JSONL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from wayfare.data.errors import DataFormatError
from wayfare.data.jsonl import save_jsonl
from wayfare.data.loaders import BENCHMARKS, FORMATS, load_benchmark, load_table
from wayfare.data.prices import PriceTable
from wayfare.data.table import ResultsTable

data_app = typer.Typer(help="Results tables: inspect benchmarks and convert formats.", no_args_is_help=True)
console = Console()

FormatOption = typer.Option(None, "--format", "-f", help=f"Format of SOURCE when it is a path: {', '.join(FORMATS)}.")
PricesOption = typer.Option(None, "--prices", help="Price table JSON (default: the shipped wayfare/data/prices.json).")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _load(source: str, fmt: str | None, prices_path: Path | None) -> ResultsTable:
    try:
        prices = PriceTable.from_file(prices_path) if prices_path is not None else None
        if fmt is None:
            if source not in BENCHMARKS:
                raise _fail(f"{source!r} is not a built-in benchmark ({', '.join(BENCHMARKS)}); give --format", 2)
            return load_benchmark(source, prices=prices)
        return load_table(source, fmt, prices=prices)
    except (DataFormatError, ValueError) as exc:
        raise _fail(str(exc)) from None


@data_app.command("info")
def info_command(
    source: str = typer.Argument(..., help="A built-in benchmark name or a path (then give --format)."),
    fmt: str | None = FormatOption,
    prices: Path | None = PricesOption,
) -> None:
    """Per-model mean score, cost and tokens of a results table, and what its costs are based on."""
    table = _load(source, fmt, prices)
    pair = f", strong={table.strong}, weak={table.weak}" if table.is_pair else ""
    console.print(f"[bold]{table.name}[/]: {len(table)} prompts x {len(table.models)} models{pair}")
    out = Table("model", "scored", "mean score", "total cost $", "mean in tok", "mean out tok")
    for j, model in enumerate(table.models):
        col = table.scores[:, j]

        def mean(a: np.ndarray | None, j: int = j) -> str:
            return "-" if a is None or np.isnan(a[:, j]).all() else f"{np.nanmean(a[:, j]):.1f}"

        cost = "-" if table.costs is None else f"{np.nansum(table.costs[:, j]):.4f}"
        scored = int((~np.isnan(col)).sum())
        mean_score = f"{np.nanmean(col):.4f}" if scored else "-"
        out.add_row(model, str(scored), mean_score, cost, mean(table.input_tokens), mean(table.output_tokens))
    console.print(out)
    if table.categories is not None:
        console.print(f"categories: {len(set(table.categories))}")
    for key, value in table.meta.items():
        if key.endswith("_rows") and isinstance(value, list):
            console.print(f"{key.removesuffix('_rows')} split: {len(value)} rows")
    console.print(f"source: {table.meta.get('source', '?')}")
    console.print(f"cost basis: {table.meta.get('cost_basis', 'none')}", soft_wrap=True)


@data_app.command("convert")
def convert_command(
    source: str = typer.Argument(..., help="A built-in benchmark name or a path (then give --format)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file (.jsonl, or .jsonl.gz for gzip)."),
    fmt: str | None = FormatOption,
    prices: Path | None = PricesOption,
) -> None:
    """Convert a results table to Wayfare JSONL (docs/DATA_FORMAT.md)."""
    table = _load(source, fmt, prices)
    try:
        path = save_jsonl(table, out)
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc}") from None
    console.print(f"wrote {len(table)} prompts x {len(table.models)} models to {path}")
