"""One run per source of the quality-target loop through the real gateway, checked against its offline twin.

`bench/quality_slo.py` drives the controller offline on recorded labels; this runs the same kind of stream through
`wayfare serve`'s app on 127.0.0.1: a mock upstream answers, the route (`router: default`, `shadow: {sample}`,
`quality: {0.95, 0.1}`) routes and shadows each request, and a labelling step stands in for the judge, writing each
new shadow pair's recorded strong and weak scores into the store (`wayfare.traffic.label.store_labels`) every 50
requests. The gateway's quality runner certifies from the store on its own schedule. At the end the offline twin
replays the same stored labels, with the router scores computed offline, through the controller: the two must
reach the same certificate and threshold, and the scores the gateway logged must equal the offline scores.

Run: .venv/bin/python bench/quality_e2e.py [--length 1500] [--shadow 0.5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from quality_slo import SHARED, Source, source
from wayfare.data import load_benchmark, load_table
from wayfare.gateway.config import GatewayConfig, parse_config
from wayfare.gateway.reqlog import open_sink
from wayfare.gateway.testing import GatewayStack
from wayfare.quality.runner import replay
from wayfare.quality.store import labelled_pairs
from wayfare.traffic.label import store_labels, unlabelled_pairs
from wayfare.traffic.labels import Label

ROUTE = "q"


def gateway_config(db: str, shadow: float) -> object:
    def make(url: str) -> GatewayConfig:
        return parse_config(f"""
models:
  - {{name: strong, model: up-strong, base_url: {url}, input_price: 10, output_price: 30}}
  - {{name: weak, model: up-weak, base_url: {url}, input_price: 0.6, output_price: 0.6}}
routes:
  - name: {ROUTE}
    router: default
    strong: strong
    weak: weak
    session_affinity: false
    shadow: {{sample: {shadow}, max_concurrency: 64}}
    quality: {{quality_target: 0.95, risk: 0.1, min_labels: 200, recheck_every: 100, period_seconds: 0.5}}
database_url: {db}
registry_poll_seconds: 0
""")

    return make


def run(name: str, src: Source, prompts: list[str], length: int, shadow: float, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(prompts), length)
    by_text = {prompts[i]: i for i in range(len(prompts))}
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'w.db'}"
        served, strong_q, certs = [], [], []
        with GatewayStack(gateway_config(db, shadow), sink=open_sink(db)) as stack:
            gw = stack.server.app.state.gateway  # type: ignore[union-attr]
            engine = gw.sink.store.engine
            with httpx.Client(base_url=stack.base_url, timeout=60) as client:
                for k, i in enumerate(rows.tolist()):
                    body = {"model": ROUTE, "messages": [{"role": "user", "content": prompts[i]}]}
                    resp = client.post("/chat/completions", json=body)
                    resp.raise_for_status()
                    model = resp.headers["x-wayfare-model"]
                    served.append(src.strong[i] if model == "strong" else src.weak[i])
                    strong_q.append(src.strong[i])
                    certs.append(resp.headers.get("x-wayfare-certificate", ""))
                    if (k + 1) % 50 == 0:
                        label_new(engine, src, by_text, gw)
            deadline = time.monotonic() + 30
            while gw.shadow.in_flight() and time.monotonic() < deadline:
                time.sleep(0.05)
            label_new(engine, src, by_text, gw)
            time.sleep(1.2)  # one more runner period over the last labels
            gw_decision = gw.router.quality[ROUTE]
            evidence = labelled_pairs(engine, ROUTE)
            cfg = next(r for r in gw.config.routes if r.name == ROUTE).quality
        ids_text = logged_prompts(db, evidence.request_ids)
        offline_scores = np.asarray([src.scores[by_text[ids_text[r]]] for r in evidence.request_ids])
        twin = replay(cfg, ROUTE, type(evidence)(evidence.request_ids, offline_scores, evidence.strong, evidence.weak))
    first = next((k for k, c in enumerate(certs) if c.startswith(ROUTE + "-c")), None)
    after = slice(first, None) if first is not None else slice(0, 0)
    realised = float(np.sum(served[after]) / np.sum(strong_q[after])) if first is not None else None
    return {
        "source": name,
        "requests": length,
        "labels": len(evidence),
        "gateway": f"{gw_decision.state} {gw_decision.certificate_id} t={gw_decision.threshold:.5f}",
        "offline twin": f"{twin.decision.state} {twin.decision.certificate_id} "
        f"t={(twin.decision.threshold if twin.decision.threshold is not None else 0.0):.5f}",
        # the logged scores come from single-prompt float32 embeddings, the twin's from a batch: equal to ~1e-7,
        # so the thresholds (score quantiles) agree to that precision, and route every labelled prompt the same way
        "agree": gw_decision.state == twin.decision.state
        and gw_decision.certificate_id == twin.decision.certificate_id
        and abs(gw_decision.threshold - (twin.decision.threshold or 0.0)) < 1e-6
        and bool(
            np.array_equal(evidence.scores >= gw_decision.threshold, offline_scores >= (twin.decision.threshold or 0))
        ),
        "max |logged - offline score|": float(np.max(np.abs(evidence.scores - offline_scores))) if len(evidence) else 0,
        "first certificate at request": first,
        "realised after it": realised,
    }


def label_new(engine: sa.Engine, src: Source, by_text: dict[str, int], gw: object) -> None:
    """The stand-in judge: the recorded scores of each new shadow pair's prompt."""
    labels = []
    for pair in unlabelled_pairs(engine, ROUTE):
        i = by_text[pair.prompt]
        labels.append(Label(pair.request_id, float(src.strong[i]), float(src.weak[i]), "recorded"))
    store_labels(engine, labels)


def logged_prompts(db: str, request_ids: list[str]) -> dict[str, str]:
    from wayfare.gateway.routing import prompt_text
    from wayfare.traffic.schema import shadow_pairs

    engine = sa.create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(shadow_pairs.c.request_id, shadow_pairs.c.messages)).all()
    engine.dispose()
    return {r.request_id: prompt_text(list(r.messages), "last_user") for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--length", type=int, default=1500)
    ap.add_argument("--shadow", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    tables = {"mmlu": load_benchmark("mmlu"), "gsm8k": load_benchmark("gsm8k")}
    arena = SHARED / "chat" / "arena-bench-v1"
    if arena.is_dir():
        tables["arena-bench-v1"] = load_table(arena, "arena-hard")
    results = []
    for name, table in tables.items():
        src = source(name, table)
        pair = table.pair("gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1").dropna()
        start = time.perf_counter()
        res = run(name, src, pair.prompts, args.length, args.shadow, args.seed)
        res["seconds"] = round(time.perf_counter() - start, 1)
        results.append(res)
    title = f"quality target end to end vs offline twin ({args.length} requests, {args.shadow:.0%} shadowed)"
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for r in results:
        table.add_column(str(r["source"]))
    for key in list(results[0])[1:]:
        table.add_row(key, *(f"{r[key]:.6g}" if isinstance(r[key], float) else str(r[key]) for r in results))
    Console().print(table)


if __name__ == "__main__":
    main()
