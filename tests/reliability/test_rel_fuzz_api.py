"""schemathesis against the gateway's own OpenAPI document (GET /openapi.json): valid and invalid requests for every
public operation; never a 5xx of the gateway's making, every error in OpenAI's format, 2xx bodies match the schema."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from wayfare.gateway.testing import GatewayStack

CONFIG = """
models:
  - {{name: strong, model: up-strong, base_url: {url}, input_price: 10, output_price: 30, timeout: 5}}
  - {{name: weak, model: up-weak, base_url: {url}, input_price: 0.5, output_price: 1.5, timeout: 5}}
routes:
  - {{name: auto, router: random, strong: strong, weak: weak}}
  - {{name: broken, router: no-such-router-xyz, strong: strong, weak: weak}}
retry: {{max_retries: 0, deadline: 10}}
database_url: none
"""
MODELS = ["strong", "weak", "auto", "broken", "router-random-0.3"]
OPERATIONS = [
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("POST", "/v1/embeddings"),
    ("GET", "/v1/models"),
    ("GET", "/health"),
    ("GET", "/ready"),
]
EXAMPLES = 40


@pytest.fixture(autouse=True)
def _ieee_floats() -> None:
    """Some native library loaded earlier in the same process (built with -ffast-math) switches this thread's FPU to
    flush subnormals to zero, and hypothesis then refuses to generate floats. Restore the default FP environment
    (glibc's FE_DFL_ENV is the pointer -1) so the fuzzing does not depend on test order."""
    libm = ctypes.util.find_library("m")
    if libm is not None:
        ctypes.CDLL(libm).fesetenv(ctypes.c_void_p(-1))


@pytest.fixture(scope="module")
def stack() -> Iterator[GatewayStack]:
    with GatewayStack(CONFIG) as s:
        yield s


@pytest.fixture(scope="module")
def schema(stack: GatewayStack) -> Any:
    resp = httpx.get(stack.url + "/openapi.json")
    assert resp.status_code == 200
    return schemathesis.openapi.from_dict(resp.json())


def assert_openai_error(resp: Any) -> None:
    body = resp.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert isinstance(err.get("message"), str) and err["message"], body
    assert isinstance(err.get("type"), str) and err["type"], body
    assert "param" in err and "code" in err, body


def test_the_schema_is_served_and_valid(schema: Any) -> None:
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert labels == {f"{m} {p}" for m, p in OPERATIONS}


# GET operations take no input, so there is nothing to make invalid: they are fuzzed in positive mode only.
FUZZ_CASES = [
    pytest.param(method, path, mode, id=f"{method}-{path}-{mode.value}")
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if method == "POST" or mode is GenerationMode.POSITIVE
]


@pytest.mark.parametrize(("method", "path", "mode"), FUZZ_CASES)
def test_fuzzed_requests_never_5xx_and_errors_are_openai_shaped(
    stack: GatewayStack, schema: Any, method: str, path: str, mode: GenerationMode
) -> None:
    op = schema[path][method]
    seen: dict[int, int] = {}

    @settings(
        max_examples=EXAMPLES if method == "POST" else 10,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode), model=st.sampled_from([*MODELS, None]))
    def run(case: Any, model: str | None) -> None:
        if model is not None and isinstance(case.body, dict):
            case.body["model"] = model  # reach the upstream path, not only "unknown model"
        resp = case.call(base_url=stack.url, timeout=30)
        seen[resp.status_code] = seen.get(resp.status_code, 0) + 1
        assert resp.status_code < 500 or (path == "/ready" and resp.status_code == 503), (
            resp.status_code,
            case.body,
            resp.text[:500],
        )
        if resp.status_code >= 400:
            assert_openai_error(resp)
        elif mode is GenerationMode.POSITIVE and "json" in str(resp.headers.get("content-type")):
            op.validate_response(resp)

    run()
    if method == "POST" and mode is GenerationMode.POSITIVE:
        assert seen.get(200, 0) > 0, seen  # the fuzzing reached the upstream, not only validation errors
