"""A real LiteLLM proxy (PyPI, own venv) with Wayfare's hook, in front of the mock upstream: a routed request is
answered by the model Wayfare's router picked; other requests pass through untouched."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from wayfare.gateway.routing import HashScorer
from wayfare.integrations.litellm import LiteLLMRoute, WayfareRouting
from wayfare.mockllm import MockUpstream

KEY = "sk-litellm-master-test"
# the first run installs LiteLLM into its cached venv (minutes on a busy machine)
pytestmark = pytest.mark.timeout(1800)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def proxy(litellm_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, MockUpstream]]:
    tmp = tmp_path_factory.mktemp("litellm")
    with MockUpstream() as mock:
        (tmp / "config.yaml").write_text(f"""
model_list:
  - model_name: gpt-big
    litellm_params: {{model: openai/up-strong, api_base: "{mock.base_url}", api_key: sk-upstream}}
  - model_name: gpt-small
    litellm_params: {{model: openai/up-weak, api_base: "{mock.base_url}", api_key: sk-upstream}}
litellm_settings:
  callbacks: wayfare_hook.proxy_handler_instance
""")
        (tmp / "wayfare_routes.yaml").write_text(
            "routes:\n  - {name: wayfare-auto, router: random, strong: gpt-big, weak: gpt-small, threshold: 0.5}\n"
        )
        (tmp / "wayfare_hook.py").write_text(
            "from pathlib import Path\n"
            "from wayfare.integrations.litellm import WayfareRouting\n"
            "proxy_handler_instance = WayfareRouting.from_yaml(Path(__file__).with_name('wayfare_routes.yaml'))\n"
        )
        port = _free_port()
        env = {**os.environ, "LITELLM_MASTER_KEY": KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
               "LITELLM_LOG": "ERROR", "NO_PROXY": "127.0.0.1,localhost",
               # this checkout's Wayfare, not the one that first built the cached venv (which may be gone)
               "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}  # fmt: skip
        log = open(tmp / "litellm.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [str(litellm_bin), "--config", str(tmp / "config.yaml"), "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(url + "/health/liveliness", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("LiteLLM proxy did not start:\n" + (tmp / "litellm.log").read_text()[-3000:])
                time.sleep(0.5)
            yield url, mock
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def _split() -> tuple[list[str], list[str]]:
    prompts = [f"litellm prompt {i}" for i in range(30)]
    scores = HashScorer().score(prompts)
    return [p for p, s in zip(prompts, scores, strict=True) if s >= 0.5], [
        p for p, s in zip(prompts, scores, strict=True) if s < 0.5
    ]


def test_routed_requests_use_the_model_wayfare_picked(proxy: tuple[str, MockUpstream]) -> None:
    url, mock = proxy
    client = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=30)
    hard, easy = _split()
    for prompt, served, upstream in ((hard[0], "gpt-big", "up-strong"), (easy[0], "gpt-small", "up-weak")):
        raw = client.chat.completions.with_raw_response.create(
            model="wayfare-auto", messages=[{"role": "user", "content": prompt}]
        )
        resp = raw.parse()
        assert resp.choices[0].message.content == f"mock reply from {upstream}: {prompt}"
        assert mock.mock.requests[-1]["body"]["model"] == upstream
        assert raw.headers["x-wayfare-model"] == served
        assert float(raw.headers["x-wayfare-score"]) == pytest.approx(HashScorer().score([prompt])[0], abs=1e-6)
    # RouteLLM-style name with its own threshold
    r = client.chat.completions.create(model="router-random-0.0", messages=[{"role": "user", "content": easy[1]}])
    assert r.choices[0].message.content == f"mock reply from up-strong: {easy[1]}"
    # a plain model name is not touched by the hook
    r = client.chat.completions.create(model="gpt-small", messages=[{"role": "user", "content": hard[1]}])
    assert r.choices[0].message.content == f"mock reply from up-weak: {hard[1]}"


def test_hook_in_process_without_litellm() -> None:
    hook = WayfareRouting([LiteLLMRoute(name="w", router="random", strong="big", weak="small", threshold=0.5)])
    hard, easy = _split()
    data = hook.route_request({"model": "w", "messages": [{"role": "user", "content": easy[0]}]})
    assert data["model"] == "small" and data["metadata"]["wayfare"]["route"] == "w"
    assert hook.route_request({"model": "router-random-1", "messages": [{"role": "user", "content": hard[0]}]})[
        "model"
    ] == ("big" if HashScorer().score([hard[0]])[0] >= 1 else "small")
    untouched = {"model": "gpt-4o", "messages": []}
    assert hook.route_request(dict(untouched)) == untouched
    assert hook.resolve("router-random-1.5") is None
    with pytest.raises(ValueError, match="cannot read"):
        WayfareRouting.from_yaml("/nonexistent/routes.yaml")
