"""OpenAI clients through the gateway to AWS Bedrock's Converse API (the mock speaking Bedrock's wire format and
checking SigV4 signatures with botocore); the translation at unit level is in test_bedrock_translate.py. No real AWS
anywhere: the credentials are made-up keys from the config or from environment variables the tests set."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import botocore.session
import httpx
import openai
import pytest
from botocore.config import Config
from botocore.credentials import Credentials, RefreshableCredentials

from wayfare.gateway.config import ConfigError, GatewayConfig, parse_config
from wayfare.gateway.core import Gateway
from wayfare.gateway.reqlog import MemorySink
from wayfare.gateway.testing import GatewayStack
from wayfare.mockllm.runner import MockUpstream
from wayfare.providers.bedrock_auth import SigV4Signer

KEY_ID, SECRET, TOKEN = "AKIDWAYFARETEST", "wayfare-test-secret", "wayfare-test-session-token"
MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0"
_ISOLATED = {  # the AWS chain must see only what a test sets: no ~/.aws files, no instance metadata lookups
    "AWS_CONFIG_FILE": "/nonexistent/wayfare-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/wayfare-aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_CLEARED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")  # fmt: skip


def isolate_aws(mp: pytest.MonkeyPatch) -> None:
    for name in _CLEARED:
        mp.delenv(name, raising=False)
    for name, value in _ISOLATED.items():
        mp.setenv(name, value)


def config(url: str, secret: str = "os.environ/WAYFARE_TEST_AWS_SECRET", key_id: str = KEY_ID) -> GatewayConfig:
    root = url.removesuffix("/v1")  # the mock answers Bedrock paths at its root
    return parse_config(f"""
models:
  - {{name: claude-bedrock, provider: bedrock, model: "{MODEL_ID}", base_url: {root}, aws_region_name: us-east-1,
      aws_access_key_id: {key_id}, aws_secret_access_key: {secret}, input_price: 3, output_price: 15}}
  - {{name: bedrock-flaky, provider: bedrock, model: flaky-model, base_url: {root}}}   # credentials: the AWS chain
fallbacks:
  bedrock-flaky: [claude-bedrock]
