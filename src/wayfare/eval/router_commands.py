"""``wayfare train``, ``wayfare adapt``, ``wayfare calibrate`` and ``wayfare score``: the router command line.

It lives in ``eval`` rather than ``routers`` because it reports what routers alone cannot: ``train`` measures a
held-out copy (:mod:`wayfare.eval.holdout`) and ``calibrate --quality-target`` certifies a threshold
(:mod:`wayfare.eval.certify`); ``routers`` stays below ``eval`` and imports nothing from it."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape

from wayfare.routers._core import BaseRouter, JSONDict

err_console = Console(stderr=True)
out_console = Console()


def _fail(message: str) -> NoReturn:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _load(router: str) -> BaseRouter:
    from wayfare.routers.artifact import load_router

    try:
        return load_router(router)
    except (ValueError, OSError) as exc:
        _fail(str(exc))


def score_command(
    router: str = typer.Option(..., "--router", help="Router folder, or 'default' / 'default-n' (shipped)."),
    input: Path = typer.Option(..., "--input", help="JSONL rows {id, prompt} or {id, messages}."),
    output: Path = typer.Option(..., "--output", help="Where to write {id, score} / {id, scores} rows ('-' = stdout)."),
) -> None:
    """Score prompts with a router: P(strong needed) for a pair router, expected score per model for N models."""
    from wayfare.routers.prompts_io import PromptFileError, read_prompts, write_scores
    from wayfare.routers.training import embed_with_progress

    try:
        ids, prompts = read_prompts(input)
    except PromptFileError as exc:
        _fail(str(exc))
    r = _load(router)
    x = embed_with_progress(r.embedder, prompts, label="scoring") if r.needs_embedder and r.embedder else None
    if r.is_pair:
        values = r.score_vectors(x, prompts) if x is not None else r.score(prompts)
        models = None
    else:
        values = r.predict_vectors(x, prompts) if x is not None else r.predict(prompts)
        models = r.models_
    if str(output) == "-":
        write_scores(sys.stdout.buffer, ids, values, models)
        sys.stdout.flush()
    else:
        try:
            with output.open("wb") as fh:
                write_scores(fh, ids, values, models)
        except OSError as exc:
            _fail(f"cannot write {output}: {exc.strerror}")
        err_console.print(f"wrote {len(ids)} scores to {output}", highlight=False)


def train_command(
    router: str = typer.Option("logreg", "--router", help="Router kind (see `wayfare.routers.available_routers`)."),
    data: str = typer.Option(..., "--data", help="Built-in benchmark (mmlu, gsm8k, llmrouter) or a file path."),
    fmt: str | None = typer.Option(None, "--format", help="File format: jsonl, routellm-mmlu, ..., or battles."),
    output: Path = typer.Option(..., "--output", help="Folder to write the router artifact to."),
    strong: str | None = typer.Option(None, "--strong", help="Strong model (makes a pair router)."),
    weak: str | None = typer.Option(None, "--weak", help="Weak model (makes a pair router)."),
    pair: bool = typer.Option(False, "--pair", help="Pair router on the table's best and worst model."),
    label: str = typer.Option(
        "strong-wins",
        "--label",
        help="What the router learns: strong-wins, weak-fails, difficulty (>= 3 models), difficulty:exclude=A+B, gap:T "
        "(docs/ROUTERS.md).",
    ),
    param: list[str] = typer.Option([], "--param", help="Router parameter name=value (repeatable)."),
    embedder_name: str = typer.Option("default", "--embedder", help="Embedding model (see `wayfare models`)."),
    max_tokens: int = typer.Option(128, "--max-tokens", help="Embedder truncation length in tokens."),
    holdout: float = typer.Option(0.2, "--holdout", help="Fraction held out for the metrics summary (0 = none)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (splits and initialisation)."),
) -> None:
    """Train a router on a results table (or preference battles) and save it as an artifact."""
    from wayfare.data.labels import parse_label, relabel
    from wayfare.eval.holdout import holdout_metrics
    from wayfare.routers.artifact import save_router
    from wayfare.routers.training import embed_for, load_training_table, new_router, parse_params

    if not 0.0 <= holdout < 1.0:
        _fail(f"--holdout must be in [0, 1), got {holdout}")
    try:
        lab = parse_label(label)
        table = load_training_table(data, fmt, strong=strong, weak=weak)
        if pair and not table.is_pair:
            named = table.pair()
            table = replace(table, strong=named.strong, weak=named.weak)
        truth = table.pair(table.strong, table.weak) if table.is_pair else table
        table = relabel(table, lab)
        r = new_router(router, parse_params(param), seed=seed, embedder_name=embedder_name, max_tokens=max_tokens)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    x = embed_for(r, table.prompts)
    metrics = holdout_metrics(r, x, table, fraction=holdout, seed=seed, truth=truth) if holdout > 0 else {}
    with err_console.status(f"fitting {router} on {len(table)} prompts"):
        r.fit_vectors(x, table)
    folder = save_router(r, output, metrics=metrics)
    out_console.print(
        f"trained [bold]{router}[/bold] on {table.name}: {len(table)} prompts, models {r.models_}, label {lab.name}",
        soft_wrap=True,
        highlight=False,
    )
    for key, value in metrics.items():
        out_console.print(f"  {key}: {value}", highlight=False)
    out_console.print(f"saved to {folder}")


def adapt_command(
    router: list[str] = typer.Option(
        ["default-n"], "--router", help="Base router(s) to adapt: a folder or 'default-n' / 'default' (repeatable)."
    ),
    input: str = typer.Option(..., "--input", help="Your graded sample: a results file or folder (see --format)."),
    fmt: str | None = typer.Option(None, "--format", help="Format of --input: jsonl, arena-hard, ..."),
    output: Path = typer.Option(..., "--output", help="Folder to write the adapted router to."),
    param: list[str] = typer.Option([], "--param", help="alpha=auto|<number>, prompt_features=false (repeatable)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Adapt a trained router to your own models from a small graded sample (every model scored on 50-100 prompts):
    one ridge head per model on the base router's predictions (docs/ROUTERS.md, "Adapting to your models")."""
    from wayfare.routers.adapted import AdaptedRouter
    from wayfare.routers.artifact import load_router, save_router
    from wayfare.routers.training import embed_with_progress, load_training_table, parse_params

    try:
        table = load_training_table(input, fmt)
        if len(table.models) < 2:
            raise ValueError(f"{input}: adapting routes among models, and the table has {len(table.models)} model")
        bases = [load_router(b) for b in router]
        r = AdaptedRouter(bases=router, seed=seed, **parse_params(param)).set_bases(bases)
    except (ValueError, OSError, TypeError) as exc:
        _fail(str(exc))
    embedder = bases[0].embedder
    if embedder is None:
        _fail(f"the base router {router[0]} has no embedder to read prompts with")
    x = embed_with_progress(embedder, table.prompts, label=f"embedding {len(table)} prompts")
    try:
        with err_console.status(f"fitting {len(table.models)} heads on {len(table)} prompts"):
            r.fit_vectors(x, table)
    except ValueError as exc:
        _fail(str(exc))
    folder = save_router(r, output)
    mse = r.loo_mse_
    line = f"adapted {', '.join(router)} to {len(r.models_)} models of {table.name} ({len(table)} prompts)"
    if r.prompt_features:
        chosen = "inf" if not np.isfinite(r.alpha_) else f"{r.alpha_:g}"
        line += (
            f"; alpha {chosen} by leave-one-out: squared error {mse[chosen]:.4f} vs {mse['inf']:.4f} for per-model "
            "means" + (" (no prompt-level signal found: it predicts each model's mean)" if chosen == "inf" else "")
        )
    out_console.print(line, soft_wrap=True, highlight=False)
    out_console.print(f"saved to {folder}")


