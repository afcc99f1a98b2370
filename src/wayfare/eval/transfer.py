"""Transfer evaluation: does a router trained on some sources hold on a source it never saw?

For every candidate (router kind x training label) and every source: train on all the *other* sources (each
relabelled with the candidate's label on its own strong/weak pair, all stacked into one generic ``weak`` /
``strong`` table) and score the held-out source against its real pair. The number a user should choose by is the
mean APGR over held-out sources; the in-source k-fold APGR is computed beside it, because the gap between the two
is how much a router memorises one benchmark.

Decontamination: before each held-out fit, training rows that share an 8-word shingle with any prompt of the
held-out source are dropped (benchmarks copy each other: LLMRouter repeats MMLU and GSM8K questions), and the
counts are reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wayfare.data import ResultsTable
from wayfare.data.labels import Label, parse_label, relabel_pair
from wayfare.data.shingles import sharing_rows, shingle_sets
from wayfare.eval.bootstrap import pair_bootstrap, percentile_ci
from wayfare.eval.curves import oracle_scores, pair_curve
from wayfare.eval.metrics import apgr
from wayfare.eval.splits import kfold_split

FloatArray = NDArray[np.float64]
Vectors = NDArray[np.float32]
Fitter = Callable[[Vectors, ResultsTable, Sequence[str]], Callable[[Vectors, Sequence[str]], FloatArray]]
"""(train vectors, generic pair table, train prompts) -> a scorer (vectors, prompts) -> P(strong needed)."""


@dataclass(frozen=True)
class Source:
    """One benchmark or traffic table with the pair it is scored on (``table`` keeps all its models)."""

    name: str
    table: ResultsTable
    strong: str
    weak: str
    weight: int = 1
    """How many times each of its rows counts when it is a training source (rows are repeated, which for the
    routers' weighted losses is an integer sample weight): lets a small source, e.g. 298 chat prompts beside 20,000
    benchmark rows, carry a chosen share of the training signal."""

    def __post_init__(self) -> None:
        if not isinstance(self.weight, int) or self.weight < 1:
            raise ValueError(f"source {self.name}: weight must be a positive integer, got {self.weight!r}")
        for role, model in (("strong", self.strong), ("weak", self.weak)):
            if model not in self.table.models:
                raise ValueError(f"source {self.name}: {role} model {model!r} is not in its table")

    @property
    def pair_known(self) -> NDArray[np.bool_]:
        return ~(np.isnan(self.table.column(self.strong)) | np.isnan(self.table.column(self.weak)))


@dataclass(frozen=True)
class Candidate:
    """A router configuration and the label it is trained on; ``fit`` trains it (see :data:`Fitter`)."""

    router: str
    label: Label
    fit: Fitter
    params: Mapping[str, Any] = field(default_factory=dict)
    in_source_fit: Fitter | None = None
    """A fitter that gives this one's fit whenever the training rows come from one source (the gated router is then
    its plain expert): in-source results are computed once for every candidate naming the same one."""

    @property
    def name(self) -> str:
        return f"{self.router} / {self.label.name}"


def source_label(source: Source, label: Label) -> Label:
    """The label actually used on ``source``, so that two labels giving the same training table have the same
    name: ``difficulty`` needs three models, so a two-model source is trained on ``weak-fails`` (the one-model form
    of difficulty) under a difficulty candidate; an ``exclude`` keeps only the source's own models (none: plain
    ``difficulty``)."""
    if label.kind != "difficulty":
        return label
    kept = tuple(m for m in label.exclude if m in source.table.models)
    if len(source.table.models) - len(kept) < 3:
        return parse_label("weak-fails")
    return replace(label, exclude=kept)


def generic(source: Source, label: Label, rows: NDArray[np.int64]) -> ResultsTable:
    """``rows`` of ``source`` relabelled, as a two-column table named ``weak`` / ``strong``, each row's category the
    source's name."""
    table = relabel_pair(source.table.subset(rows), source_label(source, label), strong=source.strong, weak=source.weak)
    return replace(
        table,
        name=source.name,
        prompt_ids=[f"{source.name}/{i}" for i in table.prompt_ids],
        models=["weak", "strong"],
        strong="strong",
        weak="weak",
        costs=None,
        input_tokens=None,
        output_tokens=None,
        categories=[source.name] * len(table),  # which source each row came from (the gated router reads it)
    )


