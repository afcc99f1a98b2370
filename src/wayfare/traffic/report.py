"""The ``wayfare share`` report: ``share.json``, ``cost_quality.png``, ``share.png`` and ``report.html``."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import orjson

from wayfare.traffic.measure import ShareResult


def _num(x: Any) -> Any:
    if isinstance(x, float) and x != x:
        return None
    return x


def result_json(res: ShareResult) -> dict[str, Any]:
    s = res.settings
    routers = []
    for r in res.routers:
        entry: dict[str, Any] = {"name": r.name, "decision_ms_p50": r.decision_ms, "error": r.error}
        entry.update({k: _num(v) for k, v in r.metrics.items()})
        if r.curve is not None:
            entry["curve"] = {
                "strong_share": r.curve.share.tolist(),
                "quality": r.curve.quality.tolist(),
                "cost_per_request": None if r.curve.cost is None else r.curve.cost.tolist(),
            }
        routers.append(entry)
    tol, pm = s.tolerance, s.pass_mark
    return {
        "measured_on": (
            f"{res.estimate.n} prompts answered by {s.strong} (strong) and {s.weak} (weak), labelled by "
            + ", ".join(f"{k} ({v})" for k, v in sorted(res.estimate.methods.items()))
        ),
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.__dict__.items()},
        "routable_share": res.estimate.as_dict(),
        "quality": {
            "strong": sum(lab.strong_score for lab in res.labels) / len(res.labels),
            "weak": sum(lab.weak_score for lab in res.labels) / len(res.labels),
        },
        "break_even": res.breakeven.as_dict(),
        "routers": routers,
        "calls": {"paid": res.paid_calls, "cached": res.cached_calls, "seconds": res.seconds},
        "labels": [
            {
                "id": lab.prompt_id,
                "strong_score": lab.strong_score,
                "weak_score": lab.weak_score,
                "method": lab.method,
                "routable": lab.routable(tol, pm),
            }
            for lab in res.labels
        ],
    }


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def plot_cost_quality(res: ShareResult) -> bytes:
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in res.routers:
        if r.curve is None:
            continue
        x = r.curve.cost * 1000 if r.curve.cost is not None else r.curve.share
        ax.plot(x, r.curve.quality, label=r.name, linestyle="--" if r.decision_ms is None else "-")
    has_cost = any(r.curve is not None and r.curve.cost is not None for r in res.routers)
    ax.set_xlabel("USD per 1,000 requests" if has_cost else "share of requests to the strong model")
    ax.set_ylabel("mean quality (label score)")
    ax.set_title(f"Quality vs cost on {res.estimate.n} sampled prompts")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def plot_share(res: ShareResult) -> bytes:
    est, be = res.estimate, res.breakeven
    fig, ax = plt.subplots(figsize=(6.4, 1.9))
    ax.barh([0], [est.share], xerr=[[est.share - est.ci[0]], [est.ci[1] - est.share]], color="#4c72b0", capsize=6)
    if be.break_even_share == be.break_even_share and be.break_even_share <= 1:
        ax.axvline(be.break_even_share, color="#c44e52", linestyle="--", label=f"break-even {be.break_even_share:.1%}")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_yticks([])
    ax.set_xlabel("routable share (95% Wilson CI)")
    ax.set_title(f"{est.share:.1%} routable: {be.verdict}")
    return _png(fig)


def render_html(data: dict[str, Any], images: dict[str, bytes]) -> str:
    be, est = data["break_even"], data["routable_share"]
    rows = []
    for r in data["routers"]:

        def f(key: str, pct: bool = False, r: dict[str, Any] = r) -> str:
            v = r.get(key)
            if v is None:
                return "-"
            return f"{v:.1%}" if pct else f"{v:.3f}"

        rows.append(
            f"<tr><td>{html.escape(r['name'])}</td><td>{f('apgr')}</td><td>{f('strong_share_at_target', True)}</td>"
            f"<td>{f('cost_saved_at_target', True)}</td><td>{f('decision_ms_p50')}</td>"
            f"<td>{html.escape(r['error'] or '')}</td></tr>"
        )
    imgs = "".join(
        f'<p><img alt="{html.escape(n)}" src="data:image/png;base64,{base64.b64encode(b).decode()}"></p>'
        for n, b in images.items()
    )
    target = data["settings"]["quality_target"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Wayfare: routable share</title>
<style>body{{font-family:system-ui,sans-serif;max-width:860px;margin:2em auto}}td,th{{padding:2px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}.v{{font-size:1.15em;padding:.6em;background:#f3f3f3}}</style></head>
<body><h1>Does routing pay on this traffic?</h1>
<p class="v"><b>{html.escape(be["statement"])}</b></p>
<p>Measured on {html.escape(data["measured_on"])}.</p>
<p>Routable share: <b>{est["share"]:.1%}</b> (95% CI {est["ci95"][0]:.1%}-{est["ci95"][1]:.1%}; {est["routable"]}
of {est["n"]}). Both models wrong: {est["neither_share"]:.1%}; the weak model loses nothing on
{est["no_loss_share"]:.1%} (routable + both wrong). Price ratio weak/strong {be["price_ratio"]:.3f}; mean cost per
request strong ${be["cost_strong"]:.6g}, weak ${be["cost_weak"]:.6g}; router ${be["router_cost"]:.3g} per decision
({be["decision_ms"]:.2f} ms).</p>
{imgs}
<h2>Routers on this sample</h2>
<table><tr><th>router</th><th>APGR</th><th>strong share at {target:.0%} quality</th><th>cost saved there</th>
<th>decision ms (p50)</th><th>error</th></tr>{"".join(rows)}</table>
</body></html>"""


def write_report(res: ShareResult, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = result_json(res)
    images = {"cost_quality.png": plot_cost_quality(res), "share.png": plot_share(res)}
    paths = {"json": out / "share.json", "html": out / "report.html"}
    paths["json"].write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    for name, png in images.items():
        (out / name).write_bytes(png)
        paths[name] = out / name
    paths["html"].write_text(render_html(data, images), encoding="utf-8")
    return paths
