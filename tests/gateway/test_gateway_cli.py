"""`wayfare serve` (quick start, and a config with every provider kind) and `wayfare mock-upstream` as real
subprocesses."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from wayfare.cli import app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _process(
    args: list[str], url: str, cwd: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-m", "wayfare.cli", *args], cwd=cwd, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{args[0]} did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
                    ) from None
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()  # SIGTERM: graceful shutdown, the request log is flushed
        proc.wait(timeout=30)


def test_quickstart_serve_against_mock_upstream_subprocess(tmp_path: Path) -> None:
    mock_port, gw_port = _free_port(), _free_port()
    with _process(["mock-upstream", "--port", str(mock_port)], f"http://127.0.0.1:{mock_port}/health", tmp_path):
        serve = [
            "serve",
            "--base-url",
            f"http://127.0.0.1:{mock_port}/v1",
            "--strong-model",
            "mock-strong",
            "--weak-model",
            "mock-weak",
            "--router",
            "random",
            "--port",
            str(gw_port),
        ]
        with _process(serve, f"http://127.0.0.1:{gw_port}/ready", tmp_path):
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{gw_port}/v1", api_key="x", max_retries=0)
            ids = []
            for i in range(5):
                raw = client.chat.completions.with_raw_response.create(
                    model="auto", messages=[{"role": "user", "content": f"quick start {i}"}]
                )
                assert raw.parse().model in ("mock-strong", "mock-weak") and raw.headers["x-wayfare-route"] == "auto"
                ids.append(raw.headers["x-wayfare-request-id"])
            assert (
                client.chat.completions.create(
                    model="router-random-0.0", messages=[{"role": "user", "content": "x"}]
                ).model
                == "mock-strong"
            )
    # the SQLite log in the working directory has every request, flushed at shutdown
    with sqlite3.connect(tmp_path / "wayfare.db") as db:
        rows = db.execute("select request_id, route, status from request_log").fetchall()
    assert {r[0] for r in rows} >= set(ids) and all(r[2] == 200 for r in rows) and len(rows) == 6


def test_serve_bad_input_is_a_one_line_error(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2 and "--base-url" in result.output
    bad = tmp_path / "w.yaml"
    bad.write_text("models:\n  - name: a\n    base_url: nope\n")
    result = runner.invoke(app, ["serve", "--config", str(bad)])
    assert result.exit_code == 2 and f"{bad}:3: models.0.base_url" in result.output


AWS_ISOLATED = {  # botocore's chain must see only what the config gives: no ~/.aws files, no instance metadata
    "AWS_CONFIG_FILE": "/nonexistent/wayfare-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/wayfare-aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _service_account(tmp: Path, token_uri: str) -> tuple[Path, Path]:
    """A throwaway service account: (its JSON key file, its public key PEM file)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp / "sa.pub.pem").write_bytes(public)
    (tmp / "sa.json").write_text(json.dumps({
        "type": "service_account", "project_id": "sa-project", "private_key_id": "k1", "private_key": private,
        "client_email": "wayfare-e2e@sa-project.iam.gserviceaccount.com", "client_id": "1", "token_uri": token_uri,
    }))  # fmt: skip
    return tmp / "sa.json", tmp / "sa.pub.pem"


