"""CLI of the train-on-your-traffic loop: ``wayfare label``, ``train-from-log``, ``compare``, ``promote``,
``rollback`` and ``router-versions`` (all on the gateway's store, ``--database-url``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import numpy as np
import orjson
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

err_console = Console(stderr=True)
out_console = Console()

DB_HELP = "The gateway's store: sqlite:///path or postgresql://... (default sqlite:///wayfare.db)."


def _fail(message: str) -> NoReturn:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@contextmanager
def _engine(database_url: str | None) -> Iterator[sa.Engine]:
    from wayfare.store import open_store

    try:
        store = open_store(database_url)
    except Exception as exc:
        _fail(f"cannot open the store {database_url or 'sqlite:///wayfare.db'}: {exc}")
    try:
        engine = getattr(store, "engine", None)
        if engine is None:
            _fail("this store has no SQL engine")
        yield engine
    finally:
        store.close()


def label_command(
    database_url: str | None = typer.Option(None, "--database-url", help=DB_HELP),
    route: str | None = typer.Option(None, "--route", help="Only pairs of this route."),
    references: Path | None = typer.Option(
        None, "--references", help="Prompt JSONL with 'reference' answers (matched by prompt text)."
    ),
    judge: str | None = typer.Option(None, "--judge", help="Judge model (a model of --config) for pairs."),
    config: Path = typer.Option(Path("wayfare.yaml"), "--config", help="Gateway YAML serving the judge model."),
    scorer: str = typer.Option("numeric", "--scorer", help="Reference matcher: numeric, exact or module:function."),
    limit: int | None = typer.Option(None, "--limit", help="Label at most this many pairs (oldest first)."),
    concurrency: int = typer.Option(16, "--concurrency", help="Judge requests in flight at once."),
    cache_dir: Path = typer.Option(Path(".wayfare-cache"), "--cache-dir", help="Judge responses cached here."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Label the shadow pairs that have no label yet (reference, pairwise judge in both orders, or agreement)."""
    from wayfare.gateway.config import ConfigError, load_config
    from wayfare.traffic.cache import ResponseCache
    from wayfare.traffic.collect import CollectError, Collector
    from wayfare.traffic.label import label_counts, label_stored_pairs, store_labels, unlabelled_pairs
    from wayfare.traffic.labels import load_matcher
    from wayfare.traffic.prompts import PromptFileError, load_prompts

    try:
        load_matcher(scorer)
        refs: dict[str, str] = {}
        if references is not None:
            refs = {r.text: r.reference for r in load_prompts(references) if r.reference is not None}
        collector = None
        if judge is not None:
            collector = Collector(
                load_config(config), ResponseCache(cache_dir), concurrency=concurrency, show_progress=progress
            )
            collector.check_models([judge])
    except (ConfigError, PromptFileError, CollectError, ValueError) as exc:
        _fail(str(exc).replace("\n", "; "))
    with _engine(database_url) as engine:
        pairs = unlabelled_pairs(engine, route, limit)
        if not pairs:
            out_console.print("no unlabelled shadow pairs", highlight=False)
            return
        try:
            labels = asyncio.run(
                label_stored_pairs(pairs, references=refs, judge=judge, collector=collector, scorer=scorer)
            )
        except (CollectError, ValueError) as exc:
            _fail(str(exc))
        stored = store_labels(engine, labels)
        counts = label_counts(engine)
    methods: dict[str, int] = {}
    for lab in labels:
        methods[lab.method] = methods.get(lab.method, 0) + 1
    routable = sum(lab.routable() for lab in labels)
    out_console.print(
        f"labelled {stored} pairs ({', '.join(f'{m}: {n}' for m, n in sorted(methods.items()))}); "
        f"weak answer good enough on {routable / len(labels):.1%} of them",
        highlight=False,
    )
    out_console.print(f"store now: {json.dumps(counts, sort_keys=True)}", highlight=False)


