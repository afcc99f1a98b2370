"""OpenAI clients through the gateway to Google's Gemini API and Vertex AI (the mock speaking both wire formats, and
a service account's OAuth token endpoint that checks the JWT signature), plus the translation at unit level."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wayfare.gateway.config import ConfigError, GatewayConfig, parse_config
from wayfare.gateway.testing import GatewayStack
from wayfare.providers.gemini_translate import (
    SIGNATURE_SEP,
    PromptBlocked,
    StreamTranslator,
    TranslationError,
    from_generate_content,
    to_generate_content,
)

KEY = "gemini-test-key"
KEY_ID = "mock-key-1"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]

# ---------------------------------------------------------------------------------------------- translation (unit)


def test_request_translation_roles_tools_and_settings() -> None:
    body = {
        "model": "gemini-2.5-flash",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "weather?"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1" + SIGNATURE_SEP + "c2_-", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1" + SIGNATURE_SEP + "c2_-", "content": '{"temp": 21}'},
            {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
        ],
        "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "max_completion_tokens": 50, "temperature": 0.2, "top_p": 0.9, "stop": "END", "n": 2,
        "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}},
    }  # fmt: skip
    out = to_generate_content(body)
    assert out["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "weather?"}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]},
        {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2/+"},
            {"functionCall": {"name": "get_time", "args": {}}}]},
        {"role": "user", "parts": [  # both answers in one turn, named by the call they answer
            {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
            {"functionResponse": {"name": "get_time", "response": {"result": "noon"}}}]},
    ]  # fmt: skip
    decl = out["tools"][0]["functionDeclarations"][0]
    assert decl["name"] == "get_weather" and decl["parametersJsonSchema"] == TOOLS[0]["function"]["parameters"]
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    assert out["generationConfig"] == {
        "maxOutputTokens": 50, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"], "candidateCount": 2,
        "responseMimeType": "application/json", "responseJsonSchema": {"type": "object"},
    }  # fmt: skip
    modes = {c: to_generate_content({**body, "tool_choice": c})["toolConfig"]["functionCallingConfig"]["mode"]
             for c in ("auto", "required", "none")}  # fmt: skip
    assert modes == {"auto": "AUTO", "required": "ANY", "none": "NONE"}


def test_untranslatable_requests_are_refused() -> None:
    user = {"role": "user", "content": "hi"}
    with pytest.raises(TranslationError, match="answers no earlier"):
        to_generate_content({"messages": [user, {"role": "tool", "tool_call_id": "nope", "content": "x"}]})
    with pytest.raises(TranslationError, match="not supported"):
        to_generate_content({"messages": [{"role": "user", "content": [{"type": "refusal"}]}]})
    with pytest.raises(TranslationError, match="response_format"):
        to_generate_content({"messages": [user], "response_format": {"type": "grammar"}})
    with pytest.raises(TranslationError, match="type 'function'"):
        to_generate_content({"messages": [user], "tools": [{"type": "web_search"}]})


def test_response_translation_finish_reasons_calls_and_usage() -> None:
    resp = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "thinking...", "thought": True}, {"text": "Hi"}]},
             "finishReason": "MAX_TOKENS", "index": 0},
            {"content": {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": "U+/H+w=="}]},
             "finishReason": "STOP", "index": 1},
            {"finishReason": "SAFETY", "index": 2},
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 3,
                          "totalTokenCount": 18},
    }  # fmt: skip
    out = from_generate_content(resp, "gemini-x")
    first, second, third = out["choices"]
    assert first["message"]["content"] == "Hi" and first["finish_reason"] == "length"
    call = second["message"]["tool_calls"][0]
    assert second["finish_reason"] == "tool_calls" and second["message"]["content"] is None
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Oslo"}'}
    assert call["id"].startswith("call_") and call["id"].endswith(SIGNATURE_SEP + "U-_H-w")
    assert third["finish_reason"] == "content_filter" and third["message"]["content"] == ""
    assert out["usage"] == {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18,
                            "completion_tokens_details": {"reasoning_tokens": 3}}  # fmt: skip
    with pytest.raises(PromptBlocked, match="SAFETY"):
        from_generate_content({"promptFeedback": {"blockReason": "SAFETY"}}, "gemini-x")


def test_stream_translation_text_calls_and_final_usage() -> None:
    t = StreamTranslator("gemini-x", include_usage=True)
    usage = {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6}
    chunks = t.feed({"candidates": [{"content": {"parts": [{"text": "Hel"}]}}], "usageMetadata": usage})
    chunks += t.feed({"candidates": [{"content": {"parts": [{"text": "lo"}]}}]})
    call_part = {"functionCall": {"name": "f", "args": {"a": 1}}}
    last = {"content": {"parts": [call_part]}, "finishReason": "STOP"}
    chunks += t.feed({"candidates": [last], "usageMetadata": {**usage, "candidatesTokenCount": 9}})
    assert t.finished
    chunks += t.end()
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("content", "") for d in deltas) == "Hello"
    (call,) = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert call["index"] == 0 and call["function"] == {"name": "f", "arguments": '{"a":1}'}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 9
    unfinished = StreamTranslator("gemini-x")
    unfinished.feed({"candidates": [{"content": {"parts": [{"text": "a"}]}}]})
    assert not unfinished.finished


# ------------------------------------------------------------------------------------- through the gateway (e2e)


def gemini_config(url: str, key: str = KEY) -> GatewayConfig:
    root = url.removesuffix("/v1")  # the mock's host stands in for generativelanguage.googleapis.com
    return parse_config(f"""
