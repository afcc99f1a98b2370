"""`wayfare serve` (quick start) and `wayfare mock-upstream` as real subprocesses."""

from __future__ import annotations

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
from typer.testing import CliRunner

from wayfare.cli import app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _process(args: list[str], url: str, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-m", "wayfare.cli", *args], cwd=cwd, stderr=subprocess.PIPE)
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