def train_from_log_command(
    output: Path = typer.Option(..., "--out", "--output", help="Folder to write the router artifact to."),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_HELP),
    route: str | None = typer.Option(None, "--route", help="Train on this route's pairs only."),
    router: str = typer.Option("logreg", "--router", help="Router kind (see `wayfare.routers.available_routers`)."),
    param: list[str] = typer.Option([], "--param", help="Router parameter name=value (repeatable)."),
    label: str = typer.Option(
        "strong-wins",
        "--label",
        help="What the router learns: strong-wins, weak-fails or gap:T; with --with-benchmarks also difficulty "
        "(LLMRouter's 9 models; two-model sources, the log included, use weak-fails). docs/ROUTERS.md.",
    ),
    embedder_name: str = typer.Option("default", "--embedder", help="Embedding model (see `wayfare models`)."),
    max_tokens: int = typer.Option(128, "--max-tokens", help="Embedder truncation length in tokens."),
    holdout: float = typer.Option(0.3, "--holdout", help="Fraction of prompts kept out for `wayfare compare`."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the router."),
    benchmarks: bool = typer.Option(
        False,
        "--with-benchmarks",
        help="Also train on the bundled MMLU, GSM8K and LLMRouter (rows sharing text with the log dropped); the "
        "log's rows are the category 'traffic': with --router gated they get their own expert (docs/YOUR_TRAFFIC.md).",
    ),
    traffic_weight: int | None = typer.Option(
        None, "--traffic-weight", help="With --with-benchmarks: each logged row counts this many times (default 10)."
    ),
) -> None:
    """Train a pair router on labelled logged traffic (shadow pairs + labels + feedback scores)."""
    from wayfare.data.labels import parse_label, relabel
    from wayfare.routers.artifact import save_router
    from wayfare.routers.training import embed_for, new_router, parse_params
    from wayfare.traffic.logtable import LogTableError, heldout_mask, log_table
    from wayfare.traffic.mixed import BENCHMARKS, TRAFFIC, with_benchmarks

    if traffic_weight is not None and not benchmarks:
        _fail("--traffic-weight weighs the log against the benchmarks: it needs --with-benchmarks")
    with _engine(database_url) as engine:
        try:
            table, info = log_table(engine, route)
        except LogTableError as exc:
            _fail(str(exc))
    mixed = None
    try:
        lab = parse_label(label)
        held = heldout_mask(table.prompts, holdout)
        logged = table.subset(np.flatnonzero(~held))
        if len(logged) < 2:
            raise ValueError(f"only {len(logged)} labelled prompts outside the held-out split: label more traffic")
        params = parse_params(param)
        if benchmarks and router == "gated":
            params.setdefault("domain", TRAFFIC)
        r = new_router(router, params, seed=seed, embedder_name=embedder_name, max_tokens=max_tokens)
        if benchmarks:
            weight = 10 if traffic_weight is None else traffic_weight
            mixed = with_benchmarks(logged, table.prompts, lab, weight, lambda prompts: embed_for(r, prompts))
            x, train = mixed.x, mixed.table
        else:
            train = relabel(logged, lab)
            x = embed_for(r, train.prompts)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    with err_console.status(f"fitting {router} on {len(train)} rows"):
        r.fit_vectors(x, train)
    extra = {
        "trained_from_log": {
            "route": route,
            "labelled_pairs": info.pairs,
            "train_prompts": len(logged),
            "held_out_prompts": int(held.sum()),
            "holdout": holdout,
            "split": "blake2b(prompt) < holdout",
            "feedback_applied": info.feedback_applied,
            "label_methods": table.meta.get("label_methods"),
            "label": lab.name,
            **({"with_benchmarks": mixed.described} if mixed is not None else {}),
        }
    }
    folder = save_router(r, output, extra=extra)
    also = ""
    if mixed is not None:
        also = (
            f", each counted {mixed.weight}x, beside {mixed.benchmark_rows:,} rows of {', '.join(BENCHMARKS)} "
            f"({mixed.dropped:,} dropped for sharing text with the log)"
        )
    out_console.print(
        f"trained [bold]{router}[/bold] on {len(logged)} labelled prompts of the log{also} ({int(held.sum())} held "
        f"out for `wayfare compare`; {info.feedback_applied} feedback scores applied, {info.unused_feedback} "
        f"unused); models {r.models_}",
        highlight=False,
    )
    out_console.print(f"saved to {folder}")


