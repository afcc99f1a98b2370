"""Fault injection at 20%: with a fallback no client sees a failure; without one every failure is an OpenAI error
and the request log counts every attempt the upstream saw. Short version of bench/chaos.py (300 requests each)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from wayfare.gateway.testing import GatewayStack

N = 300
RATE = 0.2


@pytest.fixture(scope="module")
def stack(chaos: ModuleType) -> Iterator[GatewayStack]:
    with chaos.chaos_stack(RATE, seed=7) as s:
        yield s


def _run(chaos: ModuleType, stack: GatewayStack, setup: str, stream: bool) -> Any:
    result = chaos.run_chaos(stack, setup=setup, stream=stream, requests=N, rate=RATE, concurrency=8, seed=7)
    assert not result.problems, "\n".join(result.problems[:20])
    assert result.requests == N
    # the faults really happened, most kinds of them (11 kinds, ~60 faulted first attempts)
    assert sum(result.faults.values()) >= 0.12 * N, result.faults
    assert len(result.faults) >= 8, result.faults
    assert result.attempts_logged == result.attempts_seen > N
    return result


def test_plain_with_fallback_has_zero_client_visible_failures(chaos: ModuleType, stack: GatewayStack) -> None:
    r = _run(chaos, stack, "fallback", stream=False)
    assert r.failed_visible == 0 and r.succeeded == N
    assert set(r.statuses) == {200}


def test_stream_with_fallback_fails_only_after_bytes_and_then_with_an_error_event(
    chaos: ModuleType, stack: GatewayStack
) -> None:
    r = _run(chaos, stack, "fallback", stream=True)
    # a stream cut after its first chunk reached the client cannot be replayed on another model (no silent
    # switch): it ends with an OpenAI error event. Every other fault is invisible.
    assert r.failed_visible == r.mid_stream_errors
    assert r.mid_stream_errors <= r.faults["stream_cut"] + r.faults["malformed"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_without_fallback_failures_are_openai_errors_and_every_attempt_is_logged(
    chaos: ModuleType, stack: GatewayStack, stream: bool
) -> None:
    r = _run(chaos, stack, "no-fallback", stream=stream)
    assert r.failed_visible > 0  # connect timeouts alone fail ~2% of requests when nothing can take over
    assert set(r.statuses) <= {200, 429, 502, 504}
