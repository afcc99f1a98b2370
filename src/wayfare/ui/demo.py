"""A small real evaluation folder for the dashboard's demo, tests and screenshots: cost-quality curves of the
``random`` baseline and the oracle, and the routable share, on the bundled GSM8K labels (GPT-4 vs Mixtral)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from wayfare.data import load_benchmark
from wayfare.eval.curves import oracle_scores, pair_curve
from wayfare.eval.metrics import apgr, cpt
from wayfare.gateway.routing import HashScorer
from wayfare.traffic.share import wilson


def write_demo_eval(folder: str | Path) -> Path:
    """Write ``share.json`` (the ``wayfare share`` layout, without per-prompt labels) into ``folder``."""
    table = load_benchmark("gsm8k")
    assert table.strong is not None and table.weak is not None, "the bundled GSM8K table names its pair"
    strong, weak = table.column(table.strong), table.column(table.weak)
    n = len(table)
    routable = int(np.sum((weak >= strong) & (weak >= 0.5)))  # the weak answer is right (and not worse)
    no_loss = int(np.sum(weak >= strong))  # ... or both are wrong
    routers = []
    for name, scores in (("random", HashScorer().score(table.prompts)), ("oracle", oracle_scores(weak, strong))):
        c = pair_curve(scores, weak, strong)
        curve = {"strong_share": c.share.tolist(), "quality": c.quality.tolist(), "cost_per_request": None}
        routers.append({"name": name, "curve": curve, "apgr": apgr(c), "cpt50": cpt(c, 0.5), "error": None})
    lo, hi = wilson(routable, n)
    data = {
        "measured_on": f"{n} GSM8K prompts answered by {table.strong} (strong) and {table.weak} (weak), "
        "labelled by the benchmark's reference answers (bundled RouteLLM data)",
        "routable_share": {
            "n": n,
            "routable": routable,
            "share": routable / n,
            "ci95": [lo, hi],
            "no_loss_share": no_loss / n,
            "no_loss_ci95": list(wilson(no_loss, n)),
        },
        "quality": {"strong": float(np.mean(strong)), "weak": float(np.mean(weak))},
        "routers": routers,
    }
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / "share.json").write_bytes(orjson.dumps(data))
    return out