models:
  - {{name: gemini, provider: gemini, model: gemini-2.5-flash, base_url: {root}, api_key: {key},
      input_price: 0.3, output_price: 2.5}}
retry: {{max_retries: 0, backoff_base: 0.01}}
database_url: none
""")


@pytest.fixture(scope="module")
def gemini() -> Iterator[GatewayStack]:
    with GatewayStack(gemini_config, gemini_api_key=KEY) as s:
        yield s


def _sdk(stack: GatewayStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key="client-key", max_retries=0, timeout=20)


def test_gemini_plain_chat_with_cost(gemini: GatewayStack) -> None:
    raw = _sdk(gemini).chat.completions.with_raw_response.create(
        model="gemini", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello gem"}],
        max_tokens=64,
    )  # fmt: skip
    resp = raw.parse()
    assert resp.model == "gemini" and resp.choices[0].message.content == "mock reply from gemini-2.5-flash: hello gem"
    assert resp.choices[0].finish_reason == "stop" and resp.usage is not None and resp.usage.completion_tokens > 0
    assert float(raw.headers["x-wayfare-cost-usd"]) > 0
    req = gemini.mock.mock.requests[-1]
    assert req["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert req["headers"]["x-goog-api-key"] == KEY and "authorization" not in req["headers"]
    assert req["body"]["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert req["body"]["generationConfig"] == {"maxOutputTokens": 64}


def test_gemini_streaming_with_usage(gemini: GatewayStack) -> None:
    chunks = list(
        _sdk(gemini).chat.completions.create(
            model="gemini", messages=[{"role": "user", "content": "count to three"}], stream=True,
            stream_options={"include_usage": True},
        )
    )  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "mock reply from gemini-2.5-flash: count to three"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert gemini.mock.mock.requests[-1]["path"] == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"


def test_gemini_tool_round_trip(gemini: GatewayStack) -> None:
    sdk = _sdk(gemini)
    messages: list[Any] = [{"role": "user", "content": "weather in Paris"}]
    first = sdk.chat.completions.create(model="gemini", messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    assert first.choices[0].finish_reason == "tool_calls"
    (call,) = first.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"query": "weather in Paris"}
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'}]  # fmt: skip
    second = sdk.chat.completions.create(model="gemini", messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    assert second.choices[0].message.content == 'mock reply from gemini-2.5-flash: get_weather said {"temp_c":21}'
    sent = gemini.mock.mock.requests[-1]["body"]["contents"]
    # the mock's thought signature went back with the call, and the tool result is named after the call it answers
    assert sent[1]["parts"][0]["thoughtSignature"] == "bW9jay1zaWduYXR1cmU="
    assert sent[2] == {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                                                                      "response": {"temp_c": 21}}}]}  # fmt: skip
    streamed = list(sdk.chat.completions.create(model="gemini", messages=messages[:1], tools=TOOLS, stream=True))  # type: ignore[arg-type]
    calls = [tc for c in streamed if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert len(calls) == 1 and calls[0].function is not None and calls[0].function.name == "get_weather"


def test_gemini_json_schema_response_format(gemini: GatewayStack) -> None:
    schema = {"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"]}
    resp = _sdk(gemini).chat.completions.create(
        model="gemini", messages=[{"role": "user", "content": "answer in json"}],
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}},
    )  # fmt: skip
    assert json.loads(resp.choices[0].message.content or "")["reply"].startswith("mock reply")
    config = gemini.mock.mock.requests[-1]["body"]["generationConfig"]
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": schema}


def test_gemini_refusals_are_clear_client_errors(gemini: GatewayStack) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        _sdk(gemini).chat.completions.create(model="gemini", messages=[{"role": "user", "content": "x [blocked]"}])
    assert err.value.code == "content_filter" and "SAFETY" in str(err.value)
    with pytest.raises(openai.BadRequestError) as err:
        _sdk(gemini).completions.create(model="gemini", prompt="hi")
    assert "only chat completions" in str(err.value)
    gemini.mock.fault("gemini-2.5-flash", "429")  # Google's RESOURCE_EXHAUSTED, with RetryInfo
    with pytest.raises(openai.RateLimitError) as rate:
        _sdk(gemini).chat.completions.create(model="gemini", messages=[{"role": "user", "content": "hi"}])
    assert "Resource has been exhausted" in str(rate.value)


def test_gemini_wrong_api_key_is_a_clear_4xx() -> None:
    with GatewayStack(lambda url: gemini_config(url, key="wrong-key"), gemini_api_key=KEY) as s:
        for stream in (False, True):
            with pytest.raises(openai.BadRequestError) as err:
                _sdk(s).chat.completions.create(
                    model="gemini", messages=[{"role": "user", "content": "hi"}], stream=stream
                )
            assert err.value.status_code == 400 and err.value.code == "API_KEY_INVALID"
            assert "API key not valid" in str(err.value)


# ----------------------------------------------------------------------------------------------------- Vertex AI


@pytest.fixture(scope="module")
def rsa_key() -> tuple[str, str]:
    """A throwaway service-account key: (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def write_service_account(path: Path, private_pem: str, token_uri: str, project: str = "sa-project") -> Path:
    path.write_text(json.dumps({
        "type": "service_account", "project_id": project, "private_key_id": KEY_ID, "private_key": private_pem,
        "client_email": "wayfare-test@sa-project.iam.gserviceaccount.com", "client_id": "1234567890",
        "token_uri": token_uri,
    }))  # fmt: skip
    return path


def vertex_template(tmp: Path, private_pem: str, extra: str = "vertex_project: my-project, ") -> Any:
    def config(url: str) -> GatewayConfig:
        root = url.removesuffix("/v1")  # the mock stands in for {location}-aiplatform.googleapis.com and oauth2
        sa = write_service_account(tmp / "sa.json", private_pem, root + "/token")
        return parse_config(f"""
models:
  - {{name: vertex-gemini, provider: vertex, model: gemini-2.5-pro, base_url: {root}, {extra}
      vertex_location: europe-west4, vertex_credentials: {sa}, input_price: 1.25, output_price: 10}}
retry: {{max_retries: 0, backoff_base: 0.01}}
database_url: none
""")

    return config


@pytest.fixture(scope="module")
def vertex(tmp_path_factory: pytest.TempPathFactory, rsa_key: tuple[str, str]) -> Iterator[GatewayStack]:
    template = vertex_template(tmp_path_factory.mktemp("vertex"), rsa_key[0])
    with GatewayStack(template, google_public_keys={KEY_ID: rsa_key[1]}) as s:
        yield s


def test_vertex_chat_stream_tools_and_json_with_one_token(vertex: GatewayStack) -> None:
    sdk = _sdk(vertex)
    raw = sdk.chat.completions.with_raw_response.create(
        model="vertex-gemini", messages=[{"role": "user", "content": "hello vertex"}]
    )
    assert raw.parse().choices[0].message.content == "mock reply from gemini-2.5-pro: hello vertex"
    assert float(raw.headers["x-wayfare-cost-usd"]) > 0
    chunks = list(sdk.chat.completions.create(model="vertex-gemini", messages=[{"role": "user", "content": "go"}],
                                              stream=True, stream_options={"include_usage": True}))  # fmt: skip
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).endswith(": go")
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    tool = sdk.chat.completions.create(
        model="vertex-gemini", messages=[{"role": "user", "content": "weather"}], tools=TOOLS, tool_choice="required"
    )  # type: ignore[arg-type]
    assert (tool.choices[0].message.tool_calls or [])[0].function.name == "get_weather"
    fmt = sdk.chat.completions.create(model="vertex-gemini", messages=[{"role": "user", "content": "json"}],
                                      response_format={"type": "json_object"})  # fmt: skip
    assert "reply" in json.loads(fmt.choices[0].message.content or "")
    prefix = "/v1/projects/my-project/locations/europe-west4/publishers/google/models/gemini-2.5-pro:"
    reqs = list(vertex.mock.mock.requests)[-4:]
    assert [r["path"] for r in reqs] == [prefix + op for op in
                                         ("generateContent", "streamGenerateContent", "generateContent",
                                          "generateContent")]  # fmt: skip
    tokens = {r["headers"]["authorization"] for r in reqs}
    assert len(tokens) == 1 and next(iter(tokens)).startswith("Bearer ya29.mock-")
    assert vertex.mock.mock.google.tokens_issued == 1  # fetched once, reused by every request


