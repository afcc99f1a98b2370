"""The sources and candidates of ``wayfare eval --transfer``, parsed from the command line.

Sources: ``mmlu``, ``gsm8k``, ``llmrouter`` (the bundled copies; LLMRouter with its test rows that repeat a training
prompt dropped) or ``FORMAT:PATH`` for any results format (e.g. ``arena-hard:data/arena-bench-v1``). Each source is
scored on one strong/weak pair: the first of ``--strong`` / ``--weak``'s comma-separated names that the table has,
else the pair that ships with it (GPT-4-1106 vs Mixtral-8x7B where both are present; in LLMRouter
nemotron-51b vs Mistral-7B-Instruct-v0.3), else the table's best and worst model by mean score.

Why that LLMRouter pair: a routing benchmark needs a real quality gap. Nemotron-51b vs Llama-3.1-8B (0.650 vs
0.594, 76% ties) leaves APGR's denominator at 0.056, so its APGR is mostly noise (the oracle scores 2.17);
Nemotron-51b vs Mistral-7B (0.650 vs 0.386) has a gap like GPT-4 vs Mixtral's on chat (0.876 vs 0.619). Both
tables are in docs/ROUTERS.md.

Candidates: ``--routers`` names registry routers, optionally with parameters in brackets
(``ensemble[knn_weight=0;c=0.3]``), crossed with ``--labels``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from wayfare.data import BENCHMARKS, ResultsTable, load_benchmark, load_table
from wayfare.data.labels import Label, parse_label
from wayfare.eval.transfer import Source

KNOWN_PAIRS = (
    ("gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"),
    ("llama-3.1-nemotron-51b-instruct", "mistral-7b-instruct-v0.3"),
)
DEFAULT_SOURCES = ("mmlu", "gsm8k", "llmrouter")


def deleaked(table: ResultsTable) -> ResultsTable:
    """A table with a train/test split (LLMRouter) minus its test rows whose text is also a training prompt."""
    test = table.meta.get("test_rows")
    train = table.meta.get("train_rows")
    if not isinstance(test, list) or not isinstance(train, list):
        return table
    train_texts = {table.prompts[i] for i in train}
    held = set(test)
    keep = [i for i in range(len(table)) if i not in held or table.prompts[i] not in train_texts]
    return table.subset(keep)


def pick_pair(table: ResultsTable, strong: Sequence[str], weak: Sequence[str]) -> tuple[str, str]:
    """The (strong, weak) pair a source is scored on (see the module docstring)."""
    s = next((m for m in strong if m in table.models), None)
    w = next((m for m in weak if m in table.models), None)
    if s is None or w is None:
        for ks, kw in KNOWN_PAIRS:
            if ks in table.models and kw in table.models:
                s, w = s or ks, w or kw
                break
    if s is None or w is None:
        if table.strong and table.weak:
            s, w = s or table.strong, w or table.weak
        else:
            means = np.nanmean(table.scores, axis=0)
            order = [table.models[j] for j in np.argsort(-means, kind="stable")]
            s = s or next(m for m in order if m != w)
            w = w or next(m for m in reversed(order) if m != s)
    if s == w:
        raise ValueError(f"{table.name}: strong and weak model are the same ({s})")
    return s, w


def load_source(spec: str, strong: Sequence[str], weak: Sequence[str]) -> Source:
    """A source from ``NAME`` (bundled) or ``FORMAT:PATH``."""
    if spec in BENCHMARKS:
        table = deleaked(load_benchmark(spec))
        name = spec
    else:
        fmt, sep, path = spec.partition(":")
        if not sep or not path:
            raise ValueError(
                f"--source {spec!r}: give a bundled benchmark ({', '.join(BENCHMARKS)}) or FORMAT:PATH, "
                "e.g. arena-hard:data/arena-bench-v1"
            )
        table = load_table(path, fmt)
        name = table.name
    if len(table.models) < 2:
        raise ValueError(f"--source {spec!r}: needs at least two models, found {table.models}")
    s, w = pick_pair(table, strong, weak)
    return Source(name, table, s, w)


def load_sources(specs: Sequence[str], strong: Sequence[str], weak: Sequence[str]) -> list[Source]:
    sources = [load_source(s, strong, weak) for s in (specs or DEFAULT_SOURCES)]
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"two sources are named {', '.join(dupes)}: give each --source once")
    return sources


def with_weights(sources: Sequence[Source], specs: Sequence[str]) -> list[Source]:
    """``sources`` with the training weights of ``NAME=W`` specs (``--source-weight``) applied."""
    weights: dict[str, int] = {}
    names = [s.name for s in sources]
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip()
        try:
            weight = int(value)
        except ValueError:
            weight = 0
        if not sep or weight < 1:
            raise ValueError(f"--source-weight {spec!r}: give NAME=W with W a positive integer, e.g. arena-bench-v1=10")
        if name not in names:
            raise ValueError(f"--source-weight {spec!r}: no source is named {name!r} (sources: {', '.join(names)})")
        weights[name] = weight
    return [replace(s, weight=weights.get(s.name, s.weight)) for s in sources]


@dataclass(frozen=True)
class RouterChoice:
    kind: str
    params: dict[str, Any]

    @property
    def name(self) -> str:
        if not self.params:
            return self.kind
        return f"{self.kind}[{';'.join(f'{k}={v}' for k, v in self.params.items())}]"


def parse_router(text: str) -> RouterChoice:
    """``kind`` or ``kind[name=value;name=value]`` (values read as JSON when they parse, else as text)."""
    from wayfare.routers.registry import available_routers
    from wayfare.routers.training import parse_params

    kind, bracket, rest = text.strip().partition("[")
    params: dict[str, Any] = {}
    if bracket:
        if not rest.endswith("]"):
            raise ValueError(f"router {text!r}: parameters go in brackets, e.g. ensemble[knn_weight=0]")
        try:
            params = parse_params([p.strip() for p in rest[:-1].split(";") if p.strip()])
        except ValueError as exc:
            raise ValueError(f"router {text!r}: {exc}") from None
    if kind not in available_routers() or kind in ("random", "oracle"):
        learned = [r for r in available_routers() if r not in ("random", "oracle")]
        raise ValueError(f"--transfer trains routers: {kind!r} is not one of {', '.join(learned)}")
    return RouterChoice(kind, params)


def parse_labels(text: str) -> list[Label]:
    labels = [parse_label(p) for p in text.split(",") if p.strip()]
    if not labels:
        raise ValueError("--labels is empty; give e.g. strong-wins,weak-fails,difficulty")
    return labels
