"""OpenAI clients through the gateway to an Azure OpenAI deployment (the mock speaking Azure's wire format:
deployment URL, api-version, api-key header, the content-filter error)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from wayfare.gateway.config import ConfigError, GatewayConfig, parse_config
from wayfare.gateway.testing import GatewayStack

KEY = "azure-test-key"


def config(url: str, key: str = KEY, auth: str = "api-key") -> GatewayConfig:
    root = url.removesuffix("/v1")  # an Azure base_url is the resource endpoint
    return parse_config(f"""
models:
  - {{name: gpt-4o, provider: azure, base_url: {root}, deployment: prod-gpt4o, api_version: 2024-10-21,
      api_key: {key}, auth: {auth}, input_price: 2.5, output_price: 10}}
retry: {{max_retries: 0, backoff_base: 0.01}}
database_url: none
""")


@pytest.fixture(scope="module")
def stack() -> Iterator[GatewayStack]:
    with GatewayStack(config, azure_api_key=KEY) as s:
        yield s


def _sdk(stack: GatewayStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key="client-key", max_retries=0, timeout=20)


def test_chat_goes_to_the_deployment_url_with_the_api_key(stack: GatewayStack) -> None:
    raw = _sdk(stack).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hello azure"}]
    )
    resp = raw.parse()
    assert resp.model == "gpt-4o" and "hello azure" in str(resp.choices[0].message.content)
    assert float(raw.headers["x-wayfare-cost-usd"]) > 0
    req = stack.mock.mock.requests[-1]
    assert req["path"] == "/openai/deployments/prod-gpt4o/chat/completions"
    assert req["headers"]["api-key"] == KEY and "authorization" not in req["headers"]


def test_streaming_with_usage_and_tools_pass_through(stack: GatewayStack) -> None:
    chunks = list(
        _sdk(stack).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "count"}], stream=True,
            stream_options={"include_usage": True},
        )
    )  # fmt: skip
    assert any(c.choices and c.choices[0].delta.content for c in chunks)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]
    resp = _sdk(stack).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "use the tool"}], tools=tools, tool_choice="auto"
    )  # type: ignore[arg-type]
    calls = resp.choices[0].message.tool_calls
    assert calls is not None and calls[0].function.name == "lookup"
    assert stack.mock.mock.requests[-1]["body"]["tools"] == tools


def test_the_content_filter_reaches_the_client_as_azure_sent_it(stack: GatewayStack) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        _sdk(stack).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "tell me [content_filter]"}]
        )
    assert err.value.status_code == 400 and err.value.code == "content_filter"
    body = err.value.body
    assert isinstance(body, dict) and body["innererror"]["code"] == "ResponsibleAIPolicyViolation"


def test_bearer_auth_and_a_wrong_key_is_a_clear_error() -> None:
    with GatewayStack(lambda url: config(url, auth="bearer"), azure_api_key=KEY) as s:
        _sdk(s).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert s.mock.mock.requests[-1]["headers"]["authorization"] == f"Bearer {KEY}"
    with GatewayStack(lambda url: config(url, key="wrong"), azure_api_key=KEY) as s:
        with pytest.raises(openai.APIStatusError) as err:
            _sdk(s).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert err.value.status_code == 502 and "401" in str(err.value) and "Access denied" in str(err.value)


def test_the_answering_region_reaches_the_client_and_the_log(stack: GatewayStack) -> None:
    raw = _sdk(stack).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "where are you"}]
    )
    assert raw.headers["x-ms-region"] == "mock-eastus2"
    with _sdk(stack).chat.completions.with_streaming_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "stream"}], stream=True
    ) as streamed:
        assert streamed.headers["x-ms-region"] == "mock-eastus2"
        assert any(c.choices for c in streamed.parse())
    with pytest.raises(openai.BadRequestError) as err:
        _sdk(stack).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "[content_filter] again"}]
        )
    assert err.value.response.headers["x-ms-region"] == "mock-eastus2"
    assert stack.sink.records[-1].metadata["upstream_headers"] == {"x-ms-region": "mock-eastus2"}


def test_azure_settings_are_validated() -> None:
    base = "models:\n  - {name: m, provider: %s, base_url: https://x.openai.azure.com%s}\n"
    with pytest.raises(ConfigError, match="provider azure needs api_version"):
        parse_config(base % ("azure", ""))
    with pytest.raises(ConfigError, match="apply to provider azure only"):
        parse_config(base % ("openai", ", api_version: 2024-10-21"))