retry: {{max_retries: 1, backoff_base: 0.01, cooldown_failures: 100}}
database_url: none
""")


def aws_env(mp: pytest.MonkeyPatch) -> None:
    isolate_aws(mp)
    mp.setenv("WAYFARE_TEST_AWS_SECRET", SECRET)
    mp.setenv("AWS_ACCESS_KEY_ID", KEY_ID)  # for bedrock-flaky, through botocore's credential chain
    mp.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    mp.setenv("AWS_SESSION_TOKEN", TOKEN)
    mp.setenv("AWS_DEFAULT_REGION", "us-west-2")


@pytest.fixture(scope="module")
def stack() -> Iterator[GatewayStack]:
    with pytest.MonkeyPatch.context() as mp:
        aws_env(mp)
        with GatewayStack(config, bedrock_credentials=(KEY_ID, SECRET)) as s:
            yield s


def _sdk(stack: GatewayStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key="client-key", max_retries=0, timeout=20)


MESSAGES: Any = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello bedrock"}]
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "web",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]


def _text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def _finishes(chunks: list[Any]) -> list[str]:
    return [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]


# --- through the gateway, with the real openai SDK -----------------------------------------------------------------


def test_plain_chat_is_translated_signed_and_priced(stack: GatewayStack) -> None:
    raw = _sdk(stack).chat.completions.with_raw_response.create(
        model="claude-bedrock", messages=MESSAGES, max_tokens=99, stop="END", temperature=0.2
    )
    resp = raw.parse()
    assert (
        resp.model == "claude-bedrock"
        and resp.choices[0].message.content == f"mock reply from {MODEL_ID}: hello bedrock"
    )
    assert resp.choices[0].finish_reason == "stop" and resp.usage is not None and resp.usage.completion_tokens > 0
    assert float(raw.headers["x-wayfare-cost-usd"]) > 0
    req = stack.mock.mock.requests[-1]
    assert req["path"] == f"/model/{MODEL_ID}/converse"
    auth = req["headers"]["authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={KEY_ID}/") and "/us-east-1/bedrock/aws4_request" in auth
    assert "x-amz-security-token" not in req["headers"]  # config keys without a session token
    assert req["body"] == {
        "messages": [{"role": "user", "content": [{"text": "hello bedrock"}]}],
        "system": [{"text": "be brief"}],
        "inferenceConfig": {"maxTokens": 99, "temperature": 0.2, "stopSequences": ["END"]},
    }


def test_images_go_inline_as_bytes(stack: GatewayStack) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    parts: Any = [{"type": "text", "text": "what is this"},
                  {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}]  # fmt: skip
    resp = _sdk(stack).chat.completions.create(model="claude-bedrock", messages=[{"role": "user", "content": parts}])
    assert resp.choices[0].message.content == f"mock reply from {MODEL_ID}: what is this"
    sent = stack.upstream_bodies()[-1]["messages"][0]["content"]
    assert sent == [{"text": "what is this"}, {"image": {"format": "png", "source": {"bytes": png}}}]


def test_credentials_from_the_aws_chain_sign_with_the_session_token(stack: GatewayStack) -> None:
    resp = _sdk(stack).chat.completions.create(model="bedrock-flaky", messages=MESSAGES)
    assert resp.model == "bedrock-flaky" and "hello bedrock" in str(resp.choices[0].message.content)
    headers = stack.mock.mock.requests[-1]["headers"]
    assert headers["x-amz-security-token"] == TOKEN and "x-amz-security-token" in headers["authorization"]
    assert "/us-west-2/bedrock/aws4_request" in headers["authorization"]  # the region from AWS_DEFAULT_REGION


def test_streaming_with_usage(stack: GatewayStack) -> None:
    chunks = list(
        _sdk(stack).chat.completions.create(
            model="claude-bedrock", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert stack.mock.mock.requests[-1]["path"] == f"/model/{MODEL_ID}/converse-stream"
    assert chunks[0].model == "claude-bedrock" and chunks[0].choices[0].delta.role == "assistant"
    assert _text(chunks) == f"mock reply from {MODEL_ID}: hello bedrock" and _finishes(chunks) == ["stop"]
    usage = chunks[-1].usage
    assert not chunks[-1].choices and usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    plain = list(_sdk(stack).chat.completions.create(model="claude-bedrock", messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in plain) and _text(plain) == _text(chunks)


def test_tool_round_trip(stack: GatewayStack) -> None:
    sdk = _sdk(stack)
    resp = sdk.chat.completions.create(model="claude-bedrock", messages=MESSAGES, tools=TOOLS, tool_choice="required")
    calls = resp.choices[0].message.tool_calls
    assert resp.choices[0].finish_reason == "tool_calls" and calls is not None and len(calls) == 1
    call: Any = calls[0]
    assert call.function.name == "search" and json.loads(call.function.arguments) == {"query": "hello bedrock"}
    sent = stack.upstream_bodies()[-1]
    assert sent["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "search",
                    "description": "web",
                    "inputSchema": {"json": TOOLS[0]["function"]["parameters"]},
                }
            }
        ],
        "toolChoice": {"any": {}},
    }
    follow = [
        *MESSAGES,
        resp.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "42 results"},
    ]
    again = sdk.chat.completions.create(model="claude-bedrock", messages=follow, tools=TOOLS)
    assert again.choices[0].message.content == f"mock reply from {MODEL_ID}: 42 results"
    assert again.choices[0].finish_reason == "stop"
    turns = stack.upstream_bodies()[-1]["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [
        {"toolUse": {"toolUseId": call.id, "name": "search", "input": {"query": "hello bedrock"}}}
    ]
    assert turns[2]["content"] == [{"toolResult": {"toolUseId": call.id, "content": [{"text": "42 results"}]}}]
    # streamed tool calls: the id and name first, then the arguments in pieces
    chunks = list(sdk.chat.completions.create(model="claude-bedrock", messages=MESSAGES, tools=TOOLS, stream=True))
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == call.id and deltas[0].function is not None and deltas[0].function.name == "search"
    assert "".join(d.function.arguments or "" for d in deltas if d.function) == '{"query":"hello bedrock"}'
    assert _finishes(chunks) == ["tool_calls"]


def test_json_response_format_is_emulated_with_a_forced_tool(stack: GatewayStack) -> None:
    schema = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    ask: Any = [{"role": "user", "content": "json please"}]
    resp = _sdk(stack).chat.completions.create(model="claude-bedrock", messages=ask, response_format=fmt)
    assert json.loads(str(resp.choices[0].message.content)) == {"query": "json please"}
    assert resp.choices[0].finish_reason == "stop" and not resp.choices[0].message.tool_calls
    tool_config = stack.upstream_bodies()[-1]["toolConfig"]
    assert tool_config["toolChoice"] == {"tool": {"name": "wayfare_json_response"}}
    assert tool_config["tools"][0]["toolSpec"]["inputSchema"] == {"json": schema}
    chunks = list(
        _sdk(stack).chat.completions.create(model="claude-bedrock", messages=ask, response_format=fmt, stream=True)
    )
    assert json.loads(_text(chunks)) == {"query": "json please"} and _finishes(chunks) == ["stop"]


def test_a_wrong_secret_or_key_id_is_a_clear_auth_error_not_a_500(monkeypatch: pytest.MonkeyPatch) -> None:
    aws_env(monkeypatch)
    for bad, etype, words in [
        ({"secret": "not-the-secret"}, "InvalidSignatureException", "signature we calculated does not match"),
        ({"key_id": "AKIDUNKNOWN", "secret": SECRET}, "UnrecognizedClientException", "security token"),
    ]:
        with GatewayStack(lambda url, bad=bad: config(url, **bad), bedrock_credentials=(KEY_ID, SECRET)) as s:
            with pytest.raises(openai.APIStatusError) as err:
                _sdk(s).chat.completions.create(model="claude-bedrock", messages=MESSAGES)
            assert err.value.status_code == 502  # "no upstream answered", as for other providers' auth failures
            message = str(err.value)
            assert "HTTP 403" in message and etype in message and words in message
            assert s.mock.mock.requests[-1]["headers"]["authorization"].startswith("AWS4-HMAC-SHA256")
            assert s.sink.records[-1].error_class == "auth"


@pytest.mark.parametrize("kind", ["429", "503", "reset", "malformed", "error_body"])
def test_bedrock_faults_fall_back(stack: GatewayStack, kind: str) -> None:
    stack.mock.fault("flaky-model", kind, times=-1)
    try:
        before = stack.mock.mock.request_count
        assert _sdk(stack).chat.completions.create(model="bedrock-flaky", messages=MESSAGES).model == "claude-bedrock"
        assert stack.mock.mock.request_count - before == 3  # two attempts on flaky-model (max_retries: 1), then one
        streamed = list(_sdk(stack).chat.completions.create(model="bedrock-flaky", messages=MESSAGES, stream=True))
        assert streamed[0].model == "claude-bedrock" and _text(streamed).endswith("hello bedrock")
    finally:
        stack.mock.faults.clear()


def test_throttling_is_retried_then_reaches_the_client_as_429(stack: GatewayStack) -> None:
    stack.mock.fault("flaky-model", "429", times=1)
    try:
        resp = _sdk(stack).chat.completions.create(model="bedrock-flaky", messages=MESSAGES)
        assert resp.model == "bedrock-flaky"  # the retry on the same deployment answered
        assert [r.get("fault") for r in stack.mock.mock.requests][-2:] == ["429", None]
        stack.mock.fault(MODEL_ID, "429", times=-1)
        with pytest.raises(openai.RateLimitError, match="ThrottlingException"):
            _sdk(stack).chat.completions.create(model="claude-bedrock", messages=MESSAGES)
        assert stack.sink.records[-1].error_class == "rate_limited"
    finally:
        stack.mock.faults.clear()


def test_an_exception_event_mid_stream_fails_the_stream(stack: GatewayStack) -> None:
    stream = _sdk(stack).chat.completions.create(
        model="claude-bedrock", messages=[{"role": "user", "content": "go [bedrock_stream_exception]"}], stream=True
    )
    got: list[Any] = []
    with pytest.raises(openai.APIError, match="ThrottlingException"):
        for chunk in stream:
            got.append(chunk)
    assert got and _text(got).startswith("mock")  # the chunks before the exception reached the client
    deadline = time.monotonic() + 5  # a stream is logged when the gateway's relay ends, maybe after the client saw it
    while stack.sink.records[-1].error_class != "stream_rate_limited" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stack.sink.records[-1].error_class == "stream_rate_limited"


def test_untranslatable_requests_are_client_errors(stack: GatewayStack) -> None:
    sdk = _sdk(stack)
    before = stack.mock.mock.request_count
    with pytest.raises(openai.BadRequestError, match="n > 1"):
        sdk.chat.completions.create(model="claude-bedrock", messages=MESSAGES, n=2)
    with pytest.raises(openai.BadRequestError, match="no embeddings endpoint"):
        sdk.embeddings.create(model="claude-bedrock", input="x")
    with pytest.raises(openai.BadRequestError, match="no completions endpoint"):
        sdk.completions.create(model="claude-bedrock", prompt="x")
    image: Any = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.invalid/a.png"}}]}]
    with pytest.raises(openai.BadRequestError, match="data: URL"):
        sdk.chat.completions.create(model="claude-bedrock", messages=image)
    assert stack.mock.mock.request_count == before  # refused by the gateway: no upstream call, no retry
    # what Bedrock itself refuses (a ValidationException) goes back to the client as a 400, without retries
    with pytest.raises(openai.BadRequestError, match=r"ValidationException.*start with a user message"):
        sdk.chat.completions.create(model="bedrock-flaky", messages=[{"role": "assistant", "content": "hi"}])
    assert stack.mock.mock.request_count == before + 1


# --- the mock against botocore's own client (so the mock's wire format is not only checked by our provider) -------


def test_the_mock_speaks_bedrock_as_botocore_reads_it() -> None:
    with MockUpstream(bedrock_credentials=(KEY_ID, SECRET)) as mock:
        session = botocore.session.get_session()
        once = Config(retries={"max_attempts": 1})
        client = session.create_client("bedrock-runtime", endpoint_url=mock.url, region_name="eu-west-1",
                                       aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, config=once)  # fmt: skip
        ask = [{"role": "user", "content": [{"text": "hello botocore"}]}]
        out = client.converse(modelId=MODEL_ID, messages=ask)
        assert out["output"]["message"]["content"] == [{"text": f"mock reply from {MODEL_ID}: hello botocore"}]
        assert out["stopReason"] == "end_turn" and out["usage"]["totalTokens"] > 0
        tools = {"tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}]}
        events = list(client.converse_stream(modelId=MODEL_ID, messages=ask, toolConfig=tools)["stream"])
        kinds = ["messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockDelta", "contentBlockStop",
                 "messageStop", "metadata"]  # fmt: skip
        assert [next(iter(e)) for e in events] == kinds
        assert events[1]["contentBlockStart"]["start"]["toolUse"]["name"] == "lookup"
        wrong = session.create_client("bedrock-runtime", endpoint_url=mock.url, region_name="eu-west-1",
                                      aws_access_key_id=KEY_ID, aws_secret_access_key="wrong", config=once)  # fmt: skip
        with pytest.raises(wrong.exceptions.ClientError) as err:
            wrong.converse(modelId=MODEL_ID, messages=ask)
        assert err.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        with pytest.raises(client.exceptions.ThrottlingException):
            client.meta.events.register(
                "before-sign.*.*", lambda request, **_: request.headers.add_header("x-mock-fault", "429")
            )
            client.converse(modelId=MODEL_ID, messages=ask)


def test_the_mock_checks_what_was_signed() -> None:
    signer = SigV4Signer(Credentials(KEY_ID, SECRET), "us-east-1")
    ask = b'{"messages": [{"role": "user", "content": [{"text": "hi"}]}]}'
    with MockUpstream(bedrock_credentials=(KEY_ID, SECRET)) as mock:
        url = f"{mock.url}/model/{quote(MODEL_ID, safe='')}/converse"
        signed = signer.sign(Credentials(KEY_ID, SECRET), url, ask, {"content-type": "application/json"})
        assert httpx.post(url, content=ask, headers=signed).status_code == 200
        tampered = httpx.post(url, content=ask.replace(b"hi", b"yo"), headers=signed)
        assert tampered.status_code == 403 and tampered.headers["x-amzn-errortype"].startswith("InvalidSignature")
        unsigned = httpx.post(url, content=ask, headers={"content-type": "application/json"})
        assert unsigned.status_code == 403 and unsigned.json() == {"message": "Missing Authentication Token"}
        old = {**signed, "X-Amz-Date": "20200101T000000Z"}
        assert httpx.post(url, content=ask, headers=old).status_code == 403


# --- configuration and credentials ---------------------------------------------------------------------------------


def test_bedrock_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="provider openai needs base_url"):
        parse_config("models:\n  - {name: m}\n")
    with pytest.raises(ConfigError, match="aws_region_name apply to provider bedrock only"):
        parse_config("models:\n  - {name: m, base_url: http://x/v1, aws_region_name: us-east-1}\n")
    with pytest.raises(ConfigError, match="provider bedrock signs with AWS credentials"):
        parse_config("models:\n  - {name: m, provider: bedrock, api_key: k}\n")
    with pytest.raises(ConfigError, match="either aws_profile_name or aws_access_key_id"):
        parse_config("models:\n  - {name: m, provider: bedrock, aws_profile_name: p, aws_access_key_id: k}\n")


def _gateway(yaml: str) -> Gateway:
    return Gateway(parse_config(yaml), sink=MemorySink())


def test_missing_credentials_or_region_stop_the_startup_naming_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws(monkeypatch)
    with pytest.raises(ConfigError, match=r"model 'nova' \(provider bedrock\): no AWS credentials found"):
        _gateway(
            "models:\n  - {name: nova, provider: bedrock, model: amazon.nova-pro-v1:0, aws_region_name: us-east-1}\n"
        )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    with pytest.raises(ConfigError, match=r"model 'nova' \(provider bedrock\): no AWS region"):
        _gateway("models:\n  - {name: nova, provider: bedrock}\n")
    with pytest.raises(ConfigError, match="aws_secret_access_key names environment variable NOPE_UNSET"):
        _gateway(
            "models:\n  - {name: nova, provider: bedrock, aws_access_key_id: k,\n"
            "      aws_secret_access_key: os.environ/NOPE_UNSET}\n"
        )
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    provider: Any = _gateway("models:\n  - {name: nova, provider: bedrock}\n").providers["nova"]
    assert provider.base_url == "https://bedrock-runtime.eu-central-1.amazonaws.com"
    assert provider.url("arn:aws:bedrock:eu-central-1:1:inference-profile/eu.x", stream=True).endswith(
        "/model/arn%3Aaws%3Abedrock%3Aeu-central-1%3A1%3Ainference-profile%2Feu.x/converse-stream"
    )


def test_a_named_profile_gives_credentials_and_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_aws(monkeypatch)
    (tmp_path / "credentials").write_text(f"[team]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n")
    (tmp_path / "config").write_text("[profile team]\nregion = ap-southeast-2\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    provider: Any = _gateway("models:\n  - {name: m, provider: bedrock, aws_profile_name: team}\n").providers["m"]
    assert provider.signer.region == "ap-southeast-2"
    assert provider.signer.credentials.get_frozen_credentials().access_key == KEY_ID
    with pytest.raises(ConfigError, match=r"cannot read AWS settings.*nope"):
        _gateway("models:\n  - {name: m, provider: bedrock, aws_profile_name: nope}\n")


def test_refreshable_credentials_are_refreshed_before_signing() -> None:
    refreshed: list[int] = []

    def refresh() -> dict[str, str]:
        refreshed.append(1)
        expiry = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        return {"access_key": "AKIDFRESH", "secret_key": "fresh", "token": "fresh-token", "expiry_time": expiry}

    stale = {"access_key": "AKIDSTALE", "secret_key": "stale", "token": "t",
             "expiry_time": (datetime.now(UTC) + timedelta(seconds=5)).isoformat()}  # fmt: skip
    creds = RefreshableCredentials.create_from_metadata(stale, refresh, "test")
    signer = SigV4Signer(creds, "us-east-1")
    headers = asyncio.run(signer.headers("https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", b"{}", {}))
    assert refreshed and "Credential=AKIDFRESH/" in headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == "fresh-token"
