"""Fixtures for the store suites: every behavioural test runs on SQLite (tmp file) and PostgreSQL (own schema);
`database_url` comes from tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wayfare.store import RequestLogStore, open_store


@pytest.fixture
def store(database_url: str) -> Iterator[RequestLogStore]:
    opened = open_store(database_url)
    try:
        yield opened
    finally:
        opened.close()