def calibrate_command(
    router: str = typer.Option(..., "--router", help="Router folder, or 'default'."),
    input: Path | None = typer.Option(None, "--input", help="Prompts JSONL (a sample of your traffic)."),
    strong_share: float | None = typer.Option(None, "--strong-share", help="Send this fraction to the strong model."),
    data: str | None = typer.Option(None, "--data", help="Labelled results (benchmark or file) for --quality."),
    fmt: str | None = typer.Option(None, "--format", help="Format of --data."),
    quality: float | None = typer.Option(
        None, "--quality", help="Keep quality >= this x the strong model's (point estimate on --data)."
    ),
    quality_target: float | None = typer.Option(
        None,
        "--quality-target",
        help="Certify a threshold keeping >= this x the strong model's quality with probability >= 1 - --risk "
        "(on labelled --data; docs/YOUR_TRAFFIC.md, Quality target).",
    ),
    risk: float = typer.Option(0.1, "--risk", help="With --quality-target: allowed probability of missing it."),
    strong: str | None = typer.Option(
        None, "--strong", help="Strong model's column in --data (default: the router's)."
    ),
    weak: str | None = typer.Option(None, "--weak", help="Weak model's column in --data (default: the router's)."),
    seed: int = typer.Option(0, "--seed", help="With --quality-target: the order the labelled rows are tested in."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (scripts rely on its shape)."),
    write: bool = typer.Option(False, "--write", help="Store the threshold in the router artifact."),
) -> None:
    """Find the pair threshold for a strong-model share (on prompts), a quality target (point estimate on labelled
    data) or a certified quality target (a guarantee at a stated risk, on labelled data)."""
    from wayfare.routers.artifact import read_meta, write_meta
    from wayfare.routers.policies import threshold_for_quality, threshold_for_share
    from wayfare.routers.prompts_io import PromptFileError, read_prompts
    from wayfare.routers.training import embed_with_progress, load_training_table

    if sum(x is not None for x in (strong_share, quality, quality_target)) != 1:
        _fail("give exactly one of --strong-share (with --input), --quality or --quality-target (with --data)")
    r = _load(router)
    if not r.is_pair:
        _fail("calibrate sets a pair threshold; this router routes among N models (use a policy's lam instead)")

    def scores_of(prompts: list[str]) -> Any:
        if r.needs_embedder and r.embedder is not None:
            return r.score_vectors(embed_with_progress(r.embedder, prompts, label="scoring"), prompts)
        return r.score(prompts)

    result: JSONDict | None
    if strong_share is not None:
        if input is None:
            _fail("--strong-share needs --input prompts.jsonl")
        if not 0.0 <= strong_share <= 1.0:
            _fail(f"--strong-share must be in [0, 1], got {strong_share}")
        try:
            _, prompts = read_prompts(input)
        except PromptFileError as exc:
            _fail(str(exc))
        scores = scores_of(prompts)
        threshold = threshold_for_share(scores, strong_share)
        realised = float(np.mean(scores >= threshold))
        result = {"threshold": threshold, "strong_share": realised, "target": {"strong_share": strong_share}}
        result["measured_on"] = f"{len(prompts)} prompts from {input}"
        summary, line = result, _threshold_line(r, result)
    else:
        if data is None:
            _fail(
                f"{'--quality' if quality is not None else '--quality-target'} needs labelled --data "
                "(a benchmark name or results file)"
            )
        try:
            table = load_training_table(data, fmt)
            s_col, w_col = _pair_columns(table.models, r, strong, weak)
            table = table.select_models([w_col, s_col]).dropna()
            if len(table) == 0:
                raise ValueError(f"{data}: no row has both {s_col!r} and {w_col!r} labelled")
        except (ValueError, OSError, KeyError) as exc:
            _fail(str(exc).strip("'\""))
        if quality_target is not None:
            result, summary, line = _certified(table, scores_of, s_col, w_col, quality_target, risk, seed)
        else:
            assert quality is not None
            scores = scores_of(table.prompts)
            threshold, share = threshold_for_quality(scores, table.column(s_col), table.column(w_col), quality)
            result = {"threshold": threshold, "strong_share": share, "target": {"quality": quality}}
            result["measured_on"] = f"{len(table)} labelled prompts of {table.name}"
            summary, line = result, _threshold_line(r, result)
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        out_console.print(line, highlight=False, soft_wrap=True)
    if write and result is not None:
        if router in ("default", "default-n", "default-pair"):
            _fail("--write needs a router folder (the shipped default is read-only; copy it first)")
        meta = read_meta(router)
        meta["calibration"] = result
        write_meta(router, meta)
        err_console.print(f"wrote the threshold into {router}", highlight=False)


def _threshold_line(r: BaseRouter, result: JSONDict) -> str:
    return (
        f"threshold {result['threshold']:.5f}: {result['strong_share']:.1%} of {result['measured_on']} go to "
        f"{r.strong_}; model name router-{r.kind}-{result['threshold']:.5f}"
    )


def _pair_columns(models: list[str], r: BaseRouter, strong: str | None, weak: str | None) -> tuple[str, str]:
    """The table's strong and weak columns: --strong/--weak, else the router's own model names."""
    s_col, w_col = strong or r.strong_, weak or r.weak_
    for role, col in (("strong", s_col), ("weak", w_col)):
        if col not in models:
            hint = "" if (strong if role == "strong" else weak) else f" (the router's {role} model; pass --{role})"
            raise ValueError(f"--data has no column {col!r}{hint}; its models: {', '.join(models)}")
    return s_col, w_col


def _certified(
    table: Any, scores_of: Any, s_col: str, w_col: str, target: float, risk: float, seed: int
) -> tuple[JSONDict | None, JSONDict, str]:
    """``calibrate --quality-target``: certify on the labelled rows (tested in a seeded random order). Returns what
    ``--write`` stores (None when nothing is certified), the ``--json`` object and the sentence."""
    from wayfare.eval.certify import certify_threshold

    order = np.random.default_rng(seed).permutation(len(table))
    scores = np.asarray(scores_of([table.prompts[i] for i in order]), dtype=np.float64)
    try:
        cert = certify_threshold(
            scores, table.column(s_col)[order], table.column(w_col)[order], quality_target=target, risk=risk
        )
    except ValueError as exc:
        _fail(str(exc))
    summary = {"threshold": cert.threshold, "bound": cert.bound, "labels": cert.labels,
               "strong_share": cert.strong_share}  # fmt: skip
    if cert.threshold is None:
        line = (
            f"nothing certified: no threshold keeps {target:.0%} of {s_col}'s quality with risk {risk:g} on "
            f"{cert.labels} labelled prompts (the most cautious one has a lower bound of {cert.bound:.3f}); the route "
            "would stay in safe mode. Label more traffic or lower the target."
        )
        return None, summary, line
    line = (
        f"certified threshold {cert.threshold:.5f}: quality >= {target:.0%} of {s_col}'s with probability >= "
        f"{1 - risk:.0%} (lower bound {cert.bound:.3f}, measured {cert.measured_quality_ratio:.3f}); "
        f"{cert.strong_share:.1%} of {cert.labels} labelled prompts go to {s_col}"
    )
    result: JSONDict = {
        "threshold": cert.threshold,
        "strong_share": cert.strong_share,
        "target": {"quality_target": target, "risk": risk},
        "certificate": cert.to_json(),
        "measured_on": f"{cert.labels} labelled prompts of {table.name}",
    }
    return result, summary, line
