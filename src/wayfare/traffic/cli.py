"""CLI commands of the traffic part: ``wayfare share`` (and later ``label``, ``compare``, ``promote``...)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from wayfare.gateway.config import ConfigError, load_config
from wayfare.traffic.cache import ResponseCache
from wayfare.traffic.collect import CollectError, Collector
from wayfare.traffic.prompts import PromptFileError, load_prompts, sample_rows

console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def share_command(
    prompts: Path = typer.Option(..., "--prompts", help="JSONL of {id, prompt|messages, reference?, scores?}."),
    strong: str = typer.Option(..., "--strong", help="Strong (expensive) model: a model name of the config."),
    weak: str = typer.Option(..., "--weak", help="Weak (cheap) model: a model name of the config."),
    config: Path = typer.Option(Path("wayfare.yaml"), "--config", help="Gateway YAML (models, prices, routes)."),
    judge: str | None = typer.Option(None, "--judge", help="Model that judges pairs without a reference."),
    sample: int | None = typer.Option(None, "--sample", help="Label a random sample of N prompts."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    scorer: str = typer.Option("numeric", "--scorer", help="Reference matcher: numeric, exact or module:function."),
    tolerance: float = typer.Option(0.0, "--tolerance", help="Weak may score this much below strong."),
    pass_mark: float = typer.Option(0.5, "--pass-mark", help="Weak's score must also reach this."),
    router: list[str] = typer.Option([], "--router", help="Router (name or artifact) to put on the curve; repeat."),
    quality_target: float = typer.Option(0.95, "--quality-target", help="Fraction of strong quality to keep."),
    min_savings: float = typer.Option(0.05, "--min-savings", help="Savings (fraction of the bill) worth routing."),
    cpu_usd_per_hour: float = typer.Option(0.05, "--cpu-usd-per-hour", help="Price of a CPU core-hour."),
    router_usd_per_1k: float | None = typer.Option(None, "--router-usd-per-1k", help="Hosted router price."),
    concurrency: int = typer.Option(16, "--concurrency", help="Requests in flight at once."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="max_tokens of each model call."),
    cache_dir: Path = typer.Option(Path(".wayfare-cache"), "--cache-dir", help="Responses cached here."),
    out: Path = typer.Option(Path("share-report"), "--out", help="Report folder (JSON, PNG, HTML)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Measure the routable share of your prompts, the routers' cost-quality curves and the break-even."""
    from wayfare.traffic.measure import ShareSettings, measure_share
    from wayfare.traffic.report import write_report

    for name, value, lo, hi in (
        ("--tolerance", tolerance, 0.0, 1.0),
        ("--pass-mark", pass_mark, 0.0, 1.0),
        ("--quality-target", quality_target, 0.0, 1.0),
        ("--min-savings", min_savings, 0.0, 1.0),
    ):
        if not lo <= value <= hi:
            raise _fail(f"{name} must be in [{lo:g}, {hi:g}], got {value:g}")
    try:
        cfg = load_config(config)
        rows = sample_rows(load_prompts(prompts), sample, seed)
        settings = ShareSettings(
            strong=strong,
            weak=weak,
            judge=judge,
            scorer=scorer,
            tolerance=tolerance,
            pass_mark=pass_mark,
            routers=tuple(router),
            quality_target=quality_target,
            cpu_usd_per_hour=cpu_usd_per_hour,
            router_usd_per_1k=router_usd_per_1k,
            min_savings=min_savings,
            max_tokens=max_tokens,
        )
        collector = Collector(cfg, ResponseCache(cache_dir), concurrency=concurrency, show_progress=progress)
        result = asyncio.run(measure_share(cfg, rows, settings, collector))
    except (ConfigError, PromptFileError, CollectError, ValueError) as exc:
        raise _fail(str(exc).replace("\n", "; ")) from None
    paths = write_report(result, out)
    est, be = result.estimate, result.breakeven
    out_console = Console()
    out_console.print(
        f"routable share: {est.share:.1%} (95% CI {est.ci[0]:.1%}-{est.ci[1]:.1%}) on {est.n} prompts; "
        f"both wrong {est.neither_share:.1%}",
        highlight=False,
    )
    out_console.print(be.statement, highlight=False, soft_wrap=True)
    out_console.print(
        f"calls: {result.paid_calls} paid, {result.cached_calls} from cache ({result.seconds:.1f} s); "
        f"report: {paths['html']}",
        highlight=False,
    )
