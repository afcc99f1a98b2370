"""Extra task-labelled prompts for the task router's classifier: real MMLU and GSM8K questions whose task is known.

The bundled RouteLLM MMLU (14,037 questions) and GSM8K (1,307) prompts are examples of the tasks ``mmlu`` and
``gsm8k`` without any model outcome; only their *task* is used (never RouteLLM's model results). MMLU prompts are
reduced to their question stem (options and the trailing ``Answer:`` removed), the form LLMRouter's prompts take.

De-leaking: :func:`deleak` drops every extra prompt that shares an 8-word shingle (lower-cased ``\\w+`` words) with
any prompt it is given, e.g. every prompt of an evaluation split.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache

import numpy as np

from wayfare.data.shingles import deleak
from wayfare.routers.text_features import split_options

SOURCES = ("routellm",)


def mmlu_stem(prompt: str) -> str:
    """An MMLU prompt's question without its A-D options and ``Answer:``."""
    stem, _ = split_options(prompt)
    return stem.strip()


def source_prompts(source: str) -> dict[str, list[str]]:
    """task -> prompts of an augmentation source (``routellm``: bundled MMLU stems and GSM8K questions)."""
    if source != "routellm":
        raise ValueError(f"unknown task-augmentation source {source!r}; choose one of: {', '.join(SOURCES)}")
    from wayfare.data import load_benchmark

    mmlu = [s for s in (mmlu_stem(p) for p in load_benchmark("mmlu").prompts) if s]
    gsm8k = [p.strip() for p in load_benchmark("gsm8k").prompts if p.strip()]
    return {"mmlu": mmlu, "gsm8k": gsm8k}


def sample_per_task(extra: dict[str, list[str]], per_task: int, seed: int) -> dict[str, list[str]]:
    """At most ``per_task`` prompts of each task (a seeded random sample, original order kept); 0 = all."""
    if per_task <= 0:
        return {t: list(p) for t, p in extra.items()}
    rng = np.random.default_rng(seed)
    out: dict[str, list[str]] = {}
    for task, prompts in extra.items():
        if len(prompts) <= per_task:
            out[task] = list(prompts)
        else:
            idx = np.sort(rng.choice(len(prompts), size=per_task, replace=False))
            out[task] = [prompts[i] for i in idx.tolist()]
    return out


@lru_cache(maxsize=4)
def _deleaked(source: str, benchmarks: str) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], int]:
    from wayfare.data import load_benchmark

    against = [p for name in benchmarks.split(",") if name.strip() for p in load_benchmark(name.strip()).prompts]
    out = []
    dropped = 0
    for task, prompts in sorted(source_prompts(source).items()):
        kept, n = deleak(prompts, against)
        out.append((task, tuple(prompts[i] for i in kept)))
        dropped += n
    return tuple(out), dropped


def augmentation_prompts(
    source: str, tasks: Collection[str], per_task: int, deleak_benchmarks: str, seed: int
) -> tuple[dict[str, list[str]], int]:
    """(task -> extra prompts, number dropped by de-leaking): the ``source``'s prompts of the tasks in ``tasks``,
    minus every one sharing an 8-word shingle with a prompt of the comma-separated bundled benchmarks
    ``deleak_benchmarks`` (all their splits; "" = none), then at most ``per_task`` of each (0 = all)."""
    kept, dropped = _deleaked(source, deleak_benchmarks)
    extra = {task: list(prompts) for task, prompts in kept if task in tasks}
    return sample_per_task(extra, per_task, seed), dropped
