"""Routing on the request path: route names, router-<name>-<threshold>, headers, session affinity, pinning,
router failures, counterfactual cost."""

from __future__ import annotations

import httpx
import openai
import pytest

from wayfare.gateway.routing import HashScorer
from wayfare.gateway.testing import GatewayStack


def _sdk(stack: GatewayStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key="sk-test", max_retries=0, timeout=20)


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _prompts_by_side(n: int = 40) -> tuple[list[str], list[str]]:
    """Prompts the random baseline scores >= 0.5 (strong) and < 0.5 (weak)."""
    prompts = [f"question number {i}" for i in range(n)]
    scores = HashScorer().score(prompts)
    return [p for p, s in zip(prompts, scores, strict=True) if s >= 0.5], [
        p for p, s in zip(prompts, scores, strict=True) if s < 0.5
    ]


def test_route_headers_and_savings(stack: GatewayStack) -> None:
    strong_prompts, weak_prompts = _prompts_by_side()
    for prompt, expected in ((strong_prompts[0], "strong"), (weak_prompts[0], "weak")):
        raw = _sdk(stack).chat.completions.with_raw_response.create(model="auto", messages=_user(prompt))
        resp = raw.parse()
        h = raw.headers
        assert resp.model == expected == h["x-wayfare-model"]
        assert h["x-wayfare-route"] == "auto" and h["x-wayfare-reason"] == "router"
        assert float(h["x-wayfare-score"]) == pytest.approx(HashScorer().score([prompt])[0], abs=1e-6)
        assert float(h["x-wayfare-threshold"]) == 0.5 and float(h["x-wayfare-decision-ms"]) >= 0
        assert resp.usage is not None
        p, c = resp.usage.prompt_tokens, resp.usage.completion_tokens
        cost = (p * 10 + c * 30) / 1e6 if expected == "strong" else (p * 0.5 + c * 1.5) / 1e6
        assert float(h["x-wayfare-cost-usd"]) == pytest.approx(cost)
        # counterfactual: the same tokens on the route's most expensive candidate (strong)
        assert float(h["x-wayfare-saved-usd"]) == pytest.approx((p * 10 + c * 30) / 1e6 - cost)


def test_router_name_with_threshold(stack: GatewayStack) -> None:
    prompt = "threshold probe"
    score = HashScorer().score([prompt])[0]
    low, high = f"router-random-{max(0.0, score - 0.1):.2f}", f"router-random-{min(1.0, score + 0.1):.2f}"
    raw = _sdk(stack).chat.completions.with_raw_response.create(model=low, messages=_user(prompt))
    assert raw.parse().model == "strong" and raw.headers["x-wayfare-route"] == low
    raw = _sdk(stack).chat.completions.with_raw_response.create(model=high, messages=_user(prompt))
    assert raw.parse().model == "weak"
    assert (
        httpx.post(
            stack.base_url + "/chat/completions", json={"model": "router-random-1.5", "messages": _user("x")}
        ).status_code
        == 404
    )


def test_session_affinity_by_header_and_by_conversation(stack: GatewayStack) -> None:
    strong_prompts, weak_prompts = _prompts_by_side()
    client = _sdk(stack)
    first = client.chat.completions.create(model="auto", messages=_user(weak_prompts[1]))
    assert first.model == "weak"
    # turn 2: the last user message alone would go strong, but the conversation stays on weak
    turn2 = [*_user(weak_prompts[1]), {"role": "assistant", "content": "ok"}, *_user(strong_prompts[1])]
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=turn2)  # type: ignore[arg-type]
    assert raw.parse().model == "weak" and raw.headers["x-wayfare-reason"] == "session"
    # header-keyed session: the first routed turn fixes the model for later turns with the same header
    hdr = {"x-wayfare-session": "conv-42"}
    a = client.chat.completions.create(model="auto", messages=_user(strong_prompts[2]), extra_headers=hdr)
    b = client.chat.completions.with_raw_response.create(
        model="auto", messages=_user(weak_prompts[2]), extra_headers=hdr
    )
    assert a.model == "strong" and b.parse().model == "strong" and b.headers["x-wayfare-reason"] == "session"


def test_tools_and_images_are_pinned(stack: GatewayStack) -> None:
    client = _sdk(stack)
    plain = client.chat.completions.with_raw_response.create(model="pinned", messages=_user("plain text"))
    assert plain.parse().model == "weak"  # the `weak` baseline router
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    raw = client.chat.completions.with_raw_response.create(model="pinned", messages=_user("use a tool"), tools=tools)  # type: ignore[arg-type]
    assert raw.parse().model == "strong" and raw.headers["x-wayfare-reason"] == "pinned_tools"
    image = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        }
    ]
    raw = client.chat.completions.with_raw_response.create(model="pinned", messages=image)  # type: ignore[arg-type]
    assert raw.parse().model == "strong" and raw.headers["x-wayfare-reason"] == "pinned_images"


def test_router_failure_never_fails_the_request(stack: GatewayStack) -> None:
    raw = _sdk(stack).chat.completions.with_raw_response.create(model="broken", messages=_user("still answered"))
    assert raw.parse().model == "strong" and raw.headers["x-wayfare-reason"] == "router_error"
    record = next(r for r in stack.sink.records if r.request_id == raw.headers["x-wayfare-request-id"])
    assert record.status == 200 and record.error_class is not None and "no-such-router-xyz" in record.error_class
