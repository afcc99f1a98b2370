"""Labellers: turn a (strong answer, weak answer) pair into scores in [0, 1] and a routable verdict.

Routable (documented in docs/YOUR_TRAFFIC.md): the weak answer is *good enough* -- its score is at least the
strong answer's minus ``tolerance`` AND at least ``pass_mark``. With 0/1 correctness this is "the weak model is
right". A prompt both models get wrong is not counted as routable (no model answers it), but sending it to the
weak model loses nothing: that share is reported separately as ``neither``.

Labelling methods, in order of precedence per prompt:
1. user-supplied scores in the prompt file (``"scores"``);
2. a reference answer (``"reference"``) checked by a matcher: ``exact``, ``numeric`` (the last number in the answer
   equals the reference's, like GSM8K) or a user scorer ``module:function(answer, reference) -> float``;
3. the pairwise LLM judge (``--judge MODEL``), asked in both orders so position bias cancels, ties allowed;
4. no reference and no judge: the strong model's answer is taken as the reference (agreement).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Matcher = Callable[[str, str], float]
Verdict = Literal["A", "B", "tie"]

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def last_number(text: str) -> float | None:
    """The last number written in ``text`` (thousands commas allowed), or None."""
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def numeric_match(answer: str, reference: str) -> float:
    """1.0 when the last number in ``answer`` equals the last number in ``reference`` (to 1e-6), else 0.0."""
    a, r = last_number(answer), last_number(reference)
    return float(a is not None and r is not None and abs(a - r) <= 1e-6 * max(1.0, abs(r)))


def _norm(text: str) -> str:
    return " ".join(text.strip().lower().split()).rstrip(".")


def exact_match(answer: str, reference: str) -> float:
    """1.0 when the answers are equal after trimming, lower-casing and collapsing whitespace."""
    return float(_norm(answer) == _norm(reference))


def load_matcher(spec: str) -> Matcher:
    """``exact``, ``numeric``, or ``package.module:function`` returning a score in [0, 1]."""
    if spec == "exact":
        return exact_match
    if spec == "numeric":
        return numeric_match
    module_name, sep, func_name = spec.partition(":")
    if not sep or not module_name or not func_name:
        raise ValueError(f"scorer must be 'exact', 'numeric' or 'module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import scorer module {module_name!r}: {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ValueError(f"scorer {spec!r}: {module_name} has no function {func_name!r}")

    def checked(answer: str, reference: str) -> float:
        value = float(func(answer, reference))
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"scorer {spec!r} returned {value}, expected a score in [0, 1]")
        return value

    return checked


@dataclass(frozen=True)
class Label:
    prompt_id: str
    strong_score: float
    weak_score: float
    method: str
    """``user``, ``reference:<matcher>``, ``judge``, or ``agreement:<matcher>``."""

    def routable(self, tolerance: float = 0.0, pass_mark: float = 0.5) -> bool:
        return self.weak_score >= self.strong_score - tolerance - 1e-12 and self.weak_score >= pass_mark - 1e-12

    def neither(self, pass_mark: float = 0.5) -> bool:
        return self.weak_score < pass_mark and self.strong_score < pass_mark


# ---------------------------------------------------------------------------------------------- pairwise judge
JUDGE_SYSTEM = (
    "You are an impartial judge. Compare two assistant answers to the user's question for correctness and "
    "helpfulness. Ignore the order in which they are shown and their length. Reply with exactly one verdict: "
    "[[A]] if answer A is better, [[B]] if answer B is better, [[TIE]] if they are equally good or equally bad."
)

_VERDICT = re.compile(r"\[\[(A|B|TIE)\]\]", re.IGNORECASE)


def judge_messages(question: str, answer_a: str, answer_b: str) -> list[dict[str, str]]:
    user = (
        f"[Question]\n{question}\n\n[Answer A]\n{answer_a}\n[End of answer A]\n\n"
        f"[Answer B]\n{answer_b}\n[End of answer B]\n\nYour verdict:"
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def parse_verdict(text: str) -> Verdict | None:
    """The last ``[[A]]`` / ``[[B]]`` / ``[[TIE]]`` in a judge reply (None if there is none)."""
    found = _VERDICT.findall(text)
    if not found:
        return None
    v = found[-1].upper()
    return "tie" if v == "TIE" else ("A" if v == "A" else "B")


def judge_label(prompt_id: str, strong_first: Verdict | None, weak_first: Verdict | None) -> Label:
    """Combine the two orders: weak's preference = mean over orders of win 1 / tie 0.5 / loss 0.

    Order 1 shows the strong answer as A, order 2 shows the weak answer as A, so a judge that always says "A"
    yields 0.5 (a tie): position bias cancels. An unparsable verdict counts as a tie.
    """

    def weak_pref(v: Verdict | None, weak_is: Literal["A", "B"]) -> float:
        if v is None or v == "tie":
            return 0.5
        return 1.0 if v == weak_is else 0.0

    p = (weak_pref(strong_first, "B") + weak_pref(weak_first, "A")) / 2
    return Label(prompt_id, strong_score=1.0 - p, weak_score=p, method="judge")
