"""One run per source of the quality-target loop through the real gateway, checked against its offline twin.

`bench/quality_slo.py` drives the controller offline on recorded labels; this runs a stream through `wayfare
serve`'s app on 127.0.0.1 with the whole loop inside the gateway: a replay upstream answers each prompt with the
model's recorded response (GSM8K: RouteLLM's CSV; arena-bench-v1: its model_answer files; MMLU, which records only
correctness, with a placeholder text), the route (`router: default`, `shadow: {sample}`, `quality: {0.95, 0.1,
judge: judge}`) routes and shadows each request, and the gateway's own judge calls (pairwise, both orders) reach a
replay judge that returns the recorded outcome (the better recorded score wins, equal scores tie). The gateway's
runner labels and certifies on its own schedule. At the end the offline twin replays the same stored labels, with
the router scores computed offline, through the controller: the two must reach the same certificate and threshold,
and the scores the gateway logged must equal the offline scores.

Run: cd bench && ../.venv/bin/python quality_e2e.py [--length 1500] [--shadow 0.5]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from quality_slo import SHARED, Source, source
from wayfare.data import load_benchmark, load_table
from wayfare.gateway.app import create_app
from wayfare.gateway.config import GatewayConfig, parse_config
from wayfare.mockllm.runner import ThreadedServer
from wayfare.quality.runner import replay
from wayfare.quality.store import labelled_pairs
from wayfare.traffic.label import unlabelled_pairs
from wayfare.traffic.replay import replay_app, routellm_answers

ROUTE = "q"


GPT4, MIXTRAL = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"
_JUDGED = re.compile(
    r"\[Question\]\n(.*)\n\n\[Answer A\]\n(.*)\n\[End of answer A\]\n\n\[Answer B\]\n(.*)\n\[End", re.S
)


def recorded_answers(name: str, prompts: list[str]) -> dict[str, dict[str, str]]:
    """``{model: {prompt: recorded response}}`` for the pair; a placeholder where a source records no text."""
    out: dict[str, dict[str, str]] = {GPT4: {}, MIXTRAL: {}}
    if name == "gsm8k":
        out = {m: dict(v) for m, v in routellm_answers(SHARED / "routellm" / "gsm8k" / "gsm8k_responses.csv").items()}
    elif name == "arena-bench-v1":
        root = SHARED / "chat" / "arena-bench-v1"
        text = {q["question_id"]: q["turns"][0] for q in map(json.loads, (root / "question.jsonl").open())}
        for model, file in ((GPT4, "gpt-4-1106-preview"), (MIXTRAL, "Mixtral-8x7B-Instruct-v0.1")):
            for row in map(json.loads, (root / "model_answer" / f"{file}.jsonl").open()):
                turn = row["choices"][0]["turns"][0]
                out[model][text[row["question_id"]]] = turn["content"] if isinstance(turn, dict) else turn
    for model in (GPT4, MIXTRAL):  # MMLU, and any prompt without a recorded text
        for p in prompts:
            out[model].setdefault(p, f"[{model}'s answer: {name} records only whether it was correct]")
    return out


def judge_for(src: Source, by_text: dict[str, int], answers: dict[str, dict[str, str]]) -> Any:
    """A judge that returns the recorded outcome: the answer of the model with the higher recorded score wins."""

    def judge(body: dict[str, Any]) -> str:
        m = _JUDGED.search(body["messages"][-1]["content"])
        if m is None or m.group(1) not in by_text:
            return "[[TIE]]"
        i = by_text[m.group(1)]
        score = {answers[GPT4][m.group(1)]: src.strong[i], answers[MIXTRAL][m.group(1)]: src.weak[i]}
        a, b = score.get(m.group(2), 0.0), score.get(m.group(3), 0.0)
        return "[[A]]" if a > b else "[[B]]" if b > a else "[[TIE]]"

    return judge


def gateway_config(db: str, shadow: float) -> Any:
    def make(url: str) -> GatewayConfig:
        return parse_config(f"""
models:
  - {{name: strong, model: {GPT4}, base_url: {url}/v1, input_price: 10, output_price: 30}}
  - {{name: weak, model: {MIXTRAL}, base_url: {url}/v1, input_price: 0.6, output_price: 0.6}}
  - {{name: judge, base_url: {url}/v1}}
