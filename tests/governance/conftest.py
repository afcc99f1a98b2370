"""Fixtures for the governance suites: SQLite (tmp file) and PostgreSQL (own schema) databases, a Redis client with
its own key prefix (deleted afterwards), and in-process / Redis implementations of each shared interface.
`database_url` and `pg_url` come from tests/conftest.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A unique key prefix; every key under it is deleted after the test."""
    prefix = f"wftest:{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
