"""wayfare.Controller against a real mock upstream on 127.0.0.1: RouteLLM's API, routing in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import wayfare
from wayfare.gateway.routing import HashScorer
from wayfare.mockllm import MockUpstream
from wayfare.sdk import RoutingError


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockUpstream]:
    with MockUpstream() as m:
        yield m


@pytest.fixture()
def controller(upstream: MockUpstream) -> Iterator[wayfare.Controller]:
    c = wayfare.Controller(
        routers=["random", "strong"], strong_model="big", weak_model="small", api_base=upstream.base_url,
        api_key="sk-upstream", max_retries=0, timeout=10,
    )  # fmt: skip
    yield c
    c.close()


def _split(n: int = 40) -> tuple[list[str], list[str]]:
    prompts = [f"controller prompt {i}" for i in range(n)]
    scores = HashScorer().score(prompts)
    return [p for p, s in zip(prompts, scores, strict=True) if s >= 0.5], [
        p for p, s in zip(prompts, scores, strict=True) if s < 0.5
    ]


def test_create_routes_and_calls_the_chosen_model(controller: wayfare.Controller, upstream: MockUpstream) -> None:
    hard, easy = _split()
    for prompt, expected in ((hard[0], "big"), (easy[0], "small")):
        r = controller.chat.completions.create(
            model="router-random-0.5", messages=[{"role": "user", "content": prompt}]
        )
        assert r.model == expected
        assert r.choices[0].message.content == f"mock reply from {expected}: {prompt}"
        sent = upstream.mock.requests[-1]
        assert sent["body"]["model"] == expected
        assert sent["headers"].get("authorization") == "Bearer sk-upstream"
    assert controller.route(hard[0], "random", 0.5) == "big"
    assert controller.route(hard[0], "random", 1.0) == "small" or HashScorer().score([hard[0]])[0] >= 1.0
    assert controller.route(easy[0], "strong", 0.99) == "big"
    d = controller.decide(easy[0], "random", 0.5)
    assert d.model == "small" and d.score == pytest.approx(HashScorer().score([easy[0]])[0]) and d.decision_ms >= 0
    assert controller.score([hard[0], easy[0]], "random") == pytest.approx(HashScorer().score([hard[0], easy[0]]))


def test_router_and_threshold_keywords_and_streaming(controller: wayfare.Controller) -> None:
    hard, _ = _split()
    stream = controller.chat.completions.create(
        router="random", threshold=0.5, messages=[{"role": "user", "content": hard[1]}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].model == "big"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).endswith(hard[1])


def test_acreate(controller: wayfare.Controller) -> None:
    _, easy = _split()

    async def go() -> list[str]:
        rs = await asyncio.gather(
            *(controller.chat.completions.acreate(model="router-random-0.5", messages=[{"role": "user", "content": p}])
              for p in easy[:5])
        )  # fmt: skip
        await controller.aclose()
        return [r.model for r in rs]

    assert asyncio.run(go()) == ["small"] * 5


def test_text_completions_are_routed_on_the_prompt(controller: wayfare.Controller) -> None:
    hard, _ = _split()
    r = controller.completions.create(model="router-random-0.5", prompt=hard[2], max_tokens=5)
    assert r.model == "big"


def test_bad_names_thresholds_and_routers(controller: wayfare.Controller) -> None:
    msgs = [{"role": "user", "content": "x"}]
    with pytest.raises(RoutingError, match="router-<router>-<threshold>"):
        controller.chat.completions.create(model="gpt-4o", messages=msgs)
    with pytest.raises(RoutingError, match="not loaded"):
        controller.chat.completions.create(model="router-mf-0.5", messages=msgs)
    with pytest.raises(RoutingError, match=r"\[0, 1\]"):
        controller.route("x", "random", 1.5)
    with pytest.raises(RoutingError, match="non-empty"):
        controller.chat.completions.create(model="router-random-0.5", messages=[])
    with pytest.raises(RoutingError, match="at least one"):
        wayfare.Controller(routers=[], strong_model="a", weak_model="b")
    with pytest.raises(Exception, match="no-such-router"):
        wayfare.Controller(routers=["no-such-router"], strong_model="a", weak_model="b")
