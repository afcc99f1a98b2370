"""The dashboard's "Quality target" page in headless Chromium: a route's state, certificate, bound chart and
decision history, read from a real store the gateway's controller wrote."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from wayfare.gateway.config import GatewayConfig, parse_config
from wayfare.gateway.reqlog import open_sink
from wayfare.gateway.testing import GatewayStack
from wayfare.quality.testing import seed_labels


def config(db: str) -> Any:
    def make(url: str) -> GatewayConfig:
        return parse_config(f"""
models:
  - {{name: big, model: up-big, base_url: {url}, input_price: 10, output_price: 30}}
  - {{name: small, model: up-small, base_url: {url}, input_price: 0.5, output_price: 1.5}}
routes:
  - name: auto
    router: random
    strong: big
    weak: small
    shadow: {{sample: 0.0}}
    quality: {{min_labels: 100, period_seconds: 0.2}}
database_url: {db}
registry_poll_seconds: 0
""")

    return make


def test_quality_page_shows_the_certificate_and_its_history(
    browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WAYFARE_MASTER_KEY", raising=False)  # an open, read-only dashboard
    db = f"sqlite:///{tmp_path / 'w.db'}"
    seed_labels(db, 1500)
    with GatewayStack(config(db), sink=open_sink(db)) as stack:
        gw = stack.server.app.state.gateway  # type: ignore[union-attr]
        deadline = time.monotonic() + 30
        while gw.router.quality["auto"].state != "certified":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        rq = gw.router.quality["auto"]
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(stack.url + "/ui/quality")
        page.wait_for_selector("body[data-ready='1']")
        assert page.inner_text("#state-auto") == "certified"
        section = page.inner_text("#quality-auto")
        assert str(rq.certificate_id) in section and "keep 95.0% of big's quality" in section
        assert page.query_selector("#bound-auto path") is not None  # the bound over time
        assert "certified on" in page.inner_text("#decisions-auto")
        assert errors == []
        page.context.close()
