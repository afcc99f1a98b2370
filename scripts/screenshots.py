"""Write a PNG of each dashboard page to docs/img/: a gateway with the mock upstream, real routed traffic over a
few seconds (random baseline router, two virtual keys), the demo evaluation folder, headless Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/img] [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from wayfare.gateway.testing import GatewayStack
from wayfare.ui.demo import write_demo_eval

MASTER = "mk-screenshots-0123456789"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
CONFIG = """
models:
  - {{name: gpt-4o, model: up-strong, base_url: {url}, input_price: 2.5, output_price: 10}}
  - {{name: gpt-4o-mini, model: up-weak, base_url: {url}, input_price: 0.15, output_price: 0.6}}
routes:
  - {{name: auto, router: random, strong: gpt-4o, weak: gpt-4o-mini, threshold: 0.5}}
database_url: sqlite:///{db}
observability: {{eval_dir: {eval_dir}, timeline_bucket_s: 1}}
"""
PROMPTS = [
    "Summarise this support ticket in one line: printer offline since Monday, call me at 555-123-4567",
    "Prove that the square root of 2 is irrational.",
    "Translate 'good morning' into French.",
    "Write a SQL query for the top 5 customers by revenue in 2024.",
    "What is the capital of Australia?",
    "Explain the difference between TCP and UDP to a new engineer.",
    "Draft a polite reply to anna.k@example.com declining the meeting.",
    "Derive the gradient of softmax cross-entropy.",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/img")
    ap.add_argument("--seconds", type=float, default=8.0)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["WAYFARE_MASTER_KEY"] = MASTER
    with tempfile.TemporaryDirectory() as tmp:
        cfg = CONFIG.replace("{db}", f"{tmp}/w.db").replace("{eval_dir}", str(write_demo_eval(f"{tmp}/eval")))
        with GatewayStack(cfg) as s:
            admin = {"authorization": f"Bearer {MASTER}"}
            keys = [httpx.post(s.url + "/admin/keys", headers=admin, json={"metadata": {"team": t}}).json()["key"]
                    for t in ("search", "support", "analytics")]  # fmt: skip
            end, i = time.monotonic() + a.seconds, 0
            while time.monotonic() < end:
                body = {"model": "auto", "messages": [{"role": "user", "content": f"{PROMPTS[i % len(PROMPTS)]} #{i}"}]}
                httpx.post(s.base_url + "/chat/completions", json=body,
                           headers={"authorization": f"Bearer {keys[i % 3]}"})  # fmt: skip
                i += 1
                time.sleep(0.05)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(s.url + "/ui/live")
                page.wait_for_selector("#key")
                page.fill("#key", MASTER)
                page.click("#login-form button")
                page.wait_for_selector("#decisions")
                for name, path in (("live", "/ui/live"), ("spend", "/ui/spend?group=key"), ("eval", "/ui/eval"),
                                   ("whatif", "/ui/whatif")):  # fmt: skip
                    page.goto(s.url + path)
                    page.wait_for_selector("body[data-ready='1']")
                    if name == "whatif":
                        page.eval_on_selector(
                            "#threshold", "e => { e.value = 0.35; e.dispatchEvent(new Event('input')); }"
                        )
                        page.wait_for_timeout(400)
                    page.screenshot(path=str(out / f"ui-{name}.png"), full_page=True)
                    print(f"wrote {out / f'ui-{name}.png'} ({i} requests sent)")
                browser.close()


if __name__ == "__main__":
    main()