def test_serve_a_config_with_every_provider_and_two_deployments(tmp_path: Path) -> None:
    mock_port, gw_port = _free_port(), _free_port()
    root = f"http://127.0.0.1:{mock_port}"
    sa, public = _service_account(tmp_path, root + "/token")
    mock = ["mock-upstream", "--port", str(mock_port), "--azure-api-key", "az-key", "--gemini-api-key", "g-key",
            "--google-public-key", f"k1={public}", "--bedrock-credentials", "AKIDE2E:aws-secret"]  # fmt: skip
    (tmp_path / "wayfare.yaml").write_text(f"""
models:
  - {{name: gpt-4o, provider: azure, base_url: {root}, deployment: prod, api_version: "2024-10-21",
      api_key: az-key, id: azure-east, input_price: 2.5, output_price: 10}}
  - {{name: gpt-4o, model: mock-strong, base_url: {root}/v1, id: direct, input_price: 2.5, output_price: 10}}
  - {{name: claude, provider: bedrock, model: anthropic.claude-3-5-sonnet-20240620-v1:0, base_url: {root},
      aws_region_name: us-east-1, aws_access_key_id: AKIDE2E, aws_secret_access_key: os.environ/E2E_AWS_SECRET,
      input_price: 3, output_price: 15}}
  - {{name: flash, provider: gemini, model: gemini-2.5-flash, base_url: {root}, api_key: g-key,
      input_price: 0.3, output_price: 2.5}}
  - {{name: pro, provider: vertex, model: gemini-2.5-pro, base_url: {root}, vertex_project: p,
      vertex_location: us-central1, vertex_credentials: {sa}, input_price: 1.25, output_price: 10}}
load_balancing: {{seed: 3}}
database_url: none
""")
    env = {**os.environ, **AWS_ISOLATED, "E2E_AWS_SECRET": "aws-secret"}
    with _process(mock, f"{root}/health", tmp_path):
        serve = ["serve", "--config", str(tmp_path / "wayfare.yaml"), "--port", str(gw_port)]
        with _process(serve, f"http://127.0.0.1:{gw_port}/ready", tmp_path, env):
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{gw_port}/v1", api_key="x", max_retries=0)
            for model in ("claude", "flash", "pro", "gpt-4o"):
                raw = client.chat.completions.with_raw_response.create(
                    model=model, messages=[{"role": "user", "content": f"hello {model}"}]
                )
                resp = raw.parse()
                assert resp.model == model and f"hello {model}" in str(resp.choices[0].message.content)
                assert float(raw.headers["x-wayfare-cost-usd"]) > 0
                chunks = list(client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "count"}], stream=True,
                    stream_options={"include_usage": True},
                ))  # fmt: skip
                assert any(c.choices and c.choices[0].delta.content for c in chunks), model
                assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0, model
            served = {
                client.chat.completions.with_raw_response.create(
                    model="gpt-4o", messages=[{"role": "user", "content": f"spread {i}"}]
                ).headers["x-wayfare-deployment"]
                for i in range(12)
            }
            assert served == {"azure-east", "direct"}


def test_serve_stops_with_a_clear_error_on_bad_credentials(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"models:\n  - {{name: pro, provider: vertex, model: m, vertex_project: p,\n"
                   f"      vertex_credentials: {tmp_path / 'missing.json'}}}\n")  # fmt: skip
    out = subprocess.run([sys.executable, "-m", "wayfare.cli", "serve", "--config", str(bad)], capture_output=True,
                         text=True, timeout=60, env={**os.environ, **AWS_ISOLATED})  # fmt: skip
    assert out.returncode != 0 and "model 'pro'" in out.stderr + out.stdout and "gateway on" not in out.stdout
    bad.write_text("models:\n  - {name: claude, provider: bedrock, model: m, aws_region_name: us-east-1}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    out = subprocess.run([sys.executable, "-m", "wayfare.cli", "serve", "--config", str(bad)], capture_output=True,
                         text=True, timeout=60, env={**env, **AWS_ISOLATED})  # fmt: skip
    assert out.returncode != 0 and "no AWS credentials found" in out.stderr + out.stdout


def test_workers_without_redis_warn_that_limits_are_counted_per_worker(tmp_path: Path) -> None:
    from wayfare.gateway.cli import per_worker_counts
    from wayfare.gateway.config import parse_config

    limited = parse_config(
        "models:\n  - {name: m, base_url: http://127.0.0.1:9/v1, rpm: 60}\n"
        "governance: {model_limits: {m: {rpm: 10}}, teams: {ml: {max_budget_usd: 5}}}\n"
    )
    warning = per_worker_counts(limited, 4, master_key="sk-admin")
    assert warning is not None and "4x" in warning and "redis_url" in warning
    for part in ("model rate limits", "team budgets", "virtual keys", "deployment quotas"):
        assert part in warning
    plain = parse_config("models:\n  - {name: m, base_url: http://127.0.0.1:9/v1}\n")
    assert per_worker_counts(plain, 4, master_key=None) is None  # nothing is limited
    assert per_worker_counts(limited, 1, master_key="sk-admin") is None  # one worker counts everything
    with_redis = limited.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"})
    assert per_worker_counts(with_redis, 4, master_key="sk-admin") is None

    # and `wayfare serve --workers 2` prints it before it serves
    port = _free_port()
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        "models:\n  - {name: m, base_url: http://127.0.0.1:9/v1}\n"
        "governance: {model_limits: {m: {rpm: 10}}}\ndatabase_url: none\n"
    )
    args = ["serve", "--config", str(cfg), "--workers", "2", "--port", str(port)]
    with _process(args, f"http://127.0.0.1:{port}/health", tmp_path) as proc:
        pass
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert "warning:" in err and "--workers 2 without redis_url" in err and "model rate limits" in err, err
