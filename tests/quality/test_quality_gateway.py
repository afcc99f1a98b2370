"""A quality-target route through a real gateway and mock upstream: the certificate it applies is in the response
headers, the request log and /metrics, and the threshold it serves is the certified one."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from wayfare.gateway.config import GatewayConfig, parse_config
from wayfare.gateway.reqlog import open_sink
from wayfare.gateway.testing import GatewayStack
from wayfare.store import open_store

ROUTE = "auto"


def config(db: str) -> Callable[[str], GatewayConfig]:
    def make(url: str) -> GatewayConfig:
        return parse_config(f"""
models:
  - {{name: big, model: up-big, base_url: {url}, input_price: 10, output_price: 30}}
  - {{name: small, model: up-small, base_url: {url}, input_price: 0.5, output_price: 1.5}}
routes:
  - name: {ROUTE}
    router: random
    strong: big
    weak: small
    session_affinity: false
    shadow: {{sample: 0.0}}
    quality: {{min_labels: 100, recheck_every: 50, period_seconds: 0.2}}
database_url: {db}
registry_poll_seconds: 0
""")

    return make


def test_headers_log_and_metrics_carry_the_certificate(tmp_path: Path, seed: Callable[..., None]) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"
    seed(db, 1500)  # the route's labelled shadow pairs, already in the store
    with GatewayStack(config(db), sink=open_sink(db)) as stack:
        gw = stack.server.app.state.gateway  # type: ignore[union-attr]
        deadline = time.monotonic() + 30
        while gw.router.quality[ROUTE].state != "certified":
            assert time.monotonic() < deadline, gw.router.quality[ROUTE]
            time.sleep(0.05)
        rq = gw.router.quality[ROUTE]
        models = set()
        for i in range(40):
            body = {"model": ROUTE, "messages": [{"role": "user", "content": f"question {i}"}]}
            resp = httpx.post(stack.base_url + "/chat/completions", json=body, timeout=30)
            assert resp.status_code == 200
            assert resp.headers["x-wayfare-certificate"] == rq.certificate_id
            assert float(resp.headers["x-wayfare-threshold"]) == pytest.approx(rq.threshold, rel=1e-9)
            score = float(resp.headers["x-wayfare-score"])
            assert resp.headers["x-wayfare-model"] == ("big" if score >= rq.threshold else "small")
            models.add(resp.headers["x-wayfare-model"])
        assert models == {"big", "small"}  # the certified threshold routes some traffic to the weak model
        families = {f.name: f for f in text_string_to_metric_families(httpx.get(stack.url + "/metrics").text)}
        bound = [s.value for s in families["wayfare_quality_certified_bound"].samples if s.labels["route"] == ROUTE]
        assert bound == [rq.bound]
        state = {s.labels["state"]: s.value for s in families["wayfare_quality_state"].samples}
        assert state == {"learning": 0.0, "certified": 1.0, "backed-off": 0.0}
        view = httpx.get(stack.url + "/ui/api/quality").json()["routes"]  # the dashboard's data
        assert [v["route"] for v in view] == [ROUTE] and view[0]["current"]["certificate"] == rq.certificate_id
        assert (
            view[0]["history"][-1]["state"] == "certified"
            and view[0]["history"][-1]["certificate_id"] == rq.certificate_id
        )
        assert 0.0 < view[0]["saving"]["saving"] < 1.0
    store = open_store(db)
    logged = [r for r in store.query(limit=1000) if r.request_id.startswith("wf-")]
    store.close()
    assert len(logged) == 40 and {r.metadata["certificate"] for r in logged} == {rq.certificate_id}
