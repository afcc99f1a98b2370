"""The real `openai` SDK against `wayfare` served on 127.0.0.1, in front of the mock upstream."""

from __future__ import annotations

import httpx
import openai
import pytest

from wayfare.gateway.testing import GatewayStack


def _sdk(stack: GatewayStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key="sk-test", max_retries=0, timeout=20)


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_chat_plain_names_the_model_and_costs(stack: GatewayStack) -> None:
    raw = _sdk(stack).chat.completions.with_raw_response.create(model="strong", messages=_user("hello there"))
    resp = raw.parse()
    assert resp.model == "strong"
    assert resp.choices[0].message.content == "mock reply from up-strong: hello there"
    assert raw.headers["x-wayfare-model"] == "strong"
    assert resp.usage is not None
    expected = (resp.usage.prompt_tokens * 10 + resp.usage.completion_tokens * 30) / 1e6
    assert float(raw.headers["x-wayfare-cost-usd"]) == pytest.approx(expected)
    assert float(raw.headers["x-wayfare-saved-usd"]) == 0.0
    record = next(r for r in stack.sink.records if r.request_id == raw.headers["x-wayfare-request-id"])
    assert record.chosen_model == "strong" and record.status == 200 and record.cost_usd == pytest.approx(expected)
    assert record.input_tokens == resp.usage.prompt_tokens and record.key_id is not None


def test_chat_stream_first_chunk_names_model_and_usage_only_when_asked(stack: GatewayStack) -> None:
    client = _sdk(stack)
    chunks = list(client.chat.completions.create(model="weak", messages=_user("stream me"), stream=True))
    assert chunks[0].model == "weak"
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "mock reply from up-weak: stream me"
    )
    assert all(c.usage is None for c in chunks)
    # the gateway still asked the upstream for usage, and logged the tokens
    assert stack.upstream_bodies()[-1]["stream_options"] == {"include_usage": True}
    with_usage = list(
        client.chat.completions.create(
            model="weak", messages=_user("stream me"), stream=True, stream_options={"include_usage": True}
        )
    )
    assert with_usage[-1].usage is not None and with_usage[-1].usage.completion_tokens > 0


def test_tools_and_unknown_fields_pass_through(stack: GatewayStack) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]
    resp = _sdk(stack).chat.completions.create(
        model="weak",
        messages=_user("find it"),
        tools=tools,  # type: ignore[arg-type]
        tool_choice={"type": "function", "function": {"name": "lookup"}},
        response_format={"type": "json_object"},
        seed=7,
        n=1,
        extra_body={"custom_vendor_field": {"a": 1}},
    )
    call = resp.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "lookup" and resp.choices[0].finish_reason == "tool_calls"  # type: ignore[union-attr]
    sent = stack.upstream_bodies()[-1]
    assert sent["model"] == "up-weak"
    assert sent["seed"] == 7 and sent["custom_vendor_field"] == {"a": 1}
    assert sent["tools"] == tools and sent["response_format"] == {"type": "json_object"}


def test_n_choices(stack: GatewayStack) -> None:
    resp = _sdk(stack).chat.completions.create(model="weak", messages=_user("two please"), n=2)
    assert [c.index for c in resp.choices] == [0, 1]


def test_unknown_model_is_404_with_openai_error(stack: GatewayStack) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        _sdk(stack).chat.completions.create(model="gpt-nope", messages=_user("x"))
    assert info.value.code == "model_not_found"
    resp = httpx.post(
        stack.base_url + "/chat/completions", json={"model": "router-unknown-0.5", "messages": _user("x")}
    )
    assert resp.status_code == 404 and resp.json()["error"]["param"] == "model"


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b'{"messages": []}', "'model'"),
        (b'{"model": "weak", "messages": []}', "'messages'"),
    ],
)
def test_bad_requests_get_400_openai_errors(stack: GatewayStack, payload: bytes, needle: str) -> None:
    resp = httpx.post(stack.base_url + "/chat/completions", content=payload)
    assert resp.status_code == 400
    assert needle in resp.json()["error"]["message"]


def test_completions_embeddings_models_health(stack: GatewayStack) -> None:
    client = _sdk(stack)
    assert client.completions.create(model="weak", prompt="say hi").choices[0].text == "mock reply from up-weak: say hi"
    emb = client.embeddings.create(model="weak", input=["a", "b"])
    assert len(emb.data) == 2 and emb.model == "weak"
    ids = {m.id for m in client.models.list()}
    assert {"strong", "weak", "primary", "backup", "auto", "pinned"} <= ids
    assert httpx.get(stack.url + "/health").json() == {"status": "ok"}
    ready = httpx.get(stack.url + "/ready").json()
    assert (
        ready["ready"] is True and ready["routes"]["auto"] == "ok" and "no-such-router-xyz" in ready["routes"]["broken"]
    )
    assert httpx.get(stack.url + "/v1/nothing").status_code == 404
