"""Schema migrations (both backends) and database URL handling."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from wayfare.store import SqlRequestLogStore, normalise_url, open_store
from wayfare.store.migrations import LATEST_VERSION, MIGRATIONS
from wayfare.store.schema import INDEXES


def _versions(store: SqlRequestLogStore) -> list[int]:
    with store.engine.connect() as conn:
        return list(conn.scalars(sa.text("SELECT version FROM wayfare_schema_version ORDER BY version")))


def test_open_applies_all_steps_once_and_reopen_is_a_no_op(database_url: str) -> None:
    first = open_store(database_url)
    assert isinstance(first, SqlRequestLogStore)
    assert first.schema_version() == LATEST_VERSION == len(MIGRATIONS)
    again = open_store(database_url)
    assert isinstance(again, SqlRequestLogStore)
    assert _versions(again) == list(range(1, LATEST_VERSION + 1))
    indexes = {ix["name"] for ix in sa.inspect(again.engine).get_indexes("request_log")}
    assert {name for name, _, unique in INDEXES if not unique} <= indexes
    first.close()
    again.close()


def test_concurrent_opens_migrate_exactly_once(database_url: str) -> None:
    start = threading.Barrier(6)

    def open_one(_: int) -> SqlRequestLogStore:
        start.wait()
        opened = open_store(database_url)
        assert isinstance(opened, SqlRequestLogStore)
        return opened

    with ThreadPoolExecutor(max_workers=6) as pool:
        stores = list(pool.map(open_one, range(6), timeout=60))  # an exception in an opener is raised here
    assert len(stores) == 6
    assert _versions(stores[0]) == list(range(1, LATEST_VERSION + 1))
    for opened in stores:
        opened.close()


def test_database_newer_than_code_is_refused(database_url: str) -> None:
    store = open_store(database_url)
    assert isinstance(store, SqlRequestLogStore)
    with store.engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO wayfare_schema_version (version, description, applied_at) VALUES (:v, 'x', :t)"),
            {"v": LATEST_VERSION + 1, "t": "2030-01-01 00:00:00"},
        )
    store.close()
    with pytest.raises(RuntimeError, match="newer than this Wayfare"):
        open_store(database_url)


def test_default_url_is_a_sqlite_file_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store(None)
    assert store.backend == "sqlite"
    assert (tmp_path / "wayfare.db").is_file()
    assert isinstance(store, SqlRequestLogStore)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "unsupported database URL scheme"),
        ("sqlite://", "in-memory SQLite is not supported"),
        ("sqlite:////nonexistent-dir-xyz/wayfare.db", "directory does not exist"),
        ("postgresql://u@localhost", "names no database"),
        ("not a url", "not a database URL"),
    ],
)
def test_bad_urls_get_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalise_url(url)


def test_url_aliases_map_to_our_drivers() -> None:
    assert normalise_url("postgres://u:secret@h:5433/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").database == "x.db"