def training_set(
    sources: Sequence[Source], rows: Sequence[NDArray[np.int64]], vectors: Sequence[Vectors], label: Label
) -> tuple[Vectors, ResultsTable]:
    """The stacked generic training table (and its vectors) of ``rows`` of every source, each source's rows
    repeated ``weight`` times; a source with no rows is left out."""
    parts: list[ResultsTable] = []
    xs: list[Vectors] = []
    for src, r, x in zip(sources, rows, vectors, strict=True):
        if len(r) == 0:
            continue
        part = generic(src, label, r)
        parts += [part] * src.weight
        xs += [x[r]] * src.weight
    if not parts:
        raise ValueError("no training rows left")
    return np.vstack(xs), stack(parts, "+".join(dict.fromkeys(p.name for p in parts)))


def stack(tables: Sequence[ResultsTable], name: str) -> ResultsTable:
    return ResultsTable(
        name=name,
        prompt_ids=[i for t in tables for i in t.prompt_ids],
        prompts=[p for t in tables for p in t.prompts],
        models=["weak", "strong"],
        scores=np.vstack([t.scores for t in tables]),
        categories=[c for t in tables for c in (t.categories or [t.name] * len(t))],
        strong="strong",
        weak="weak",
    )


@dataclass(frozen=True)
class HeldOut:
    """APGR on one source and its bootstrap samples."""

    apgr: float
    samples: FloatArray
    n: int


def score_source(scores: FloatArray, source: Source, rows: NDArray[np.int64], n_resamples: int, seed: int) -> HeldOut:
    weak, strong = source.table.column(source.weak)[rows], source.table.column(source.strong)[rows]
    value = apgr(pair_curve(scores, weak, strong))
    samples = (
        pair_bootstrap(scores, weak, strong, (), n_resamples, seed)["apgr"]
        if n_resamples > 0
        else np.zeros(0, dtype=np.float64)
    )
    return HeldOut(float(value), np.asarray(samples, dtype=np.float64), len(rows))


def oracle_apgr(source: Source) -> float:
    """APGR of the oracle on the source's pair (the weak model exactly where it scores as well as the strong one):
    the most any router can reach on these prompts."""
    rows = np.flatnonzero(source.pair_known)
    weak, strong = source.table.column(source.weak)[rows], source.table.column(source.strong)[rows]
    return float(apgr(pair_curve(oracle_scores(weak, strong), weak, strong)))


def held_entry(held: HeldOut) -> dict[str, Any]:
    """``{apgr, apgr_ci, n}`` of one held-out score (the CI from its bootstrap samples; NaN without them)."""
    lo, hi = percentile_ci(held.samples) if held.samples.size else (float("nan"), float("nan"))
    return {"apgr": held.apgr, "apgr_ci": [lo, hi], "n": held.n}


def _mean_entry(parts: Sequence[HeldOut]) -> dict[str, Any]:
    """Mean APGR over sources; its CI from resampling every source independently (same resample count)."""
    out: dict[str, Any] = {"apgr": float(np.mean([p.apgr for p in parts]))}
    if parts and all(p.samples.size for p in parts):
        lo, hi = percentile_ci(np.mean(np.vstack([p.samples for p in parts]), axis=0))
        out["apgr_ci"] = [lo, hi]
    return out


def decontaminated_rows(
    sources: Sequence[Source], held: int, shingles: Sequence[Sequence[frozenset[str]]]
) -> tuple[list[NDArray[np.int64]], dict[str, int]]:
    """Training rows of every source but ``held`` (all rows: a label the pair cannot give, e.g. difficulty, may still
    be known), minus those sharing an 8-word shingle with a prompt of the held-out source; and how many were dropped
    per source."""
    seen: set[str] = set().union(*shingles[held]) if shingles[held] else set()
    rows: list[NDArray[np.int64]] = []
    dropped: dict[str, int] = {}
    for j, src in enumerate(sources):
        if j == held:
            rows.append(np.zeros(0, dtype=np.int64))
            continue
        keep = np.setdiff1d(np.arange(len(src.table)), sharing_rows(shingles[j], seen)).astype(np.int64)
        dropped[src.name] = len(src.table) - len(keep)
        rows.append(keep)
    return rows, dropped


