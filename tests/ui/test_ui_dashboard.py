"""The /ui dashboard in headless Chromium against a running gateway with real traffic from the mock upstream."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson

from wayfare.gateway.testing import GatewayStack

from .conftest import MASTER, Traffic, hash_score  # type: ignore[import-not-found]


def _page(browser: Any, stack: GatewayStack, path: str, login: bool = True) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: errors.append("off-host " + r.url) if not r.url.startswith(stack.url) else None)
    if login:
        page.goto(stack.url + "/ui/live")
        page.wait_for_selector("body[data-ready='1']")
        page.fill("#key", MASTER)
        page.click("#login-form button")
        page.wait_for_selector("#decisions")
    page.goto(stack.url + path)
    page.wait_for_selector("body[data-ready='1']")
    page.errors = errors
    return page


def test_login_is_required_and_wrong_keys_are_refused(browser: Any, gateway: tuple[GatewayStack, Traffic]) -> None:
    stack, _ = gateway
    assert httpx.get(stack.url + "/ui/api/decisions").status_code == 401
    page = _page(browser, stack, "/ui/live", login=False)
    assert page.is_visible("#login") and not page.is_visible("#decisions")
    page.fill("#key", "not-the-key")
    page.click("#login-form button")
    page.wait_for_selector("#login-error")
    assert "Wrong master key" in page.inner_text("#login-error")
    cookies = page.context.cookies()
    assert not any(c["name"] == "wayfare_ui" for c in cookies)
    page.fill("#key", MASTER)
    page.click("#login-form button")
    page.wait_for_selector("#decisions")
    cookie = next(c for c in page.context.cookies() if c["name"] == "wayfare_ui")
    assert cookie["httpOnly"] and MASTER not in cookie["value"]
    page.context.close()


def test_live_decisions_show_what_was_routed(browser: Any, gateway: tuple[GatewayStack, Traffic]) -> None:
    stack, traffic = gateway
    page = _page(browser, stack, "/ui/live")
    rows = page.query_selector_all("#decisions tbody tr")
    assert len(rows) == len(traffic.sent)
    header = [th.inner_text() for th in page.query_selector_all("#decisions thead th")]
    col = {h: i for i, h in enumerate(header)}
    newest_first = list(reversed(traffic.sent))
    for row, sent in zip(rows, newest_first, strict=True):
        cells = [td.inner_text() for td in row.query_selector_all("td")]
        assert cells[col["model"]] == sent["model"]
        if sent["model"] == "weak" and "direct" in sent["prompt"]:
            assert cells[col["route"]] == "(direct)"
            continue
        assert cells[col["route"]] == "auto"
        assert float(cells[col["score"]]) == round(hash_score(sent["prompt"]), 3)
        assert cells[col["model"]] == ("strong" if hash_score(sent["prompt"]) >= 0.5 else "weak")
        # the preview is redacted: the e-mail address never reaches the page
        assert cells[col["prompt"]].startswith(sent["prompt"].split(":")[0]) and "[email]" in cells[col["prompt"]]
        assert "jane@example.org" not in cells[col["prompt"]]
        saved = float(cells[col["saved"]].lstrip("$"))
        assert (saved > 0) == (sent["model"] == "weak")
    assert page.inner_text("#c-requests") == str(len(traffic.sent))
    # new traffic appears without a reload (the page refreshes itself)
    traffic.send("a fresh live question")
    page.wait_for_function("document.querySelector('#decisions tbody td.prompt').innerText.includes('fresh live')")
    assert page.errors == []
    page.context.close()


def test_share_and_spend_per_model_route_and_key(browser: Any, gateway: tuple[GatewayStack, Traffic]) -> None:
    stack, traffic = gateway
    for group in ("model", "route", "key"):
        page = _page(browser, stack, f"/ui/spend?group={group}")
        for chart in ("#chart-requests", "#chart-spend", "#chart-saved"):
            assert page.query_selector_all(chart + " rect"), chart
        rows = {
            r.query_selector_all("td")[0].inner_text(): [td.inner_text() for td in r.query_selector_all("td")]
            for r in page.query_selector_all("#totals tbody tr")
        }
        if group == "model":
            for model in ("strong", "weak"):
                assert int(rows[model][1]) == sum(1 for s in traffic.sent if s["model"] == model)
        elif group == "route":
            assert int(rows["auto"][1]) == sum(1 for s in traffic.sent if "direct" not in s["prompt"])
        else:
            assert len(rows) == 3  # two virtual keys and the master key
            per_key = Counter(s["key"] for s in traffic.sent)
            assert sorted(int(r[1]) for r in rows.values()) == sorted(per_key.values())
            assert not any(s["key"] in page.content() for s in traffic.sent)  # ids only, never secrets
        assert page.errors == []
        page.context.close()


def test_evaluation_curve_and_routable_share(browser: Any, gateway: tuple[GatewayStack, Traffic]) -> None:
    stack, _ = gateway
    page = _page(browser, stack, "/ui/eval")
    folder = stack.server.app.state.gateway.config.observability.eval_dir  # type: ignore[union-attr]
    data = orjson.loads(Path(folder, "share.json").read_bytes())
    assert page.inner_text("#routable-share") == f"{100 * data['routable_share']['share']:.1f}%"
    assert "1307 GSM8K prompts" in page.inner_text("#measured-on")
    assert {p.get_attribute("data-router") for p in page.query_selector_all("#curve path")} == {"random", "oracle"}
    assert page.errors == []
    page.context.close()


def test_threshold_what_if_and_apply(browser: Any, gateway: tuple[GatewayStack, Traffic]) -> None:
    stack, traffic = gateway
    page = _page(browser, stack, "/ui/whatif")
    scores = [hash_score(s["prompt"]) for s in traffic.sent if "direct" not in s["prompt"]]

    def move(t: float) -> None:
        page.eval_on_selector("#threshold", "(e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }", str(t))
        page.wait_for_function(f"document.querySelector('#threshold-value').innerText === '{t:.2f}'")
        page.wait_for_timeout(300)

    for t in (0.0, 0.3, 0.7):
        move(t)
        expected = sum(s >= t for s in scores) / len(scores)
        page.wait_for_function(f"document.querySelector('#p-share').innerText === '{100 * expected:.1f}%'")
    move(0.0)  # everything strong: full quality, nothing saved
    assert page.inner_text("#p-saved") == "0.0%"
    assert page.inner_text("#p-quality") == "100.0%"
    assert "1307 GSM8K prompts" in page.inner_text("#quality-note")
    move(0.7)
    assert float(page.inner_text("#p-quality").rstrip("%")) < 100
    page.click("#apply")
    page.wait_for_function("document.querySelector('#apply-status').innerText.includes('0.70')")
    assert page.inner_text("#current") == "0.70"
    r = traffic.send("after the threshold moved")
    assert r.headers["x-wayfare-threshold"] == "0.7"
    assert page.errors == []
    page.context.close()
    # only the admin may apply
    assert httpx.post(stack.url + "/ui/api/routes/auto/threshold", json={"threshold": 0.2}).status_code == 401
    bad = httpx.post(stack.url + "/ui/api/routes/auto/threshold", json={"threshold": 2},
                     headers={"authorization": f"Bearer {MASTER}"})  # fmt: skip
    assert bad.status_code == 400 and "threshold" in bad.json()["error"]["message"]
