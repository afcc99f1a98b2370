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
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

import psycopg
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


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards; yields a URL whose search_path is that schema."""
    schema = f"wayfare_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Each test using it runs twice: on a SQLite file and on PostgreSQL in its own schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db')}/wayfare.db"
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL scoped to a fresh schema (dropped after the test)."""
    with postgres_schema(postgres_url) as url:
        yield url
