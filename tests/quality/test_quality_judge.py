"""A quality route that labels its own evidence: the gateway asks the route's judge model about each new shadow pair
(RouteLLM's recorded GSM8K answers replayed by a real HTTP upstream; the judge prefers the answer whose last number
matches the gold one), stores the labels and certifies from them, with no `wayfare label` run."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from wayfare.gateway.app import create_app
from wayfare.gateway.config import parse_config
from wayfare.mockllm.runner import ThreadedServer
from wayfare.store.tables import shadow_pairs
from wayfare.traffic.labels import numeric_match
from wayfare.traffic.prompts import load_prompts
from wayfare.traffic.replay import replay_app, routellm_answers, write_routellm_prompts

SHARED = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
GSM8K_CSV = SHARED / "routellm" / "gsm8k" / "gsm8k_responses.csv"
STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"
_JUDGED = re.compile(
    r"\[Question\]\n(.*)\n\n\[Answer A\]\n(.*)\n\[End of answer A\]\n\n\[Answer B\]\n(.*)\n\[End", re.S
)


@pytest.mark.skipif(not GSM8K_CSV.is_file(), reason=f"RouteLLM GSM8K responses not found at {GSM8K_CSV}")
def test_the_route_labels_its_shadow_pairs_with_its_judge_and_certifies(tmp_path: Path) -> None:
    write_routellm_prompts(GSM8K_CSV, tmp_path / "prompts.jsonl", STRONG, WEAK)
    rows = load_prompts(tmp_path / "prompts.jsonl")
    gold = {r.text: r.reference for r in rows}
    prompts = list(dict.fromkeys(r.text for r in rows))[:400]

    def judge(body: dict[str, Any]) -> str:
        m = _JUDGED.search(body["messages"][-1]["content"])
        assert m is not None
        ref = gold.get(m.group(1))
        a, b = numeric_match(m.group(2), ref or ""), numeric_match(m.group(3), ref or "")
        return "[[A]]" if a > b else "[[B]]" if b > a else "[[TIE]]"

    db = f"sqlite:///{tmp_path / 'w.db'}"
    with ThreadedServer(replay_app(routellm_answers(GSM8K_CSV), judges={"judge": judge})) as upstream:
        config = parse_config(f"""models:
  - {{name: {STRONG}, base_url: {upstream.url}/v1, input_price: 10, output_price: 30}}
  - {{name: {WEAK}, base_url: {upstream.url}/v1, input_price: 0.6, output_price: 0.6}}
  - {{name: judge, base_url: {upstream.url}/v1}}
routes:
  - name: gsm8k
    router: random
    strong: {STRONG}
    weak: {WEAK}
    session_affinity: false
    shadow: {{sample: 1.0, max_concurrency: 64}}
    quality: {{judge: judge, min_labels: 100, recheck_every: 50, period_seconds: 0.3, label_batch: 500}}
database_url: {db}
registry_poll_seconds: 0
""")
        app = create_app(config)
        with ThreadedServer(app) as gateway, httpx.Client(base_url=gateway.url, timeout=60) as client:
            for p in prompts:
                body = {"model": "gsm8k", "messages": [{"role": "user", "content": p}]}
                assert client.post("/v1/chat/completions", json=body).status_code == 200
            gw = app.state.gateway
            deadline = time.monotonic() + 60
            while gw.quality.labelled < len(prompts) or gw.router.quality["gsm8k"].labels < 100:
                assert time.monotonic() < deadline, (gw.quality.labelled, gw.router.quality["gsm8k"], gw.quality.errors)
                time.sleep(0.1)
            rq = gw.router.quality["gsm8k"]
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        methods = dict(
            conn.execute(
                sa.select(shadow_pairs.c.label_method, sa.func.count()).group_by(shadow_pairs.c.label_method)
            ).all()
        )
    engine.dispose()
    assert methods == {"judge": len(prompts)}  # every shadow pair labelled by the route's judge, none left
    assert rq.state in ("learning", "certified") and rq.labels >= 100
