"""Faults injected at the mock upstream: retries, fallbacks, error events, and what the client sees."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from wayfare.gateway.testing import GatewayStack
from wayfare.mockllm import FAULT_KINDS

PRE_BYTE_FAULTS = [k for k in FAULT_KINDS if k not in ("stream_cut", "malformed")]


def _sdk(stack: GatewayStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key="sk-test", max_retries=0, timeout=20)


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(autouse=True)
def _clear_faults(stack: GatewayStack) -> Iterator[None]:
    stack.mock.faults.clear()
    yield
    stack.mock.faults.clear()


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_every_fault_kind_falls_back_to_a_success(stack: GatewayStack, kind: str) -> None:
    stack.mock.fault("up-primary", kind, times=-1)
    raw = _sdk(stack).chat.completions.with_raw_response.create(model="primary", messages=_user(f"fault {kind}"))
    resp = raw.parse()
    assert resp.model == "backup" == raw.headers["x-wayfare-model"]
    assert resp.choices[0].message.content == f"mock reply from up-backup: fault {kind}"
    record = next(r for r in stack.sink.records if r.request_id == raw.headers["x-wayfare-request-id"])
    assert record.fallback_used and record.status == 200 and record.attempts >= 2


@pytest.mark.parametrize("kind", PRE_BYTE_FAULTS)
def test_stream_faults_before_the_first_byte_fall_back(stack: GatewayStack, kind: str) -> None:
    stack.mock.fault("up-primary", kind, times=-1)
    chunks = list(_sdk(stack).chat.completions.create(model="primary", messages=_user("stream fault"), stream=True))
    assert chunks[0].model == "backup"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).endswith("stream fault")


@pytest.mark.parametrize("kind", ["stream_cut", "malformed"])
def test_stream_failing_after_bytes_ends_with_an_error_event(stack: GatewayStack, kind: str) -> None:
    stack.mock.fault("up-weak", kind, times=1)
    seen = []
    with pytest.raises(openai.APIError) as info:
        for chunk in _sdk(stack).chat.completions.create(model="weak", messages=_user("cut me off"), stream=True):
            seen.append(chunk)
    assert seen and seen[0].model == "weak"  # bytes were sent: no silent switch to another model
    assert "stream failed" in str(info.value)
    with httpx.stream(
        "POST", stack.base_url + "/chat/completions", json={"model": "weak", "stream": True, "messages": _user("ok")}
    ) as resp:
        text = resp.read().decode()
    assert resp.status_code == 200 and text.endswith("data: [DONE]\n\n") and '"error"' not in text


def test_rate_limit_is_retried_after_retry_after(stack: GatewayStack) -> None:
    stack.mock.fault("up-weak", "429", times=1)
    t0 = time.perf_counter()
    raw = _sdk(stack).chat.completions.with_raw_response.create(model="weak", messages=_user("after a wait"))
    elapsed = time.perf_counter() - t0
    assert raw.parse().model == "weak"
    assert elapsed >= 0.03  # the mock's retry-after-ms
    record = next(r for r in stack.sink.records if r.request_id == raw.headers["x-wayfare-request-id"])
    assert record.attempts == 2 and not record.fallback_used


def test_without_fallback_the_client_gets_an_honest_error(stack: GatewayStack) -> None:
    stack.mock.fault("up-weak", "500", times=-1)
    with pytest.raises(openai.APIStatusError) as info:
        _sdk(stack).chat.completions.create(model="weak", messages=_user("doomed"))
    assert info.value.status_code == 502
    assert info.value.code == "server_error"
    stack.mock.fault("up-weak", "429", times=-1)
    resp = httpx.post(stack.base_url + "/chat/completions", json={"model": "weak", "messages": _user("x")})
    assert resp.status_code == 429 and resp.headers["retry-after"] == "1"
    stack.mock.faults.clear()
    stack.mock.fault("up-weak", "stream_cut", times=-1)
    resp = httpx.post(stack.base_url + "/chat/completions", json={"model": "weak", "messages": _user("x")})
    assert resp.status_code == 502 and resp.json()["error"]["code"] == "connection"