def test_vertex_refreshes_an_expiring_token(tmp_path: Path, rsa_key: tuple[str, str]) -> None:
    # 60 s is inside google-auth's refresh margin: every request finds the token expiring and gets a new one
    template = vertex_template(tmp_path, rsa_key[0], extra="")
    with GatewayStack(template, google_public_keys={KEY_ID: rsa_key[1]}, google_token_ttl=60) as s:
        for _ in range(2):
            _sdk(s).chat.completions.create(model="vertex-gemini", messages=[{"role": "user", "content": "hi"}])
        assert s.mock.mock.google.tokens_issued == 2
        # without vertex_project the service account's project_id is used
        assert s.mock.mock.requests[-1]["path"].startswith("/v1/projects/sa-project/locations/europe-west4/")


def test_vertex_token_signed_by_an_unknown_key_is_a_clear_error(tmp_path: Path, rsa_key: tuple[str, str]) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = (
        other.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with GatewayStack(vertex_template(tmp_path, rsa_key[0]), google_public_keys={KEY_ID: other_pem}) as s:
        with pytest.raises(openai.APIStatusError) as err:
            _sdk(s).chat.completions.create(model="vertex-gemini", messages=[{"role": "user", "content": "hi"}])
        assert err.value.status_code == 502 and "access token" in str(err.value)
        assert "Invalid JWT Signature" in str(err.value) and s.mock.mock.request_count == 0


def test_bad_vertex_credentials_are_a_startup_error(tmp_path: Path) -> None:
    base = "models:\n  - {name: v, provider: vertex, vertex_project: p, vertex_credentials: %s}\n"
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match=r"model 'v': cannot load vertex_credentials .*nope\.json"):
        GatewayStack(lambda _url: parse_config(base % missing)).start()
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(ConfigError, match="model 'v': cannot load vertex_credentials"):
        GatewayStack(lambda _url: parse_config(base % garbage)).start()


