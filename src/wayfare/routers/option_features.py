"""Answer-option geometry of a multiple-choice prompt, from the embeddings of its stem and each option.

For ``Question\\nA. ...\\nB. ...\\nAnswer:`` prompts the stem and every option are embedded separately (the router's
own embedder) and summarised in :data:`OPTION_FEATURE_NAMES`: cosine of the stem with its closest and second option,
their margin, mean and spread, and the options' pairwise similarity (near-identical distractors are harder: on
RouteLLM MMLU the options' max pairwise cosine correlates −0.11 with Mixtral's correctness within a subject).
Prompts without options get zeros. Costs one extra embedding call of up to 11 short texts per such prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from wayfare.routers.text_features import split_options

OPTION_FEATURE_NAMES = (
    "stem_option_cos_max",
    "stem_option_cos_second",
    "stem_option_cos_margin",
    "stem_option_cos_mean",
    "stem_option_cos_std",
    "option_pair_cos_max",
    "option_pair_cos_mean",
    "option_pair_cos_min",
)
OPTION_WINDOW = 4000  # characters searched for options (long reading passages come before them)
EmbedFn = Callable[[list[str]], NDArray[np.float32]]


def option_features(prompts: Sequence[str], embed: EmbedFn) -> NDArray[np.float64]:
    """(n, len(OPTION_FEATURE_NAMES)) features; ``embed`` maps texts to L2-normalised vectors."""
    parts = [split_options(p[:OPTION_WINDOW]) for p in prompts]
    texts: list[str] = []
    spans: list[tuple[int, int]] = []
    for stem, options in parts:
        if len(options) < 2:
            spans.append((0, 0))
            continue
        spans.append((len(texts), len(texts) + 1 + len(options)))
        texts += [stem.strip(), *options]
    out = np.zeros((len(prompts), len(OPTION_FEATURE_NAMES)))
    if not texts:
        return out
    vectors = np.asarray(embed(texts), dtype=np.float64)
    for row, (a, b) in enumerate(spans):
        if b == a:
            continue
        q, opts = vectors[a], vectors[a + 1 : b]
        cos = np.sort(opts @ q)[::-1]
        pair = (opts @ opts.T)[np.triu_indices(len(opts), 1)]
        out[row] = [cos[0], cos[1], cos[0] - cos[1], cos.mean(), cos.std(), pair.max(), pair.mean(), pair.min()]
    return out