def compare_command(
    candidate: str = typer.Option(..., "--candidate", help="Router folder (or shipped name) to evaluate."),
    current: str = typer.Option(..., "--current", help="Router in service: folder, shipped name, or random/strong."),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_HELP),
    route: str | None = typer.Option(None, "--route", help="Held-out pairs of this route only."),
    holdout: float | None = typer.Option(
        None, "--holdout", help="Held-out fraction (default: the one the candidate was trained with, else 0.3)."
    ),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the 95% CIs."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the comparison as JSON here."),
) -> None:
    """Candidate vs current router on held-out labelled traffic: APGR and CPT(50%) with 95% CIs, and a verdict."""
    from wayfare.gateway.routing import load_scorer
    from wayfare.traffic.compare import compare_scores
    from wayfare.traffic.logtable import LogTableError, heldout_mask, log_table

    if bootstrap < 10:
        _fail(f"--bootstrap must be at least 10, got {bootstrap}")
    fraction = holdout if holdout is not None else _trained_holdout(candidate)
    with _engine(database_url) as engine:
        try:
            table, _ = log_table(engine, route)
        except LogTableError as exc:
            _fail(str(exc))
    try:
        held = table.subset(np.flatnonzero(heldout_mask(table.prompts, fraction)))
    except ValueError as exc:
        _fail(str(exc))
    if len(held) < 10:
        _fail(f"only {len(held)} held-out labelled prompts (holdout {fraction:g}): label more traffic")
    assert held.strong is not None and held.weak is not None
    scored = []
    for name in (candidate, current):
        try:
            scorer = load_scorer(name)
            scored.append((name, np.asarray(scorer.score(held.prompts), dtype=np.float64)))
        except Exception as exc:
            _fail(f"router {name!r}: {exc}")
    try:
        result = compare_scores(
            scored[0], scored[1], held.column(held.weak), held.column(held.strong), n_resamples=bootstrap
        )
    except ValueError as exc:
        _fail(str(exc))
    t = Table(title=f"{len(held)} held-out labelled prompts (holdout {fraction:g}), {bootstrap} bootstrap resamples")
    for col in ("router", "APGR", "95% CI", "CPT(50%)", "95% CI "):
        t.add_column(col)
    for r in (result.candidate, result.current):
        t.add_row(
            r.name, f"{r.apgr:.3f}", f"{r.apgr_ci[0]:.3f}-{r.apgr_ci[1]:.3f}", f"{r.cpt50:.1%}",
            f"{r.cpt50_ci[0]:.1%}-{r.cpt50_ci[1]:.1%}",
        )  # fmt: skip
    out_console.print(t)
    out_console.print(result.statement, highlight=False, soft_wrap=True)
    if json_out is not None:
        json_out.write_bytes(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


def _trained_holdout(candidate: str) -> float:
    from wayfare.routers.artifact import read_meta

    try:
        info = (read_meta(candidate).get("extra") or {}).get("trained_from_log") or {}
    except (ValueError, OSError):
        return 0.3
    return float(info.get("holdout", 0.3))


def promote_command(
    router_dir: Path = typer.Argument(..., help="Router artifact folder (router.json + arrays.npz)."),
    route: str = typer.Option(..., "--route", help="Route of the gateway config that will serve it."),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_HELP),
    note: str | None = typer.Option(None, "--note", help="Why (kept with the version)."),
) -> None:
    """Store a router as the route's next version and make it active; gateways hot-reload it."""
    from wayfare.traffic.registry import RegistryError, promote

    with _engine(database_url) as engine:
        try:
            v = promote(engine, route, router_dir, note)
        except RegistryError as exc:
            _fail(str(exc))
    out_console.print(
        f"route {route!r}: version {v.version} ({v.sha256[:12]}) is active; gateways on this store load it at "
        "their next registry poll (registry_poll_seconds)",
        highlight=False,
    )


def rollback_command(
    route: str = typer.Option(..., "--route", help="Route to roll back."),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_HELP),
) -> None:
    """Re-activate the route's previously promoted router (or, if none, the router named in the config)."""
    from wayfare.traffic.registry import RegistryError, rollback

    with _engine(database_url) as engine:
        try:
            v = rollback(engine, route)
        except RegistryError as exc:
            _fail(str(exc))
    if v is None:
        out_console.print(
            f"route {route!r}: no promoted version is active; it serves its config router", highlight=False
        )
    else:
        out_console.print(f"route {route!r}: version {v.version} ({v.sha256[:12]}) is active again", highlight=False)


def versions_command(
    route: str | None = typer.Option(None, "--route", help="Only this route."),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_HELP),
) -> None:
    """List the router versions stored in the registry (the active one marked)."""
    from wayfare.traffic.registry import history

    with _engine(database_url) as engine:
        versions = history(engine, route)
    t = Table(title="router registry")
    for col in ("route", "version", "active", "sha256", "created (UTC)", "source", "note"):
        t.add_column(col)
    for v in versions:
        t.add_row(
            v.route, str(v.version), "*" if v.active else "", v.sha256[:12], v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            v.source or "", v.note or "",
        )  # fmt: skip
    out_console.print(t)