def test_google_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="provider openai needs base_url"):
        parse_config("models:\n  - {name: m}\n")
    with pytest.raises(ConfigError, match="apply to provider vertex only"):
        parse_config("models:\n  - {name: m, provider: gemini, vertex_project: p}\n")
    cfg = parse_config("models:\n  - {name: m, provider: gemini, api_key: os.environ/GEMINI_API_KEY}\n")
    assert cfg.models[0].base_url is None  # Google's endpoint by default


def test_vertex_concurrent_first_requests_share_one_token_and_a_revoked_one_is_replaced(
    tmp_path: Path, rsa_key: tuple[str, str]
) -> None:
    with GatewayStack(vertex_template(tmp_path, rsa_key[0]), google_public_keys={KEY_ID: rsa_key[1]}) as s:

        def ask(i: int) -> str:
            resp = _sdk(s).chat.completions.create(
                model="vertex-gemini", messages=[{"role": "user", "content": f"q{i}"}]
            )
            return resp.choices[0].message.content or ""

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(ask, range(6)))
        assert all(a.endswith(f": q{i}") for i, a in enumerate(answers))
        assert s.mock.mock.google.tokens_issued == 1  # one refresh while the other requests waited for it
        s.mock.mock.google.tokens.clear()  # the upstream forgets (revokes) the token
        assert ask(7).endswith(": q7")  # the 401 made the provider fetch a new token and send again
        assert s.mock.mock.google.tokens_issued == 2
