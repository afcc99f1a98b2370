"""Streaming legacy text completions (POST /v1/completions, stream=true) through the gateway with the openai SDK."""

from __future__ import annotations

import openai
import pytest

from wayfare.gateway.testing import GatewayStack


def _sdk(stack: GatewayStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key="sk-test", max_retries=0, timeout=20)


@pytest.fixture(autouse=True)
def _clear_faults(stack: GatewayStack) -> None:
    stack.mock.faults.clear()


def test_completions_stream_names_the_model_and_logs_usage(stack: GatewayStack) -> None:
    chunks = list(_sdk(stack).completions.create(model="weak", prompt="stream a legacy completion", stream=True))
    assert chunks and all(c.model == "weak" for c in chunks)
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == "mock reply from up-weak: stream a legacy completion"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)  # not asked for: the gateway's own usage request is stripped
    assert stack.upstream_bodies()[-1]["stream_options"] == {"include_usage": True}
    record = next(r for r in reversed(stack.sink.records) if r.metadata.get("endpoint") == "completions")
    assert record.stream and record.status == 200 and record.output_tokens > 0
    assert record.cost_usd == pytest.approx((record.input_tokens * 0.5 + record.output_tokens * 1.5) / 1e6)


def test_completions_stream_with_usage_when_asked(stack: GatewayStack) -> None:
    chunks = list(
        _sdk(stack).completions.create(
            model="weak", prompt="count me", stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_completions_stream_falls_back_before_the_first_byte(stack: GatewayStack) -> None:
    stack.mock.fault("up-primary", "503", times=-1)
    chunks = list(_sdk(stack).completions.create(model="primary", prompt="fall back please", stream=True))
    assert chunks[0].model == "backup"
    assert "".join(c.choices[0].text for c in chunks if c.choices).endswith("fall back please")


def test_completions_stream_cut_after_bytes_ends_with_an_error_event(stack: GatewayStack) -> None:
    stack.mock.fault("up-weak", "stream_cut", times=1)
    seen = []
    with pytest.raises(openai.APIError) as info:
        for chunk in _sdk(stack).completions.create(model="weak", prompt="cut me off mid stream", stream=True):
            seen.append(chunk)
    assert seen and seen[0].model == "weak"
    assert "stream failed" in str(info.value)