routes:
  - name: {ROUTE}
    router: default
    strong: strong
    weak: weak
    session_affinity: false
    shadow: {{sample: {shadow}, max_concurrency: 64}}
    quality: {{quality_target: 0.95, risk: 0.1, min_labels: 200, recheck_every: 100, period_seconds: 0.5,
              judge: judge, label_batch: 1000}}
database_url: {db}
registry_poll_seconds: 0
""")

    return make


def run(name: str, src: Source, prompts: list[str], length: int, shadow: float, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(prompts), length)
    by_text = {prompts[i]: i for i in range(len(prompts))}
    answers = recorded_answers(name, prompts)
    with (
        tempfile.TemporaryDirectory() as tmp,
        ThreadedServer(replay_app(answers, judges={"judge": judge_for(src, by_text, answers)})) as upstream,
    ):
        db = f"sqlite:///{Path(tmp) / 'w.db'}"
        served, strong_q, certs = [], [], []
        app = create_app(gateway_config(db, shadow)(upstream.url))
        with ThreadedServer(app) as server, httpx.Client(base_url=server.url + "/v1", timeout=60) as client:
            gw = app.state.gateway
            engine = gw.sink.store.engine
            for i in rows.tolist():
                body = {"model": ROUTE, "messages": [{"role": "user", "content": prompts[i]}]}
                resp = client.post("/chat/completions", json=body)
                resp.raise_for_status()
                model = resp.headers["x-wayfare-model"]
                served.append(src.strong[i] if model == "strong" else src.weak[i])
                strong_q.append(src.strong[i])
                certs.append(resp.headers.get("x-wayfare-certificate", ""))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and (gw.shadow.in_flight() or unlabelled_pairs(engine, ROUTE)):
                time.sleep(0.2)  # the shadow calls finish, then the gateway's judge labels every pair
            time.sleep(1.2)  # one more runner period over the last labels
            gw_decision = gw.router.quality[ROUTE]
            evidence = labelled_pairs(engine, ROUTE)
            cfg = next(r for r in gw.config.routes if r.name == ROUTE).quality
            judged = gw.quality.labelled
        ids_text = logged_prompts(db, evidence.request_ids)
        offline_scores = np.asarray([src.scores[by_text[ids_text[r]]] for r in evidence.request_ids])
        twin = replay(cfg, ROUTE, type(evidence)(evidence.request_ids, offline_scores, evidence.strong, evidence.weak))
    first = next((k for k, c in enumerate(certs) if c.startswith(ROUTE + "-c")), None)
    after = slice(first, None) if first is not None else slice(0, 0)
    realised = float(np.sum(served[after]) / np.sum(strong_q[after])) if first is not None else None
    t_twin = twin.decision.threshold if twin.decision.threshold is not None else 0.0
    return {
        "source": name,
        "requests": length,
        "labels (judged by the gateway)": f"{len(evidence)} ({judged})",
        "gateway": f"{gw_decision.state} {gw_decision.certificate_id} t={gw_decision.threshold:.5f}",
        "offline twin": f"{twin.decision.state} {twin.decision.certificate_id} t={t_twin:.5f}",
        # the logged scores come from single-prompt float32 embeddings, the twin's from a batch: equal to ~1e-7,
        # so the thresholds (score quantiles) agree to that precision, and route every labelled prompt the same way
        "agree": gw_decision.state == twin.decision.state
        and gw_decision.certificate_id == twin.decision.certificate_id
        and abs(gw_decision.threshold - t_twin) < 1e-6
        and bool(np.array_equal(evidence.scores >= gw_decision.threshold, offline_scores >= t_twin)),
        "max |logged - offline score|": float(np.max(np.abs(evidence.scores - offline_scores))) if len(evidence) else 0,
        "first certificate at request": first,
        "realised after it (recorded scores)": realised,
    }


def logged_prompts(db: str, request_ids: list[str]) -> dict[str, str]:
    from wayfare.routers.messages import prompt_text
    from wayfare.store.tables import shadow_pairs

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
