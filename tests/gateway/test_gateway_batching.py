"""ScoreBatcher: concurrent prompts are scored together in one worker thread, each gets its own row."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from wayfare.gateway.batching import ScoreBatcher


class LengthScorer:
    """Scores len(text); records each call's batch and thread; fails on texts containing 'bad'."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()

    def __call__(self, texts: Sequence[str]) -> list[float]:
        self.batches.append(list(texts))
        self.threads.add(threading.current_thread().name)
        if any("bad" in t for t in texts):
            raise ValueError("bad prompt")
        return [float(len(t)) for t in texts]


def test_concurrent_prompts_share_batches_off_the_event_loop() -> None:
    scorer = LengthScorer()
    batcher = ScoreBatcher(scorer, max_batch=8)

    async def go() -> list[float]:
        return list(await asyncio.gather(*(batcher.score("x" * (i + 1)) for i in range(20))))

    try:
        assert asyncio.run(go()) == [float(i + 1) for i in range(20)]
    finally:
        batcher.close()
    assert max(len(b) for b in scorer.batches) == 8  # batched, capped at max_batch
    assert sum(len(b) for b in scorer.batches) == 20
    assert len(scorer.batches) < 20
    assert all(name.startswith("wayfare-router") for name in scorer.threads)


def test_one_bad_prompt_fails_alone() -> None:
    scorer = LengthScorer()
    batcher = ScoreBatcher(scorer)

    async def go() -> list[float | BaseException]:
        return list(await asyncio.gather(batcher.score("ok"), batcher.score("bad"), batcher.score("fine"),
                                         return_exceptions=True))  # fmt: skip

    try:
        ok, bad, fine = asyncio.run(go())
    finally:
        batcher.close()
    assert ok == 2.0 and fine == 4.0
    assert isinstance(bad, ValueError) and "bad prompt" in str(bad)


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        ScoreBatcher(len, max_batch=0)


@pytest.mark.parametrize(("inline_below_ms", "expect_inline"), [(1e9, True), (0.0, False)])
def test_cheap_scorers_run_inline_after_one_measured_call(inline_below_ms: float, expect_inline: bool) -> None:
    scorer = LengthScorer()
    batcher = ScoreBatcher(scorer, inline_below_ms=inline_below_ms)

    async def go() -> list[float]:
        return [await batcher.score("x" * n) for n in (1, 2, 3)]

    try:
        assert asyncio.run(go()) == [1.0, 2.0, 3.0]
    finally:
        batcher.close()
    assert batcher.inline is expect_inline
    on_loop = {"MainThread"} if expect_inline else set()
    assert scorer.threads == {"wayfare-router_0", *on_loop}  # the first call always measures in the worker


def test_stopping_the_gateway_stops_its_scoring_threads() -> None:
    import httpx

    from wayfare.gateway.testing import GatewayStack

    config = """
models:
  - {{name: strong, model: up-strong, base_url: {url}}}
  - {{name: weak, model: up-weak, base_url: {url}}}
routes:
  - {{name: auto, router: random, strong: strong, weak: weak, threshold: 0.5}}
database_url: none
"""
    before = {t.ident for t in threading.enumerate() if t.name.startswith("wayfare-router")}
    with GatewayStack(config) as s:
        r = httpx.post(
            s.base_url + "/chat/completions", json={"model": "auto", "messages": [{"role": "user", "content": "a"}]}
        )
        assert r.status_code == 200 and r.headers["x-wayfare-route"] == "auto"
        started = {t.ident for t in threading.enumerate() if t.name.startswith("wayfare-router")} - before
        assert started, "the first routed request is scored in the route's worker thread"
    for t in threading.enumerate():
        if t.ident in started:
            t.join(timeout=5)
    assert not {t.ident for t in threading.enumerate() if t.name.startswith("wayfare-router")} & started
