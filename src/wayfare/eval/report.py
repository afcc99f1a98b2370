"""Writing an evaluation's results: metrics.json, cost-quality plots (PNG) and a self-contained HTML report."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from wayfare.eval.runner import EvalResult

BASELINES = ("random", "oracle", "always-weak", "always-strong")


def measured_on(metrics: dict[str, Any]) -> str:
    """One sentence saying what every number was measured on."""
    m = metrics
    if m["mode"] == "pair":
        models = f"strong = {m['strong']}, weak = {m['weak']}"
    else:
        models = f"{len(m['models'])} models ({', '.join(m['models'])})"
    text = (
        f"Measured on {m['benchmark']} ({m['source']}): {m['n_prompts']} evaluated prompts, {models}; "
        f"split: {m['split']}; costs: {m['cost_basis']}; 95% CIs from {m['bootstrap_resamples']} bootstrap "
        f"resamples of the prompts (seed {m['seed']})"
    )
    if m.get("embedder"):
        text += f"; prompts embedded with {m['embedder']}"
    return text + "."


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if pct:
        return f"{100 * float(x):.1f}%"
    return f"{float(x):.3f}"


def _ci(entry: dict[str, Any], key: str, pct: bool = False) -> str:
    ci = entry.get(f"{key}_ci")
    if not ci or ci[0] is None:
        return ""
    return f" [{_fmt(ci[0], pct)}, {_fmt(ci[1], pct)}]"


def table_rows(metrics: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the results table (shared by the console and the HTML report)."""
    routers: dict[str, dict[str, Any]] = metrics["routers"]
    order = [n for n in routers if n not in BASELINES] + [n for n in BASELINES if n in routers]
    rows: list[list[str]] = []
    if metrics["mode"] == "pair":
        header = ["router", "APGR [95% CI]", "CPT(50%)", "CPT(80%)", "cost saved vs strong at 95% quality"]
        for name in order:
            e = routers[name]
            if "apgr" not in e:
                cost = f"${e['cost_per_1k']:.3f} per 1k queries" if "cost_per_1k" in e else "–"
                rows.append([name, f"quality {_fmt(e['quality'])}", _fmt(e["share"], True), "–", cost])
                continue
            saved = e.get("cost_saved_at_95")
            saved_txt = (
                "no costs" if saved is None else f"{_fmt(saved, True)} (strong share {_fmt(e['share_at_95'], True)})"
            )
            rows.append(
                [
                    name,
                    _fmt(e["apgr"]) + _ci(e, "apgr"),
                    _fmt(e["cpt50"], True) + _ci(e, "cpt50", True),
                    _fmt(e["cpt80"], True) + _ci(e, "cpt80", True),
                    saved_txt,
                ]
            )
    else:
        header = ["router", "AIQ [95% CI]", "quality at best single cost", "cost for best single quality", "arena"]
        for name in order:
            e = routers[name]
            rows.append(
                [
                    name + (f" ({e['model']})" if "model" in e else ""),
                    _fmt(e["aiq"]) + _ci(e, "aiq"),
                    _fmt(e["quality_at_best_single_cost"]),
                    _fmt(e["cost_fraction_for_best_single_quality"], True),
                    _fmt(e["arena_score"]),
                ]
            )
    return header, rows


