"""Routing robustness: how often a small, meaning-preserving edit of a prompt flips the routing decision.

For a seeded sample of each bundled benchmark's prompts (MMLU, GSM8K, LLMRouter), three edits are made and every
version is scored by the router; the decision is "strong" when the score reaches the router's calibrated threshold.
Reports, per edit and source, the share of prompts whose decision flips and the mean absolute score change.

- ``typo``: two adjacent letters swapped inside one word of at least four letters (seeded);
- ``lowercase``: the whole prompt in lower case;
- ``greeting``: "Hi! " put in front and " Thanks." after (the request itself unchanged).

Users ask for this (RouteLLM's issues: "a typo flips the decision"); RouterArena reports a robustness score of the
same kind. Run: .venv/bin/python bench/route_robustness.py [--router default] [--compare FOLDER] [--n 500] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import re

import numpy as np
from rich.console import Console
from rich.table import Table

from wayfare.data import load_benchmark
from wayfare.routers import load_router

SOURCES = ("mmlu", "gsm8k", "llmrouter")
_WORD = re.compile(r"[A-Za-z]{4,}")


def typo(text: str, rng: random.Random) -> str:
    words = list(_WORD.finditer(text))
    if not words:
        return text
    m = rng.choice(words)
    i = m.start() + rng.randrange(1, len(m.group()) - 2)  # keep the first letter, swap two inner letters
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


EDITS = {
    "typo": typo,
    "lowercase": lambda text, rng: text.lower(),
    "greeting": lambda text, rng: f"Hi! {text} Thanks.",
}


def flips(router_name: str, prompts: dict[str, list[str]], seed: int) -> dict[tuple[str, str], tuple[float, float]]:
    router = load_router(router_name)
    threshold = float(router.calibration_["threshold"])
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for source, texts in prompts.items():
        base = router.score(texts)
        for edit, fn in EDITS.items():
            rng = random.Random(seed)
            edited = router.score([fn(t, rng) for t in texts])
            flipped = float(np.mean((base >= threshold) != (edited >= threshold)))
            out[(source, edit)] = (flipped, float(np.mean(np.abs(base - edited))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--router", default="default", help="shipped name or router folder")
    parser.add_argument("--compare", help="a second router (folder) measured on the same prompts and edits")
    parser.add_argument("--n", type=int, default=500, help="prompts per source")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    prompts = {}
    for name in SOURCES:
        table = load_benchmark(name)
        rows = rng.choice(len(table), size=min(args.n, len(table)), replace=False)
        prompts[name] = [table.prompts[int(i)] for i in rows]
    routers = [args.router, *([args.compare] if args.compare else [])]
    results = {r: flips(r, prompts, args.seed) for r in routers}
    table = Table(title=f"decisions flipped by a small edit ({args.n} prompts per source, seed {args.seed})")
    table.add_column("router")
    table.add_column("edit")
    for name in SOURCES:
        table.add_column(f"{name} flipped / mean |Δscore|", justify="right")
    table.add_column("mean flipped", justify="right")
    for r in routers:
        for edit in EDITS:
            cells = [results[r][(s, edit)] for s in SOURCES]
            table.add_row(
                r,
                edit,
                *(f"{f:.1%} / {d:.4f}" for f, d in cells),
                f"{np.mean([f for f, _ in cells]):.1%}",
            )
    Console().print(table)


if __name__ == "__main__":
    main()
