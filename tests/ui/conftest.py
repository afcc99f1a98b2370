"""A running gateway (mock upstream, master key, virtual keys, real traffic) and headless Chromium for the /ui tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from wayfare.gateway.routing import HashScorer
from wayfare.gateway.testing import GatewayStack
from wayfare.ui.demo import write_demo_eval

MASTER = "mk-ui-test-master-0123456789"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

CONFIG = """
models:
  - {{name: strong, model: up-strong, base_url: {url}, input_price: 10, output_price: 30}}
  - {{name: weak, model: up-weak, base_url: {url}, input_price: 0.5, output_price: 1.5}}
routes:
  - {{name: auto, router: random, strong: strong, weak: weak, threshold: 0.5}}
database_url: sqlite:///{db}
observability: {{eval_dir: {eval_dir}, timeline_bucket_s: 2}}
"""


class Traffic:
    """What was sent, to compare with what the pages show."""

    def __init__(self, stack: GatewayStack) -> None:
        self.stack = stack
        self.sent: list[dict[str, Any]] = []

    def send(self, prompt: str, key: str = MASTER, model: str = "auto") -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
        r = httpx.post(self.stack.base_url + "/chat/completions", headers={"authorization": f"Bearer {key}"}, json=body)
        assert r.status_code == 200, r.text
        self.sent.append({"prompt": prompt, "model": r.headers["x-wayfare-model"], "key": key})
        return r


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayStack, Traffic]]:
    tmp = tmp_path_factory.mktemp("ui")
    eval_dir = write_demo_eval(tmp / "eval")
    old = os.environ.get("WAYFARE_MASTER_KEY")
    os.environ["WAYFARE_MASTER_KEY"] = MASTER  # read once, when the gateway starts
    try:
        s = GatewayStack(CONFIG.replace("{db}", str(tmp / "w.db")).replace("{eval_dir}", str(eval_dir))).start()
    finally:  # so that tests run after these do not inherit the key
        if old is None:
            os.environ.pop("WAYFARE_MASTER_KEY", None)
        else:
            os.environ["WAYFARE_MASTER_KEY"] = old
    try:
        traffic = Traffic(s)
        admin = {"authorization": f"Bearer {MASTER}"}
        keys = [httpx.post(s.url + "/admin/keys", headers=admin, json={"metadata": {"team": t}}).json()["key"]
                for t in ("search", "support")]  # fmt: skip
        for i in range(16):
            traffic.send(f"ui question {i}: what is {i} + {i}? reply to jane@example.org", key=keys[i % 2])
        traffic.send("direct to the weak model", model="weak")
        yield s, traffic
    finally:
        s.stop()


@pytest.fixture(scope="module")  # closed after each module: Playwright's sync API keeps an event loop running
def browser() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium chromium-driver)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the driver only)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def hash_score(prompt: str) -> float:
    return HashScorer().score([prompt])[0]
