"""The shared service helper in tests/conftest.py: skip when a service is absent, fail when it is required."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path
from types import ModuleType

import pytest


def _conftest() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wayfare_tests_conftest", Path(__file__).with_name("conftest.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def test_absent_service_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAYFARE_REQUIRE_SERVICES", raising=False)
    port = _closed_port()
    with pytest.raises(pytest.skip.Exception, match=f"Redis is not reachable at 127.0.0.1:{port}"):
        _conftest().require_service("Redis", "127.0.0.1", port)


def test_absent_required_service_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYFARE_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="WAYFARE_REQUIRE_SERVICES=1 requires it"):
        _conftest().require_service("PostgreSQL", "127.0.0.1", _closed_port())


def test_present_service_passes() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        _conftest().require_service("echo", "127.0.0.1", server.getsockname()[1])
