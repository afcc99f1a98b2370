"""Chat categories: does a pair router send the kinds of chat prompts a cheap model gets wrong to the strong model?

A sanity check on 48 short chat prompts written by hand for Wayfare (``bench/data/chat_categories.jsonl``; six each
in eight categories). Math, multi-step reasoning and coding are marked ``strong`` (where Mixtral-class models lose
most to GPT-4-class ones); writing, roleplay, humanities questions, extraction and casual chat ``weak``. That marking
is a prior, not a measurement, and 48 prompts are no benchmark: the number to read is the ordering, not a quality.

Reports, per router: the share of (strong, weak) prompt pairs the router scores strong-first (AUC; 0.5 = random,
with a 95% bootstrap CI over prompts), each category's mean score and share sent strong at the router's calibrated
threshold; for a ``gated`` router also the mean gate P(domain) per category and the AUC of each expert alone.
Run: .venv/bin/python bench/chat_categories.py [--router default] [--compare FOLDER ...]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table

from wayfare.routers import load_router
from wayfare.routers._core import BaseRouter
from wayfare.routers.gated import GatedRouter

DATA = Path(__file__).parent / "data" / "chat_categories.jsonl"
N_RESAMPLES = 2000


def load_prompts(path: Path = DATA) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for i, row in enumerate(rows, 1):
        if row.get("expect") not in ("strong", "weak") or not row.get("prompt") or not row.get("category"):
            raise SystemExit(f"{path}:{i}: needs category, prompt and expect (strong or weak)")
    return rows


def auc(scores: NDArray[np.float64], strong: NDArray[np.bool_]) -> float:
    """Share of (strong, weak) pairs scored strong-first; ties count half."""
    a, b = scores[strong][:, None], scores[~strong][None, :]
    return float(np.mean((a > b) + 0.5 * (a == b)))


def auc_ci(scores: NDArray[np.float64], strong: NDArray[np.bool_], seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    hi_rows, lo_rows = np.flatnonzero(strong), np.flatnonzero(~strong)
    boots = []
    for _ in range(N_RESAMPLES):
        rows = np.concatenate([rng.choice(hi_rows, len(hi_rows)), rng.choice(lo_rows, len(lo_rows))])
        boots.append(auc(scores[rows], strong[rows]))
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return float(lo), float(hi)


@dataclass
class Category:
    expect: str
    score: float
    strong_share: float
    gate: float | None = None


@dataclass
class Measured:
    auc: float
    auc_ci: tuple[float, float]
    threshold: float
    categories: dict[str, Category]
    experts: dict[str, float] = field(default_factory=dict)


def measure(router: BaseRouter, rows: list[dict[str, str]]) -> Measured:
    prompts = [r["prompt"] for r in rows]
    strong = np.asarray([r["expect"] == "strong" for r in rows])
    cat = np.asarray([r["category"] for r in rows])
    scores = np.asarray(router.score(prompts), dtype=np.float64)
    threshold = float(router.calibration_["threshold"]) if router.calibration_ else 0.5
    expect = {r["category"]: r["expect"] for r in rows}
    out = Measured(
        auc(scores, strong),
        auc_ci(scores, strong),
        threshold,
        {
            c: Category(e, float(scores[cat == c].mean()), float((scores[cat == c] >= threshold).mean()))
            for c, e in expect.items()
        },
    )
    if isinstance(router, GatedRouter) and router.domain_ is not None:  # the gate per category, each expert alone
        x = router.embed(prompts)
        gate = router.gate(x, prompts)
        for c, entry in out.categories.items():
            entry.gate = float(gate[cat == c].mean())
        out.experts = {
            "domain expert alone": auc(
                router.score_from_predictions(router.domain_.predict_vectors(x, prompts)), strong
            ),
            "general expert alone": auc(
                router.score_from_predictions(router.general_.predict_vectors(x, prompts)), strong
            ),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--router", default="default", help="shipped name or router folder")
    parser.add_argument("--compare", nargs="*", default=[], help="more routers measured on the same prompts")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    rows = load_prompts()
    results = {name: measure(load_router(name), rows) for name in [args.router, *args.compare]}
    console = Console()
    for name, res in results.items():
        lo, hi = res.auc_ci
        table = Table(
            title=f"{name}: strong-first AUC {res.auc:.3f} [{lo:.3f}, {hi:.3f}] on {len(rows)} hand-written chat "
            f"prompts, threshold {res.threshold:.5f}"
        )
        for col in ("category", "expected", "mean score", "sent strong"):
            table.add_column(col)
        if res.experts:
            table.add_column("mean gate P(domain)")
        for c, v in res.categories.items():
            cells = [c, v.expect, f"{v.score:.3f}", f"{v.strong_share:.0%}"]
            table.add_row(*cells, *([f"{v.gate:.2f}"] if v.gate is not None else []))
        console.print(table)
        for expert, value in res.experts.items():
            console.print(f"  {expert}: AUC {value:.3f}")
    if args.json:
        args.json.write_text(json.dumps({k: asdict(v) for k, v in results.items()}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
