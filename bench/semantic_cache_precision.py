"""How precise is the semantic cache? Per cosine threshold: the share of true paraphrases it would answer from the
cache (hit rate) and the share of hard negatives (similar wording, different answer) it would wrongly answer
(false-hit rate), with Wilson 95% intervals, for static-tl-256 (the shipped routers' embedder) and minilm-l6-int8
(the cache's default).

    PYTHONPATH=src .venv/bin/python bench/semantic_cache_precision.py [--build-data] [--png docs/img/...]

Data: bench/data/paraphrase_pairs.jsonl (``--build-data`` rebuilds it): the hand-written triples of
bench/data/paraphrase_triples.tsv (question, paraphrase, hard negative; written for Wayfare, Apache-2.0) as one
positive and one negative pair each, a surface variant of each question (case, punctuation, politeness, spacing, a
typo: what the exact-match cache misses), and hard negatives made from bundled GSM8K questions (MIT, via RouteLLM's
Apache-2.0 release) by changing one number. "raw" compares the embedding alone; "guarded" also applies the cache's
default exact-match guards (numbers and negation count must match), as the gateway does.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np

from wayfare.cache.keys import guards
from wayfare.cache.vectors import open_shared
from wayfare.traffic.share import wilson

HERE = Path(__file__).parent
TRIPLES = HERE / "data" / "paraphrase_triples.tsv"
PAIRS = HERE / "data" / "paraphrase_pairs.jsonl"
GSM8K_NEGATIVES = 100
THRESHOLDS = [round(0.80 + 0.005 * i, 3) for i in range(41)]  # 0.80 .. 1.00 (1.0: identical vectors only)
MAX_FALSE_HIT = 0.01
SHOWN = (0.85, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995)


def _rate(row: dict[str, Any], key: str) -> str:
    lo, hi = row[f"{key}_ci"]
    return f"{row[f'{key}_rate']:.3f} [{lo:.3f}, {hi:.3f}]"


def build_pairs() -> list[dict[str, Any]]:
    pairs: list[dict[str, Any]] = []
    for line in TRIPLES.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        q, para, neg, kind = line.split("\t")
        pairs.append({"a": q, "b": para, "label": 1, "kind": "paraphrase", "source": "handwritten"})
        pairs.append({"a": q, "b": neg, "label": 0, "kind": kind, "source": "handwritten"})
    questions = [p["a"] for p in pairs if p["kind"] == "paraphrase"]
    for i, q in enumerate(questions):  # surface variants: what an exact-match cache misses
        pairs.append({"a": q, "b": _surface(q, i), "label": 1, "kind": "surface", "source": "handwritten"})
    from wayfare.data import load_benchmark

    rng = random.Random(0)
    prompts = [p for p in load_benchmark("gsm8k").prompts if len(re.findall(r"\b\d+\b", p)) >= 2]
    for p in rng.sample(prompts, GSM8K_NEGATIVES):
        numbers = list(re.finditer(r"\b\d+\b", p))
        m = rng.choice(numbers)
        changed = str(int(m.group()) + rng.choice([1, 2, 5, 10]))
        pairs.append(
            {"a": p, "b": p[: m.start()] + changed + p[m.end() :], "label": 0, "kind": "number", "source": "gsm8k"}
        )
    return pairs


def _surface(q: str, i: int) -> str:
    """A deterministic surface variant of ``q``: case, punctuation, politeness, spacing or a typo."""
    kind = i % 5
    if kind == 0:
        return q.lower().rstrip("?.!")
    if kind == 1:
        return "Please tell me: " + q
    if kind == 2:
        return q + " Thanks!"
    if kind == 3:
        return "  " + q.replace(" ", "  ", 2) + " \n"
    words = q.split()
    j = max(range(len(words)), key=lambda k: len(words[k]))  # swap two letters inside the longest word
    w = words[j]
    words[j] = w[:1] + w[2] + w[1] + w[3:] if len(w) > 3 else w
    return " ".join(words)


def rates(
    sims: np.ndarray, labels: np.ndarray, kinds: np.ndarray, allowed: np.ndarray, threshold: float
) -> dict[str, Any]:
    hit = (sims >= threshold) & allowed
    pos, neg, surf = kinds == "paraphrase", labels == 0, kinds == "surface"
    k_pos, n_pos, k_neg, n_neg = int(hit[pos].sum()), int(pos.sum()), int(hit[neg].sum()), int(neg.sum())
    k_surf, n_surf = int(hit[surf].sum()), int(surf.sum())
    return {
        "threshold": threshold,
        "hit_rate": k_pos / n_pos,
        "hit_ci": wilson(k_pos, n_pos),
        "surface_hit_rate": k_surf / n_surf,
        "surface_hit_ci": wilson(k_surf, n_surf),
        "false_hit_rate": k_neg / n_neg,
        "false_hit_ci": wilson(k_neg, n_neg),
        "n_pos": n_pos,
        "n_neg": n_neg,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-data", action="store_true", help=f"rewrite {PAIRS} from the triples and GSM8K")
    ap.add_argument("--png", default="docs/img/semantic-cache-precision.png")
    ap.add_argument("--json", default=None, help="write every row here")
    ap.add_argument("--embedders", default="static-tl-256,minilm-l6-int8")
    args = ap.parse_args()
    if args.build_data or not PAIRS.exists():
        PAIRS.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in build_pairs()), encoding="utf-8")
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    labels = np.array([p["label"] for p in pairs])
    kinds = np.array([p["kind"] for p in pairs])
    allowed = np.array([guards(p["a"], True, True) == guards(p["b"], True, True) for p in pairs])
    print(f"{len(pairs)} pairs: {int(labels.sum())} paraphrases, {int((labels == 0).sum())} hard negatives")
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name in args.embedders.split(","):
        try:
            emb = open_shared(name, 128)
        except Exception as exc:
            print(f"{name}: not available ({exc})")
            continue
        va, vb = emb.embed([p["a"] for p in pairs]), emb.embed([p["b"] for p in pairs])
        sims = np.einsum("ij,ij->i", va, vb)
        results[name] = {
            mode: [rates(sims, labels, kinds, ok, t) for t in THRESHOLDS]
            for mode, ok in (("raw", np.ones_like(allowed)), ("guarded", allowed))
        }
        for mode, rows in results[name].items():
            ok_rows = [r for r in rows if r["false_hit_rate"] <= MAX_FALSE_HIT]
            pick = ok_rows[0] if ok_rows else None
            print(f"\n{name} ({mode}); lowest threshold with false-hit rate <= {MAX_FALSE_HIT:.0%}: "
                  f"{pick['threshold'] if pick else 'none'}")  # fmt: skip
            print("| threshold | hit rate: paraphrases [95% CI] | hit rate: surface variants | false hits: negatives |")
            print("|---:|---|---|---|")
            for r in rows:
                if r["threshold"] in SHOWN or r is pick:
                    print(f"| {r['threshold']:.3f} | {_rate(r, 'hit')} | {_rate(r, 'surface_hit')} | "
                          f"{_rate(r, 'false_hit')} |")  # fmt: skip
        by_kind: dict[str, list[float]] = {}
        for p, s in zip(pairs, sims, strict=True):
            by_kind.setdefault(p["kind"], []).append(float(s))
        print("median similarity by kind: " + ", ".join(f"{k} {np.median(v):.3f} (n={len(v)})"
                                                         for k, v in sorted(by_kind.items())))  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if args.png:
        _plot(results, Path(args.png))
        print(f"\nwrote {args.png}")


def _plot(results: dict[str, dict[str, list[dict[str, Any]]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.2), squeeze=False)
    for ax, (name, modes) in zip(axes[0], results.items(), strict=True):
        for mode, style in (("guarded", "-"), ("raw", ":")):
            rows = modes[mode]
            t = [r["threshold"] for r in rows]
            for key, colour, label in (("hit", "tab:green", "hit rate (paraphrases)"),
                                       ("surface_hit", "tab:blue", "hit rate (surface variants)"),
                                       ("false_hit", "tab:red", "false-hit rate (hard negatives)")):  # fmt: skip
                y = [r[f"{key}_rate"] for r in rows]
                ax.plot(t, y, style, color=colour, label=f"{label}, {mode}")
                if mode == "guarded":
                    lo = [r[f"{key}_ci"][0] for r in rows]
                    hi = [r[f"{key}_ci"][1] for r in rows]
                    ax.fill_between(t, lo, hi, color=colour, alpha=0.15)
        ax.axhline(MAX_FALSE_HIT, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{name}: {rows[0]['n_pos']} paraphrases, {rows[0]['n_neg']} negatives", fontsize=9)
        ax.set_xlabel("cosine similarity threshold")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("share of pairs answered from the cache")
    axes[0][-1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
