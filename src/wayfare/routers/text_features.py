"""Cheap lexical features of a prompt, next to its embedding: lengths, digits and math symbols, answer-option
statistics for multiple-choice prompts, negations. A sentence embedding mostly encodes the topic; these carry some
of the *difficulty* signal it misses (on GSM8K they add ~+0.03 APGR to a linear probe, see docs/ROUTERS.md).

Counts are log-scaled and every feature is bounded by a slowly growing function of the prompt length, so a long
chat or code prompt far from the training data cannot push a linear model to an extreme score. Pure Python +
NumPy, ~0.03 ms for a short prompt and < 0.1 ms for any (only the first :data:`WINDOW` characters are read).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

FEATURE_NAMES = (
    "log_chars",
    "log_stem_chars",
    "log_option_mean_chars",
    "log_option_max_chars",
    "option_length_spread",
    "n_options",
    "digit_fraction",
    "math_symbols",
    "numeric_options",
    "negation",
    "statement_pair",
    "roman_numerals",
    "all_none_of_the_above",
    "blank",
    "lines",
    "question_mark",
    "uppercase_fraction",
    "numbers",
)
_OPTION = re.compile(r"\n([A-J])[.)] ")
_MATH = re.compile(r"[=+\-*/^<>√∫∑]")
_NUMERIC = re.compile(r"[-\d.,/ %$]+")
_NEGATION = re.compile(r"\b(NOT|EXCEPT|LEAST|not|except)\b")
_ROMAN = re.compile(r"\bI+\b.*\bII\b")
_ABOVE = re.compile(r"(?i)(all|none|both) of the above")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
WINDOW = 1000  # characters read per prompt: bounds the cost (< 0.1 ms) whatever the prompt length
_DIGITS = b"0123456789"
_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def split_options(prompt: str) -> tuple[str, list[str]]:
    """(question stem, answer options) of a multiple-choice prompt (``\\nA. ...\\nB. ...``); no options otherwise."""
    body = prompt.removesuffix("Answer:")
    parts = _OPTION.split(body)
    if len(parts) < 5:  # fewer than two options: not multiple choice
        return body, []
    return parts[0], [parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)]


def prompt_features(prompt: str) -> list[float]:
    """The features of one prompt, in :data:`FEATURE_NAMES` order. Only the first :data:`WINDOW` characters are
    read (the embedder sees even fewer), except for the total length."""
    text = prompt[:WINDOW]
    stem, options = split_options(text)
    # plain floats, not NumPy: on a handful of option lengths NumPy's per-call cost is most of this function's
    lengths = [float(len(o)) for o in options] or [0.0]
    mean = sum(lengths) / len(lengths)
    spread = math.sqrt(sum((v - mean) ** 2 for v in lengths) / len(lengths))
    n = max(len(text), 1)
    ascii_text = text.encode("ascii", "ignore")  # bytes.translate counts in C
    return [
        math.log1p(len(prompt)),
        math.log1p(len(stem)),
        math.log1p(mean),
        math.log1p(max(lengths)),
        spread / (mean + 1.0),
        float(min(len(options), 10)),
        (len(ascii_text) - len(ascii_text.translate(None, _DIGITS))) / n,
        math.log1p(len(_MATH.findall(text))),
        float(bool(options) and all(_NUMERIC.fullmatch(o or "x") is not None for o in options)),
        float(_NEGATION.search(stem) is not None),
        float("Statement 1" in text),
        float("II" in text and _ROMAN.search(text) is not None),
        float("of the above" in text.lower() and _ABOVE.search(text) is not None),
        float("___" in text),
        math.log1p(text.count("\n")),
        float("?" in stem),
        (len(ascii_text) - len(ascii_text.translate(None, _UPPER))) / n,
        math.log1p(len(_NUMBER.findall(text))),
    ]


def feature_matrix(prompts: Sequence[str]) -> NDArray[np.float64]:
    """(n, len(FEATURE_NAMES)) features of ``prompts``."""
    if isinstance(prompts, str):
        raise TypeError("feature_matrix() takes a sequence of prompts, not a single string")
    if not prompts:
        return np.zeros((0, len(FEATURE_NAMES)))
    rows = {p: prompt_features(p) for p in dict.fromkeys(prompts)}  # weighted training tables repeat prompts
    return np.asarray([rows[p] for p in prompts], dtype=np.float64)
