"""Wayfare's own commands as subprocesses serving HTTP on 127.0.0.1, for benchmarks and the crash tests:
`MockProcess` (`wayfare mock-upstream`) and `GatewayProcess` (`wayfare serve --config`), each ready when its health
endpoint answers, with RSS and CPU readings (psutil)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import psutil  # type: ignore[import-untyped]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wayfare(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "wayfare.cli", *args]


class _Process:
    """A subprocess serving HTTP on 127.0.0.1:``port``; ``start()`` waits until ``health_path`` answers 200."""

    health_path = "/health"

    def __init__(self, cmd: list[str], port: int, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.cmd, self.port, self.cwd = cmd, port, cwd
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = cwd / f"proc-{port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self, timeout: float = 90.0) -> Self:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(self.url + self.health_path, timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"{' '.join(self.cmd[2:5])} did not start: {self.output()[-2000:]}")
            time.sleep(0.1)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 30 s; the exit code (None if it was not running)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()

    def rss_bytes(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)

    def cpu_seconds(self) -> float:
        t = psutil.Process(self.pid).cpu_times()
        return float(t.user + t.system)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class MockProcess(_Process):
    """`wayfare mock-upstream` as a subprocess."""

    def __init__(self, cwd: Path, latency_ms: float = 0.0, chunk_delay_ms: float = 0.0) -> None:
        port = free_port()
        args = ["mock-upstream", "--port", str(port), "--latency-ms", str(latency_ms)]
        super().__init__(_wayfare([*args, "--chunk-delay-ms", str(chunk_delay_ms)]), port, cwd)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"


class GatewayProcess(_Process):
    """`wayfare serve --config <config_text>` as a subprocess (one worker); ready when ``/ready`` answers 200."""

    health_path = "/ready"

    def __init__(self, config_text: str, cwd: Path, env: dict[str, str] | None = None, port: int = 0) -> None:
        self.config_path = cwd / "wayfare.yaml"
        self.config_path.write_text(config_text)
        port = port or free_port()
        super().__init__(_wayfare(["serve", "--config", str(self.config_path), "--port", str(port)]), port, cwd, env)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"