def evaluate_transfer(
    sources: Sequence[Source],
    candidates: Sequence[Candidate],
    vectors: Sequence[Vectors],
    *,
    folds: int = 5,
    n_resamples: int = 1000,
    seed: int = 0,
    in_source: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Leave-one-source-out APGR (and in-source k-fold APGR) of every candidate; JSON-ready metrics."""
    if len(sources) < 2:
        raise ValueError(f"transfer evaluation needs at least two sources, got {len(sources)}")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ValueError(f"source names must be distinct, got {names}")
    shingles = [shingle_sets(s.table.prompts) for s in sources]
    splits = [decontaminated_rows(sources, i, shingles) for i in range(len(sources))]
    results: dict[str, Any] = {}
    # Candidates sharing a fitter whose labels give the same training tables (e.g. difficulty and weak-fails on a
    # two-model source) share the result instead of fitting twice: the fits are deterministic.
    memo: dict[tuple[Any, ...], HeldOut] = {}
    for cand in candidates:
        transfer: dict[str, HeldOut] = {}
        inside: dict[str, HeldOut] = {}
        for i, held in enumerate(sources):
            used = tuple(source_label(s, cand.label).name for j, s in enumerate(sources) if j != i)
            key: tuple[Any, ...] = (cand.fit, "held", i, used)
            if key not in memo:
                x, train = training_set(sources, splits[i][0], vectors, cand.label)
                scorer = cand.fit(x, train, train.prompts)
                test = np.flatnonzero(held.pair_known).astype(np.int64)
                prompts = [held.table.prompts[r] for r in test]
                memo[key] = score_source(scorer(vectors[i][test], prompts), held, test, n_resamples, seed + i)
            transfer[held.name] = memo[key]
            if on_step:
                on_step(f"{cand.name}: held out {held.name}")
            if in_source:
                fit = cand.in_source_fit or cand.fit
                key = (fit, "in", i, source_label(held, cand.label).name)
                if key not in memo:
                    memo[key] = _in_source(fit, cand.label, held, vectors[i], folds, n_resamples, seed + i)
                inside[held.name] = memo[key]
                if on_step:
                    on_step(f"{cand.name}: in-source {held.name}")
        results[cand.name] = {
            "router": cand.router,
            "params": dict(cand.params),
            "label": cand.label.name,
            "labels_used": {s.name: source_label(s, cand.label).name for s in sources},
            "transfer": {k: held_entry(v) for k, v in transfer.items()},
            "transfer_mean": _mean_entry(list(transfer.values())),
        }
        if in_source:
            results[cand.name]["in_source"] = {k: held_entry(v) for k, v in inside.items()}
            results[cand.name]["in_source_mean"] = _mean_entry(list(inside.values()))
    return {
        "mode": "transfer",
        "sources": {
            s.name: {
                "n_prompts": int(s.pair_known.sum()),
                "strong": s.strong,
                "weak": s.weak,
                "n_models": len(s.table.models),
                "weight": s.weight,
                "origin": str(s.table.meta.get("source", s.table.name)),
                "oracle_apgr": oracle_apgr(s),
            }
            for s in sources
        },
        "decontamination": {held.name: {"dropped_from_training": splits[i][1]} for i, held in enumerate(sources)},
        "folds": folds,
        "seed": seed,
        "n_resamples": n_resamples,
        "candidates": results,
    }


def _in_source(fit: Fitter, label: Label, src: Source, x: Vectors, folds: int, n_resamples: int, seed: int) -> HeldOut:
    rows = np.flatnonzero(src.pair_known).astype(np.int64)
    split = kfold_split([src.table.prompts[r] for r in rows], folds, seed)
    scores = np.zeros(len(rows), dtype=np.float64)
    for train, test in split.folds:
        table = generic(src, label, rows[train])
        scorer = fit(x[rows[train]], table, table.prompts)
        scores[test] = scorer(x[rows[test]], [src.table.prompts[r] for r in rows[test]])
    return score_source(scores, src, rows, n_resamples, seed)


def kfold_with_others(
    sources: Sequence[Source],
    held: int,
    cand: Candidate,
    vectors: Sequence[Vectors],
    *,
    folds: int = 5,
    seed: int = 0,
) -> FloatArray:
    """Scores of every prompt of ``sources[held]`` from ``folds``-fold cross-validation inside it, with all the other
    sources always in training (weighted as given): how well a small source that *is* trained on (e.g. chat beside
    benchmarks) is ordered. In-source for that source, so optimistic; the held-out table is the honest number."""
    src = sources[held]
    n = len(src.table)
    split = kfold_split(list(src.table.prompts), folds, seed)
    scores = np.zeros(n, dtype=np.float64)
    every = [np.arange(len(s.table), dtype=np.int64) for s in sources]
    for train, test in split.folds:
        rows = [*every[:held], np.asarray(train, dtype=np.int64), *every[held + 1 :]]
        x, table = training_set(sources, rows, vectors, cand.label)
        scorer = cand.fit(x, table, table.prompts)
        test = np.asarray(test, dtype=np.int64)
        scores[test] = scorer(vectors[held][test], [src.table.prompts[r] for r in test])
    return scores
