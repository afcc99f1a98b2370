"""``wayfare eval`` and ``wayfare demo``: run the evaluator from the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from wayfare.data import ResultsTable
from wayfare.embed.base import Embedder
from wayfare.eval.report import measured_on, table_rows, write_report
from wayfare.eval.routerspecs import needs_embedder, parse_names, resolve_routers
from wayfare.eval.runner import EvalConfig, EvalResult, evaluate

DEFAULT_ROUTERS = "knn,logreg"
DEMO_ROUTERS = "knn,logreg"
DEMO_BENCHMARKS = ("mmlu", "gsm8k")
# the demo's second part: does it transfer? every bundled source held out in turn; a router that memorises (knn on
# "strong beats weak") beside the configuration of the default's benchmark expert on the difficulty label
DEMO_TRANSFER_SOURCES = ("mmlu", "gsm8k", "llmrouter")
DEMO_TRANSFER_ROUTERS = "knn,ensemble[knn_weight=0]"
DEMO_TRANSFER_LABELS = "strong-wins,difficulty"

console = Console()
err_console = Console(stderr=True)


class UsageError(ValueError):
    """Bad command-line input."""


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _load_table(benchmark: str | None, data: Path | None, fmt: str | None, prices: Path | None) -> ResultsTable:
    from wayfare.data import load_benchmark, load_table
    from wayfare.data.prices import PriceTable

    if benchmark and data:
        raise UsageError("give either --benchmark or --data, not both")
    table_prices = PriceTable.from_file(prices) if prices is not None else None
    if benchmark:
        return load_benchmark(benchmark, prices=table_prices)
    if data is None:
        raise UsageError("give --benchmark NAME (mmlu, gsm8k, llmrouter) or --data PATH --format FORMAT")
    if not fmt:
        raise UsageError("--data needs --format (e.g. mt-bench, routerarena, llmrouter, jsonl)")
    return load_table(data, fmt, prices=table_prices)


def _embedder(spec: str) -> Embedder:
    """The embedder ``name[:max_tokens]``, memoised in memory and on disk: each prompt is embedded once across runs."""
    from wayfare.embed import CachedEmbedder, load_embedder
    from wayfare.embed.store import cache_root

    name, _, budget = spec.partition(":")
    if budget and not budget.isdigit():
        raise UsageError(f"--embedder takes NAME or NAME:MAX_TOKENS, got {spec!r}")
    inner = load_embedder(name, max_tokens=int(budget)) if budget else load_embedder(name)
    return CachedEmbedder(inner, cache_root() / "embeddings")


def run(
    table: ResultsTable, routers: str | None, config: EvalConfig, out: Path, embedder_spec: str = "default"
) -> tuple[EvalResult, dict[str, Path], list[str]]:
    """Evaluate and write the report (shared by ``eval`` and ``demo``)."""
    names = parse_names(routers)
    embedder = _embedder(embedder_spec) if needs_embedder(names) else None
    specs, notes = resolve_routers(names, embedder, config.seed)
    with _progress() as progress:
        result = evaluate(table, specs, config, embedder=embedder, progress=progress)
    paths = write_report(result, out)
    return result, paths, notes


def print_result(result: EvalResult, paths: dict[str, Path]) -> None:
    header, rows = table_rows(result.metrics)
    table = Table(title=f"{result.metrics['benchmark']}: routing evaluation", title_justify="left")
    for col in header:
        table.add_column(col)
    for row in rows:
        table.add_row(*(escape(c) for c in row), *([""] * (len(header) - len(row))))  # names like x[k=v] are not markup
    console.print(table)
    console.print(measured_on(result.metrics), style="dim", soft_wrap=True)
    console.print(f"Report: {paths['report']}  metrics: {paths['metrics']}", soft_wrap=True)


def _fail(exc: Exception) -> typer.Exit:
    err_console.print(f"error: {escape(str(exc))}", style="red", soft_wrap=True, highlight=False)
    return typer.Exit(1)


def _expected_errors() -> tuple[type[Exception], ...]:
    from wayfare.data import DataFormatError
    from wayfare.embed import ModelError

    return (ValueError, KeyError, FileNotFoundError, DataFormatError, ModelError)


def eval_command(
    benchmark: str | None = typer.Option(None, "--benchmark", "-b", help="Built-in benchmark: mmlu, gsm8k, llmrouter."),
    data: Path | None = typer.Option(None, "--data", help="Results file or directory to evaluate on (with --format)."),
    fmt: str | None = typer.Option(
        None,
        "--format",
        help="Format of --data: routellm-mmlu, routellm-gsm8k, llmrouter, mt-bench, routerarena, arena-hard, jsonl.",
    ),
    prices: Path | None = typer.Option(
        None,
        "--prices",
        help='Price table JSON ({"models": {name: {"input": USD per 1M, "output": ...}}}) for models without '
        "recorded costs (default: the shipped wayfare/data/prices.json).",
    ),
    routers: str | None = typer.Option(
        None,
        "--routers",
        "-r",
        help="Comma-separated registry router names (trained per fold), or router folders / 'default' (scored "
        f"without training; default {DEFAULT_ROUTERS}). Baselines random, oracle, always-weak, always-strong are "
        "always included. With --transfer: registry routers, parameters in brackets (default: "
        "logreg,ensemble\\[knn_weight=0],gated,knn).",
    ),
    strong: str | None = typer.Option(
        None,
        "--strong",
        help="Strong model of the pair (default: higher-scoring). With --transfer: comma-separated names, the first "
        "one each source has.",
    ),
    weak: str | None = typer.Option(
        None,
        "--weak",
        help="Weak model of the pair (default: lower-scoring). With --transfer: comma-separated names, as --strong.",
    ),
    folds: int = typer.Option(
        5, "--folds", "-k", help="k-fold cross-validation (ignored when the data has a holdout)."
    ),
    out: Path = typer.Option(
        Path("wayfare-eval"), "--out", "-o", help="Directory for metrics.json, PNGs, report.html."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds, the random baseline and the bootstrap."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the 95% CIs (0 = none)."),
    embedder: str = typer.Option(
        "default",
        "--embedder",
        "-e",
        help="Embedder of the routers trained here: NAME[:MAX_TOKENS] (see `wayfare models list`).",
    ),
    transfer: bool = typer.Option(
        False,
        "--transfer",
        help="Leave-one-source-out: train on every --source but one, score on the one left out (router x label).",
    ),
    source: list[str] = typer.Option(
        [],
        "--source",
        help="With --transfer: mmlu, gsm8k, llmrouter (bundled) or FORMAT:PATH (repeatable; default: the three "
        "bundled ones).",
    ),
    labels: str = typer.Option(
        "strong-wins,weak-fails,difficulty",
        "--labels",
        help="With --transfer: training labels to compare (strong-wins, weak-fails, difficulty, gap:T).",
    ),
    hold_out_categories: bool = typer.Option(
        False,
        "--hold-out-categories",
        help="Score each category (task) of a mixed table with routers trained on the other categories only, "
        "instead of k-fold: how routing holds on kinds of prompts it never saw.",
    ),
    source_weight: list[str] = typer.Option(
        [],
        "--source-weight",
        help="With --transfer: NAME=W counts each row of source NAME W times when it is trained on (a positive "
        "integer; repeatable; default 1), e.g. arena-bench-v1=10 for a small chat source.",
    ),
) -> None:
    """Evaluate routers on a benchmark: APGR/CPT (two models) or AIQ (N models), with 95% CIs and a report.

    With --transfer: how each router x label holds on a source it was never trained on."""
    try:
        if folds < 2:
            raise UsageError(f"--folds must be at least 2, got {folds}")
        if bootstrap < 0:
            raise UsageError(f"--bootstrap must be >= 0, got {bootstrap}")
        if transfer and hold_out_categories:
            raise UsageError("--hold-out-categories holds out categories of one table; --transfer holds out sources")
        if transfer and prices is not None:
            raise UsageError("--prices is for costs; --transfer scores APGR, which needs none")
        if transfer:
            _transfer(
                source,
                source_weight,
                routers,
                labels,
                strong,
                weak,
                embedder,
                folds,
                bootstrap,
                seed,
                out,
                benchmark,
                data,
            )
            return
        if source or source_weight:
            raise UsageError(
                "--source and --source-weight are for --transfer; evaluate one table with --benchmark or --data"
            )
        table = _load_table(benchmark, data, fmt, prices)
        config = EvalConfig(
            folds=folds, seed=seed, n_resamples=bootstrap, strong=strong, weak=weak, by_category=hold_out_categories
        )
        result, paths, notes = run(table, routers or DEFAULT_ROUTERS, config, out, embedder)
    except _expected_errors() as exc:
        raise _fail(exc) from None
    for note in notes:
        err_console.print(f"note: {note}", style="dim")
    print_result(result, paths)


def _transfer(
    sources: list[str],
    source_weights: list[str],
    routers: str | None,
    labels: str,
    strong: str | None,
    weak: str | None,
    embedder: str,
    folds: int,
    bootstrap: int,
    seed: int,
    out: Path,
    benchmark: str | None,
    data: Path | None,
) -> None:
    from wayfare.eval.transfer_cli import DEFAULT_TRANSFER_ROUTERS, print_transfer, run_transfer

    if benchmark or data:
        raise UsageError("--transfer takes its tables from --source (repeatable), not --benchmark / --data")
    with _progress() as progress:
        metrics, paths = run_transfer(
            sources=sources,
            source_weights=source_weights,
            routers=routers or DEFAULT_TRANSFER_ROUTERS,
            labels=labels,
            strong=strong,
            weak=weak,
            embedder=_embedder(embedder),
            embedder_spec=embedder,
            folds=folds,
            n_resamples=bootstrap,
            seed=seed,
            out=out,
            progress=progress,
        )
    print_transfer(console, metrics, paths)


def _demo_line(name: str, e: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.1f}%"

    saved = e.get("cost_saved_at_95")
    saved_txt = "no costs" if saved is None else pct(saved)
    return (
        f"  {name:<14} APGR {e['apgr']:.3f}  CPT(50%) {pct(e['cpt50'])}  CPT(80%) {pct(e['cpt80'])}  "
        f"cost saved vs always-strong at 95% of strong quality: {saved_txt}"
    )


def demo_command(
    out: Path = typer.Option(Path("wayfare-demo"), "--out", "-o", help="Where the reports go."),
    routers: str = typer.Option(DEMO_ROUTERS, "--routers", "-r", help="Routers to evaluate (as for `wayfare eval`)."),
    folds: int = typer.Option(5, "--folds", "-k", help="k-fold cross-validation."),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds, the random baseline and the bootstrap."),
    embedder: str = typer.Option(
        "default",
        "--embedder",
        "-e",
        help="Embedder of the routers trained here: NAME[:MAX_TOKENS] (see `wayfare models list`).",
    ),
    transfer: bool = typer.Option(
        True, "--transfer/--no-transfer", help="Also train on all bundled sources but one and score the one left out."
    ),
) -> None:
    """Run the evaluator on the bundled MMLU and GSM8K data (GPT-4 vs Mixtral) and print what routing would save;
    then check whether it transfers: each bundled source scored by routers trained on the others."""
    from wayfare.data import load_benchmark

    start = time.perf_counter()
    try:
        for name in DEMO_BENCHMARKS:
            table = load_benchmark(name)
            config = EvalConfig(folds=folds, seed=seed)
            result, paths, _ = run(table, routers, config, out / name, embedder)
            m = result.metrics
            console.print(f"\n[bold]{name}[/bold]: {m['n_prompts']} prompts, strong {m['strong']}, weak {m['weak']}")
            for router, entry in m["routers"].items():
                if "apgr" in entry:
                    console.print(_demo_line(router, entry), highlight=False, soft_wrap=True)
            console.print(f"  {measured_on(m)}", style="dim", soft_wrap=True)
            console.print(f"  report: {paths['report'].resolve()}", soft_wrap=True)
        if transfer:
            _demo_transfer(out / "transfer", embedder, folds, seed)
    except _expected_errors() as exc:
        raise _fail(exc) from None
    console.print(
        f"\nDemo finished in {time.perf_counter() - start:.0f} s; reports in {out.resolve()}/", soft_wrap=True
    )


def _demo_transfer(out: Path, embedder: str, folds: int, seed: int) -> None:
    console.print(
        "\n[bold]Does it transfer?[/bold] The numbers above are in-source: k-fold inside one benchmark, which rewards "
        "memorising it. Below, each bundled source is scored by routers trained on the other two (leave-one-source-"
        "out), for two training labels: strong-wins (the strong model beats the weak one) and difficulty (the weak "
        "model fails; on LLMRouter, 1 - the mean score of its nine models). Your traffic is a source the router never "
        "saw: read the held-out table. This is how the shipped default was chosen (docs/ROUTERS.md, Transfer).",
        soft_wrap=True,
    )
    _transfer(
        sources=list(DEMO_TRANSFER_SOURCES),
        source_weights=[],
        routers=DEMO_TRANSFER_ROUTERS,
        labels=DEMO_TRANSFER_LABELS,
        strong=None,
        weak=None,
        embedder=embedder,
        folds=folds,
        bootstrap=1000,
        seed=seed,
        out=out,
        benchmark=None,
        data=None,
    )
