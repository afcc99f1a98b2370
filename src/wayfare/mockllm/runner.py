"""Run an ASGI app (the mock upstream, or the gateway) as a real uvicorn server on 127.0.0.1 in a thread."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from wayfare.mockllm.faults import FaultPlan
from wayfare.mockllm.server import MockApp


class ThreadedServer:
    """``with ThreadedServer(app) as srv: srv.url`` serves ``app`` on a free port until the block ends."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning") -> None:
        self.app = app
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level=log_level, access_log=False, timeout_graceful_shutdown=2, lifespan="on", loop="asyncio"
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"uvicorn-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        self.server.run(sockets=[self._sock])

    def start(self, timeout: float = 10.0) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"server on {self.url} failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on {self.url} did not start within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class MockUpstream(ThreadedServer):
    """The mock upstream in a thread. ``base_url`` is the OpenAI-style ``.../v1`` URL; ``fault(model, kind)``
    injects faults through the server's control endpoint (so it works the same against a subprocess)."""

    def __init__(self, port: int = 0, **settings: Any) -> None:
        self.mock = MockApp(**settings)
        super().__init__(self.mock, port=port)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def faults(self) -> FaultPlan:
        return self.mock.faults

    def fault(self, model: str, kind: str, times: int = 1) -> None:
        resp = httpx.post(self.url + "/_mock/faults", json={"model": model, "kind": kind, "times": times})
        resp.raise_for_status()

    def __enter__(self) -> MockUpstream:
        self.start()
        return self