def _figure(width: float = 7.5) -> tuple[Figure, Any]:
    """A figure on the Agg canvas (no pyplot state, no display needed), ``width`` inches wide and 5 high."""
    fig = Figure(figsize=(width, 5))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def plot_cost_quality(result: EvalResult) -> bytes:
    """Quality vs cost per 1,000 queries (vs strong share when the data has no costs) for every router."""
    m = result.metrics
    fig, ax = _figure()
    if result.mode == "pair":
        use_cost = bool(m["costs_available"])
        for name, curve in result.pair_curves.items():
            x = curve.cost * 1000 if use_cost and curve.cost is not None else curve.share
            style = "--" if name in BASELINES else "-"
            ax.plot(x, curve.quality, style, label=f"{name} (APGR {_fmt(m['routers'][name]['apgr'])})", lw=1.4)
        ax.set_xlabel("cost, USD per 1,000 queries" if use_cost else "share of prompts sent to the strong model")
        for name in ("always-weak", "always-strong"):
            e = m["routers"][name]
            x0 = e.get("cost_per_1k", e["share"]) if use_cost else e["share"]
            ax.scatter([x0], [e["quality"]], marker="s", s=40, zorder=3)
            ax.annotate(name, (x0, e["quality"]), textcoords="offset points", xytext=(4, -12), fontsize=8)
        ax.set_title(f"{m['benchmark']}: {m['strong']} vs {m['weak']} ({m['n_prompts']} prompts)")
    else:
        for name, fr in result.frontiers.items():
            if name in ("always-weak", "always-strong"):
                continue
            line = ax.plot(
                fr.hull.cost * 1000,
                fr.hull.quality,
                "-" if name not in BASELINES else "--",
                lw=1.4,
                label=f"{name} (AIQ {_fmt(m['routers'][name]['aiq'])})",
            )
            ax.scatter(fr.cost * 1000, fr.quality, s=6, alpha=0.4, color=line[0].get_color())
        for model, s in m["single_models"].items():
            ax.scatter([s["cost_per_1k"]], [s["quality"]], marker="s", s=30, color="black", zorder=3)
            ax.annotate(model, (s["cost_per_1k"], s["quality"]), textcoords="offset points", xytext=(4, 2), fontsize=7)
        ax.set_xlabel("cost, USD per 1,000 queries")
        ax.set_title(f"{m['benchmark']}: cost-quality frontier ({m['n_prompts']} prompts)")
    ax.set_ylabel("mean quality of the routed answers")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def plot_pgr(result: EvalResult) -> bytes:
    """PGR vs strong share (pair mode): the area under each curve is its APGR."""
    m = result.metrics
    fig, ax = _figure()
    for name, curve in result.pair_curves.items():
        style = "--" if name in BASELINES else "-"
        ax.plot(curve.share, curve.pgr, style, lw=1.4, label=f"{name} (APGR {_fmt(m['routers'][name]['apgr'])})")
    ax.axhline(0.5, color="grey", lw=0.6)
    ax.axhline(0.8, color="grey", lw=0.6)
    ax.set_xlabel("share of prompts sent to the strong model")
    ax.set_ylabel("performance gap recovered (PGR)")
    ax.set_title(f"{m['benchmark']}: PGR vs strong share")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def render_html(metrics: dict[str, Any], images: dict[str, bytes]) -> str:
    header, rows = table_rows(metrics)
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    imgs = "".join(
        f'<figure><img alt="{esc(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        f"<figcaption>{esc(name)}</figcaption></figure>"
        for name, png in images.items()
    )
    quality = ", ".join(f"{esc(k)}: {v:.3f}" for k, v in metrics["quality"].items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Wayfare evaluation: {esc(metrics["benchmark"])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
th{{background:#f4f4f4}}img{{max-width:100%}}.note{{color:#555;font-size:0.92em}}</style></head><body>
<h1>Wayfare routing evaluation: {esc(metrics["benchmark"])}</h1>
<p><strong>{esc(measured_on(metrics))}</strong></p>
<p class="note">Mean quality of each model on these prompts: {quality}.</p>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p class="note">{esc(_legend(metrics))}</p>
{imgs}
<p class="note">Wayfare {esc(metrics["wayfare_version"])}. Full numbers: metrics.json next to this file.</p>
</body></html>
"""


def _legend(metrics: dict[str, Any]) -> str:
    if metrics["mode"] == "pair":
        return (
            "PGR = (q - q_weak)/(q_strong - q_weak). APGR = area under PGR vs strong share. CPT(x) = smallest share "
            "of prompts sent to the strong model whose PGR >= x. Cost saved = 1 - cost/cost(always strong) at the "
            "smallest strong share whose quality >= 95% of the strong model's. random = a seeded random router; "
            "oracle = routes weak exactly when the weak model scores at least as well."
        )
    return (
        "AIQ (RouterBench) = area under the non-decreasing convex hull of (cost, quality), cost normalised to [0, 1] "
        "over the single models' cost range. Arena score (RouterArena) at the router's quality-first policy. "
        "random = random mixtures of single models; oracle = the policy sweep on the true scores."
    )


def json_safe(value: Any) -> Any:
    """``value`` with NaN / infinite floats replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_report(result: EvalResult, out_dir: str | Path) -> dict[str, Path]:
    """Write metrics.json, the PNG plots and report.html into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = {"cost_quality.png": plot_cost_quality(result)}
    if result.mode == "pair":
        images["pgr.png"] = plot_pgr(result)
    paths = {"metrics": out / "metrics.json", "report": out / "report.html"}
    paths["metrics"].write_text(
        json.dumps(json_safe(result.metrics), indent=1, allow_nan=False) + "\n", encoding="utf-8"
    )
    for name, png in images.items():
        (out / name).write_bytes(png)
        paths[name] = out / name
    paths["report"].write_text(render_html(result.metrics, images), encoding="utf-8")
    return paths
