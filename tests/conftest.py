"""Shared test helpers: external services (PostgreSQL, Redis) that tests may need.

A test that needs a service asks for the `postgres_url` or `redis_url` fixture (or calls `require_service`).
When the service is unreachable the test is SKIPPED with the reason, unless WAYFARE_REQUIRE_SERVICES=1 (CI), in
which case it FAILS: a CI run must not pass by skipping what it was meant to test.

Addresses: WAYFARE_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) and
WAYFARE_TEST_REDIS_URL (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def services_required() -> bool:
    return os.environ.get("WAYFARE_REQUIRE_SERVICES", "") == "1"


def require_service(name: str, host: str, port: int, timeout_s: float = 1.0) -> None:
    """Skip the calling test if nothing listens on host:port (fail instead when WAYFARE_REQUIRE_SERVICES=1)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except OSError as exc:
        reason = f"{name} is not reachable at {host}:{port} ({exc.strerror or exc})"
    if services_required():
        pytest.fail(f"{reason}, and WAYFARE_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(f"{reason}; set WAYFARE_REQUIRE_SERVICES=1 to make this a failure")


def _require_url(name: str, url: str, default_port: int) -> str:
    parts = urlsplit(url)
    require_service(name, parts.hostname or "127.0.0.1", parts.port or default_port)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a reachable PostgreSQL database (trust auth); tests must isolate themselves (own schema or prefix)."""
    return _require_url("PostgreSQL", os.environ.get("WAYFARE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL), 5432)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a reachable Redis; tests must isolate themselves (own key prefix) and clean up."""
    return _require_url("Redis", os.environ.get("WAYFARE_TEST_REDIS_URL", DEFAULT_REDIS_URL), 6379)
