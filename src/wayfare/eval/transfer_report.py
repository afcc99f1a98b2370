"""The report of ``wayfare eval --transfer``: metrics.json, transfer.png and report.html (transfer beside in-source)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from wayfare.eval.report import _figure, _png, json_safe

TRANSFER_NOTE = (
    "Held out: trained on every other source (each relabelled with the candidate's label on its own strong/weak pair; "
    "training rows sharing an 8-word shingle with the held-out source dropped) and scored on the held-out source's "
    "real pair. In-source: k-fold inside the one source. Choose by the mean held-out APGR: in-source numbers reward "
    "memorising one benchmark. APGR 0.5 = random routing; the oracle row is the most any router can reach on each "
    "source's prompts (the weak model exactly where it scores as well as the strong one)."
)


def _cell(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("apgr") is None:
        return "–"
    ci = entry.get("apgr_ci")
    if ci and ci[0] is not None and ci[1] is not None:
        return f"{entry['apgr']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"{entry['apgr']:.3f}"


def ranked(metrics: dict[str, Any]) -> list[str]:
    """Candidate names, best mean held-out APGR first."""
    cands = metrics["candidates"]
    return sorted(cands, key=lambda c: -(cands[c]["transfer_mean"]["apgr"] or 0.0))


def _point(entry: dict[str, Any] | None) -> str:
    return "–" if not entry or entry.get("apgr") is None else f"{entry['apgr']:.3f}"


def table_rows(
    metrics: dict[str, Any], part: str = "transfer", *, compact: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Rows of the transfer (``part="transfer"``) or in-source (``"in_source"``) table, best candidate first;
    ``compact`` shows a CI for the mean only (a terminal's width)."""
    sources = list(metrics["sources"])
    header = ["router / label", *sources, "mean"]
    cell = _point if compact else _cell
    rows = []
    for name in ranked(metrics):
        entry = metrics["candidates"][name]
        if part not in entry:
            continue
        rows.append([name, *(cell(entry[part].get(s)) for s in sources), _cell(entry[f"{part}_mean"])])
    oracle = [metrics["sources"][s].get("oracle_apgr") for s in sources]
    if rows and all(v is not None for v in oracle):  # the limit on the same prompts (metrics files before: none)
        rows.append(["oracle (the limit)", *(f"{v:.3f}" for v in oracle), f"{float(np.mean(oracle)):.3f}"])
    return header, rows


def _floor(current: float, lowest: float) -> float:
    """The y axis' lower end: a little under the lowest bar or CI (a multiple of 0.05), never under matplotlib's."""
    return float(max(current, np.floor((lowest - 0.05) / 0.05) * 0.05))


def plot_transfer(metrics: dict[str, Any]) -> bytes:
    """Held-out APGR per source (bars, 95% CI) for every candidate, best mean first."""
    sources = list(metrics["sources"])
    names = ranked(metrics)
    fig, ax = _figure(max(7.5, 2.5 + 0.65 * len(names)))  # room for every candidate's bars and name
    width = 0.8 / max(1, len(sources) + 1)
    xs = np.arange(len(names))
    lowest = 0.5
    for k, src in enumerate([*sources, "mean"]):
        vals, err_lo, err_hi = [], [], []
        for name in names:
            entry = metrics["candidates"][name]
            e = entry["transfer_mean"] if src == "mean" else entry["transfer"][src]
            v = e["apgr"] if e["apgr"] is not None else np.nan
            ci = e.get("apgr_ci") or [None, None]
            vals.append(v)
            if np.isfinite(v):
                lowest = min(lowest, v if ci[0] is None else ci[0])
            err_lo.append(v - ci[0] if ci[0] is not None else 0.0)
            err_hi.append(ci[1] - v if ci[1] is not None else 0.0)
        ax.bar(
            xs + (k - len(sources) / 2) * width,
            vals,
            width,
            yerr=[err_lo, err_hi],
            capsize=2,
            label=f"{src} held out" if src != "mean" else "mean over held-out sources",
            color="black" if src == "mean" else None,
            alpha=0.9 if src == "mean" else 0.75,
        )
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="random (0.5)")
    ax.set_xticks(xs)
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("APGR on the held-out source")
    ax.set_title("Leave-one-source-out transfer (95% bootstrap CIs)")
    ax.set_ylim(bottom=_floor(ax.get_ylim()[0], lowest))  # the differences that matter are a few hundredths
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _png(fig)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def sources_line(metrics: dict[str, Any]) -> str:
    return "; ".join(
        f"{name}: {s['n_prompts']} prompts, {s['strong']} vs {s['weak']}"
        + (f", each row counted {s['weight']}x in training" if s.get("weight", 1) != 1 else "")
        for name, s in metrics["sources"].items()
    )


def decontamination_line(metrics: dict[str, Any]) -> str:
    parts = []
    for held, d in metrics["decontamination"].items():
        dropped = {k: v for k, v in d["dropped_from_training"].items() if v}
        text = ", ".join(f"{v} of {k}" for k, v in dropped.items()) or "none"
        parts.append(f"holding out {held}: {text}")
    return "Training rows dropped for sharing an 8-word shingle with the held-out source: " + "; ".join(parts) + "."


def render_html(metrics: dict[str, Any], png: bytes) -> str:
    esc = html.escape
    transfer = _html_table(*table_rows(metrics, "transfer"))
    inside = table_rows(metrics, "in_source")
    inside_html = (
        f"<h2>In-source {metrics['folds']}-fold APGR (same candidates, for comparison)</h2>{_html_table(*inside)}"
        if inside[1]
        else ""
    )
    img = base64.b64encode(png).decode()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Wayfare transfer evaluation</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:0.92em}}td,th{{border:1px solid #ccc;padding:4px 8px}}
th{{background:#f4f4f4}}img{{max-width:100%}}.note{{color:#555;font-size:0.92em}}</style></head><body>
<h1>Wayfare transfer evaluation</h1>
<p><strong>Sources</strong>: {esc(sources_line(metrics))}.</p>
<h2>Held-out-source APGR (95% CI), best mean first</h2>
{transfer}
{inside_html}
<p class="note">{esc(TRANSFER_NOTE)}</p>
<p class="note">{esc(decontamination_line(metrics))}</p>
<figure><img alt="transfer.png" src="data:image/png;base64,{img}"><figcaption>transfer.png</figcaption></figure>
<p class="note">Wayfare {esc(str(metrics.get("wayfare_version", "")))}; embedder {esc(str(metrics.get("embedder")))};
{metrics["n_resamples"]} bootstrap resamples, seed {metrics["seed"]}. Full numbers: metrics.json next to this file.</p>
</body></html>
"""


def write_transfer_report(metrics: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = plot_transfer(metrics)
    paths = {"metrics": out / "metrics.json", "report": out / "report.html", "transfer.png": out / "transfer.png"}
    paths["metrics"].write_text(json.dumps(json_safe(metrics), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    paths["transfer.png"].write_bytes(png)
    paths["report"].write_text(render_html(metrics, png), encoding="utf-8")
    return paths
