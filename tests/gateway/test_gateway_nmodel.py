"""N-model routes: a fitted router's per-model predictions + a policy of wayfare.routers.policies pick the model."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import openai
import pytest

from wayfare.data import ResultsTable
from wayfare.gateway.config import ConfigError, parse_config
from wayfare.gateway.testing import GatewayStack
from wayfare.routers import make_router

# Known per-model scores (big, mid, small) of three prompts; the oracle router returns exactly these.
SCORES = {"easy one": [1.0, 1.0, 1.0], "medium one": [1.0, 0.98, 0.5], "hard one": [1.0, 0.5, 0.2]}

CONFIG = """
models:
  - {{name: big, model: up-big, base_url: {url}, input_price: 10, output_price: 30}}
  - {{name: mid, model: up-mid, base_url: {url}, input_price: 1, output_price: 2}}
  - {{name: small, model: up-small, base_url: {url}, input_price: 0.1, output_price: 0.2}}
  - {{name: other, model: up-other, base_url: {url}, input_price: 0.1, output_price: 0.2}}
routes:
  - {{name: pick, router: oracle3, models: [big, mid, small], policy: {{tolerance: 0.05}}}}
  - {{name: pick-lam, router: oracle3, models: [big, mid, small], policy: {{lam: 0.05}}}}
  - {{name: renamed, router: oracle3, models: [big, other], router_models: {{other: small}},
     policy: {{tolerance: 0.05}}}}
  - {{name: unknown-model, router: oracle3, models: [big, other], policy: {{tolerance: 0.05}}}}
  - {{name: pair-on-n, router: oracle3, strong: big, weak: small}}
database_url: none
"""


@pytest.fixture(scope="module")
def stack() -> Iterator[GatewayStack]:
    table = ResultsTable(
        name="three-models",
        prompt_ids=[f"p{i}" for i in range(len(SCORES))],
        prompts=list(SCORES),
        models=["big", "mid", "small"],
        scores=np.asarray(list(SCORES.values()), dtype=np.float64),
    )
    oracle = make_router("oracle").fit(table)
    with GatewayStack(CONFIG, routers={"oracle3": oracle}) as s:
        yield s


def _ask(stack: GatewayStack, route: str, prompt: str) -> tuple[str, dict[str, str]]:
    client = openai.OpenAI(base_url=stack.base_url, api_key="unused", max_retries=0, timeout=10)
    raw = client.chat.completions.with_raw_response.create(model=route, messages=[{"role": "user", "content": prompt}])
    resp = raw.parse()
    assert resp.model == raw.headers["x-wayfare-model"]
    return resp.model, dict(raw.headers)


@pytest.mark.parametrize(("prompt", "expected"), [("easy one", "small"), ("medium one", "mid"), ("hard one", "big")])
def test_tolerance_policy_picks_the_cheapest_model_within_tolerance(
    stack: GatewayStack, prompt: str, expected: str
) -> None:
    model, headers = _ask(stack, "pick", prompt)
    assert model == expected
    assert float(headers["x-wayfare-score"]) == pytest.approx(SCORES[prompt][["big", "mid", "small"].index(expected)])
    assert headers["x-wayfare-threshold"] == "0.05" and headers["x-wayfare-reason"] == "router"
    record = next(r for r in stack.sink.records if r.request_id == headers["x-wayfare-request-id"])
    assert record.candidates == ["big", "mid", "small"] and record.chosen_model == expected
    # counterfactual: the same tokens at the most expensive candidate (big)
    assert record.counterfactual_cost_usd == pytest.approx((record.input_tokens * 10 + record.output_tokens * 30) / 1e6)
    assert float(headers["x-wayfare-saved-usd"]) == pytest.approx(record.counterfactual_cost_usd - record.cost_usd)


def test_tradeoff_policy_weighs_price(stack: GatewayStack) -> None:
    # utility = score - 0.05 * mean price: big 1 - 1.0 = 0, mid 0.5 - 0.075, small 0.2 - 0.0075 -> mid
    assert _ask(stack, "pick-lam", "hard one")[0] == "mid"
    assert _ask(stack, "pick-lam", "easy one")[0] == "small"


def test_router_names_are_mapped_to_served_models(stack: GatewayStack) -> None:
    assert _ask(stack, "renamed", "easy one")[0] == "other"
    assert _ask(stack, "renamed", "hard one")[0] == "big"


def test_routes_the_router_cannot_serve_answer_with_the_first_model_and_say_why(stack: GatewayStack) -> None:
    routes = httpx.get(stack.url + "/ready").json()["routes"]
    assert routes["pick"] == "ok"
    assert "does not know other" in routes["unknown-model"]
    assert "not a pair router" in routes["pair-on-n"]
    model, headers = _ask(stack, "unknown-model", "easy one")
    assert model == "big" and headers["x-wayfare-reason"] == "router_error"


def test_models_endpoint_lists_n_model_candidates(stack: GatewayStack) -> None:
    data = {m["id"]: m for m in httpx.get(stack.base_url + "/models").json()["data"]}
    assert data["pick"]["candidates"] == ["big", "mid", "small"]


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ("{name: r, models: [a], policy: {tolerance: 0.1}}", "at least two distinct models"),
        ("{name: r, models: [a, b]}", "needs policy"),
        ("{name: r, models: [a, b], policy: {threshold: 0.1}}", "needs policy"),
        ("{name: r, models: [a, c], policy: {lam: 1}}", "models: 'c' is not a configured model"),
        ("{name: r, models: [a, b], router_models: {c: x}, policy: {lam: 1}}", "not candidates: c"),
        ("{name: r, strong: a, weak: b, policy: {lam: 1}}", "N-model routes only"),
    ],
)
def test_bad_n_model_routes_are_config_errors(route: str, message: str) -> None:
    text = (
        "models:\n  - {name: a, base_url: 'http://127.0.0.1:1/v1'}\n  - {name: b, base_url: 'http://127.0.0.1:1/v1'}\n"
        f"routes:\n  - {route}\n"
    )
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(text, "w.yaml")
    assert str(info.value).startswith("w.yaml:")
