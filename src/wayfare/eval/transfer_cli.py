"""``wayfare eval --transfer``: leave-one-source-out evaluation of router x label candidates, with a report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from wayfare._version import __version__
from wayfare.embed.base import Embedder
from wayfare.eval.routerspecs import parse_names
from wayfare.eval.transfer import Candidate, FloatArray, Source, Vectors, evaluate_transfer
from wayfare.eval.transfer_report import decontamination_line, ranked, sources_line, table_rows, write_transfer_report
from wayfare.eval.transfer_sources import RouterChoice, load_sources, parse_labels, parse_router, with_weights

DEFAULT_TRANSFER_ROUTERS = "logreg,ensemble[knn_weight=0],gated,knn"
DEFAULT_LABELS = "strong-wins,weak-fails,difficulty"


def fitter(choice: RouterChoice, embedder: Embedder | None, seed: int) -> Any:
    """A :data:`wayfare.eval.transfer.Fitter` for a registry router."""
    from wayfare.routers.registry import make_router

    def fit(x: Vectors, table: Any, prompts: Sequence[str]) -> Any:
        router = make_router(choice.kind, embedder=embedder, seed=seed, **choice.params)
        router.fit_vectors(x, table)

        def score(xv: Vectors, texts: Sequence[str]) -> FloatArray:
            return router.score_vectors(xv, list(texts))

        return score

    return fit


def in_source_twins(choices: Sequence[RouterChoice], fits: Sequence[Any], seed: int) -> dict[int, Any]:
    """For each gated router among ``choices``, the fitter of an ensemble choice configured as its expert, if there
    is one: inside one source the gated router is that expert, so their in-source results are computed once."""
    from wayfare.routers.gated import GatedRouter
    from wayfare.routers.registry import make_router

    routers = [make_router(c.kind, seed=seed, **c.params) for c in choices]
    twins: dict[int, Any] = {}
    for i, r in enumerate(routers):
        if not isinstance(r, GatedRouter):
            continue
        expert = r.expert()
        for j, other in enumerate(routers):
            if type(other) is type(expert) and other.get_params() == expert.get_params():
                twins[i] = fits[j]
                break
    return twins


def _embed_all(embedder: Embedder, sources: Sequence[Source], progress: Progress) -> list[NDArray[np.float32]]:
    out = []
    for src in sources:
        task = progress.add_task(f"embedding {src.name}", total=len(src.table))
        parts = []
        for start in range(0, len(src.table), 2048):
            batch = src.table.prompts[start : start + 2048]
            parts.append(np.asarray(embedder.embed(batch), dtype=np.float32))
            progress.advance(task, len(batch))
        out.append(np.concatenate(parts))
    return out


def run_transfer(
    *,
    sources: Sequence[str],
    routers: str,
    source_weights: Sequence[str] = (),
    labels: str,
    strong: str | None,
    weak: str | None,
    embedder: Embedder,
    embedder_spec: str,
    folds: int,
    n_resamples: int,
    seed: int,
    out: Path,
    progress: Progress,
) -> tuple[dict[str, Any], dict[str, Path]]:
    split = (
        [p.strip() for p in (strong or "").split(",") if p.strip()],
        [p.strip() for p in (weak or "").split(",") if p.strip()],
    )
    srcs = with_weights(load_sources(sources, *split), source_weights)
    choices = [parse_router(n) for n in parse_names(routers)]
    if not choices:
        raise ValueError("--routers is empty")
    fits = [fitter(c, embedder, seed) for c in choices]  # one per router: labels giving equal tables share fits
    twins = in_source_twins(choices, fits, seed)
    cands = [
        Candidate(c.name, label, fit, c.params, in_source_fit=twins.get(i))
        for i, (c, fit) in enumerate(zip(choices, fits, strict=True))
        for label in parse_labels(labels)
    ]
    vectors = _embed_all(embedder, srcs, progress)
    task = progress.add_task("training and scoring", total=len(cands) * len(srcs) * 2)
    metrics = evaluate_transfer(
        srcs,
        cands,
        vectors,
        folds=folds,
        n_resamples=n_resamples,
        seed=seed,
        on_step=lambda _: progress.advance(task),
    )
    metrics["embedder"] = embedder_spec
    metrics["wayfare_version"] = __version__
    return metrics, write_transfer_report(metrics, out)


def print_transfer(console: Console, metrics: dict[str, Any], paths: dict[str, Path]) -> None:
    titles = (("transfer", "held-out-source APGR (mean with 95% CI)"), ("in_source", "in-source k-fold APGR"))
    for part, title in titles:
        header, rows = table_rows(metrics, part, compact=True)
        if not rows:
            continue
        table = Table(title=title, title_justify="left")
        # the numbers keep their width ("0.530", the mean "0.550 [0.534, 0.567]"); long names are cut on a narrow
        # terminal (the line under the table and report.html have them whole)
        numbers = 8 * (len(header) - 2) + 23
        table.add_column(header[0], no_wrap=True, overflow="ellipsis", max_width=max(16, console.width - numbers - 4))
        for col in header[1:-1]:
            table.add_column(col, overflow="fold", min_width=5)
        table.add_column(header[-1], no_wrap=True, min_width=20)
        for row in rows:
            table.add_row(*(escape(c) for c in row))  # names like ensemble[knn_weight=0] are not markup
        console.print(table)
    best = ranked(metrics)[0]
    console.print(f"best mean held-out APGR: {escape(best)}", highlight=False)
    console.print(f"Sources: {sources_line(metrics)}.", style="dim", soft_wrap=True, highlight=False)
    console.print(decontamination_line(metrics), style="dim", soft_wrap=True, highlight=False)
    console.print("Per-source 95% CIs: report.html and metrics.json.", style="dim")
    console.print(f"Report: {paths['report']}  metrics: {paths['metrics']}", soft_wrap=True)
