"""The dashboard's evaluation panel and threshold what-if: read an eval output folder, project a threshold.

The folder is a ``wayfare share`` output (``share.json``: routable share, quality of both models, per-router
cost-quality curves) and/or a ``wayfare eval`` output (``metrics.json``: per-router APGR, CPT, cost saved).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

IMAGES = ("cost_quality.png", "share.png", "pgr.png")


def load_eval(folder: str | None) -> dict[str, Any]:
    """What the dashboard shows of ``folder``: ``{"available": False, "reason": ...}`` when there is nothing."""
    if folder is None:
        return {"available": False, "reason": "no evaluation configured (set observability.eval_dir)"}
    path = Path(folder)
    out: dict[str, Any] = {"available": False, "folder": str(path), "images": []}
    share, metrics = path / "share.json", path / "metrics.json"
    try:
        if share.is_file():
            data = orjson.loads(share.read_bytes())
            out["share"] = {
                "measured_on": data.get("measured_on"),
                "routable_share": data.get("routable_share"),
                "quality": data.get("quality"),
                "break_even": data.get("break_even"),
                "routers": [
                    {k: v for k, v in r.items() if k != "labels"}
                    for r in data.get("routers", [])
                    if isinstance(r, dict)
                ],
            }
            out["available"] = True
        if metrics.is_file():
            data = orjson.loads(metrics.read_bytes())
            out["metrics"] = {
                k: data.get(k)
                for k in (
                    "benchmark",
                    "n_prompts",
                    "mode",
                    "strong",
                    "weak",
                    "quality",
                    "split",
                    "cost_basis",
                    "source",
                )
            }
            out["metrics"]["routers"] = data.get("routers", {})
            out["available"] = True
    except (OSError, orjson.JSONDecodeError) as exc:
        return {"available": False, "folder": str(path), "reason": f"cannot read the evaluation: {exc}"}
    out["images"] = [name for name in IMAGES if (path / name).is_file()]
    if not out["available"]:
        out["reason"] = f"no share.json or metrics.json in {path}"
    return out


def _curve_for(evaluation: dict[str, Any], router: str) -> dict[str, Any] | None:
    routers = (evaluation.get("share") or {}).get("routers") or []
    for r in routers:
        if r.get("name") == router and isinstance(r.get("curve"), dict):
            curve: dict[str, Any] = r["curve"]
            return curve
    return None


def what_if(
    threshold: float,
    scores: Sequence[float],
    tokens: Sequence[tuple[int, int]],
    strong_cost: Callable[[int, int], float | None],
    weak_cost: Callable[[int, int], float | None],
    evaluation: dict[str, Any],
    router: str,
) -> dict[str, Any]:
    """Project ``threshold`` on a route.

    Strong share and cost: replayed on the route's recent router-decided requests (their scores and token
    counts, priced at each model's prices). Quality: read off the evaluation's cost-quality curve of ``router`` at
    that strong share (linear interpolation between its points), relative to the strong model's quality.
    """
    out: dict[str, Any] = {"threshold": threshold, "router": router}
    s = np.asarray(scores, dtype=float)
    n = int(s.shape[0])
    live: dict[str, Any] = {"n": n, "measured_on": f"the last {n} router-decided requests on this route (this replica)"}
    if n:
        strong = s >= threshold
        live["strong_share"] = float(strong.mean())
        per: list[float] = []
        all_strong: list[float] = []
        for is_strong, (tin, tout) in zip(strong, tokens, strict=True):
            cs, cw = strong_cost(tin, tout), weak_cost(tin, tout)
            if cs is None or cw is None:
                per = []
                break
            per.append(cs if is_strong else cw)
            all_strong.append(cs)
        if per:
            live["cost_per_1k_usd"] = 1000 * float(np.mean(per))
            live["all_strong_cost_per_1k_usd"] = 1000 * float(np.mean(all_strong))
            live["saved_share"] = 1 - float(np.sum(per)) / float(np.sum(all_strong)) if sum(all_strong) else 0.0
    out["live"] = live
    curve = _curve_for(evaluation, router)
    if curve is None or "strong_share" not in live:
        reason = "no live router decisions yet" if "strong_share" not in live else f"no curve for router {router!r}"
        out["quality"] = {"available": False, "reason": reason}
        return out
    share = np.asarray(curve["strong_share"], dtype=float)
    quality = np.asarray(curve["quality"], dtype=float)
    order = np.argsort(share, kind="stable")
    q = float(np.interp(live["strong_share"], share[order], quality[order]))
    q_strong = float(quality[order][-1])
    q_weak = float(quality[order][0])
    pgr = (q - q_weak) / (q_strong - q_weak) if q_strong != q_weak else None
    meta = (evaluation.get("share") or {}).get("quality") or {}
    ref = meta.get("strong", q_strong)
    out["quality"] = {
        "available": True,
        "quality": q,
        "relative_to_strong": q / ref if ref else None,
        "pgr": pgr,
        "measured_on": (evaluation.get("share") or {}).get("measured_on"),
    }
    return out
