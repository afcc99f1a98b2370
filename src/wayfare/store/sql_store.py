"""SQLite and PostgreSQL request-log store on SQLAlchemy 2 Core (sync engine; pooled, thread-safe)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from wayfare.store import migrations
from wayfare.store.base import RequestLogStore
from wayfare.store.bulk_insert import driver_rows, insert_sql
from wayfare.store.queries import LogFilter, count_statement, prune_statement, recent_statement, spend_statement
from wayfare.store.record import RECORD_FIELDS, GroupBy, PruneResult, RequestRecord, SpendRow
from wayfare.store.schema import request_log

DEFAULT_SQLITE_FILE = "wayfare.db"
SQLITE_BUSY_TIMEOUT_S = 30.0


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def normalise_url(database_url: str | None) -> URL:
    """Map a user's database URL to a SQLAlchemy URL with our drivers; None means ./wayfare.db (SQLite).

    Accepted: sqlite:///relative/path.db, sqlite:////absolute/path.db, postgresql://user@host:port/db (also
    postgres:// and postgresql+psycopg://). Anything else is a ValueError with a one-line reason.
    """
    if database_url is None or not database_url.strip():
        return URL.create("sqlite", database=DEFAULT_SQLITE_FILE)
    try:
        url = make_url(database_url.strip())
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {database_url!r} (use sqlite:///path.db or postgresql://...)") from exc
    backend, _, driver = url.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        if not url.database or url.database == ":memory:":
            raise ValueError("in-memory SQLite is not supported: give a file, e.g. sqlite:///wayfare.db")
        parent = Path(url.database).expanduser().resolve().parent
        if not parent.is_dir():
            raise ValueError(f"SQLite database directory does not exist: {parent}")
        return url.set(drivername="sqlite")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        if not url.database:
            raise ValueError(f"PostgreSQL URL names no database: {url.render_as_string(hide_password=True)}")
        return url.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported database URL scheme {url.drivername!r}: use sqlite:///path.db or postgresql://...")


def _set_wal(cursor: Any) -> None:
    """Switch the file to WAL (persistent, so usually a no-op). Switching needs an exclusive lock, and SQLite
    answers "database is locked" at once, without its busy handler, when another connection opens the file at
    the same moment: retry with backoff up to the busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _sqlite_engine(url: URL) -> sa.Engine:
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN, not the sqlite3 module (which defers it oddly).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        _set_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a process kill
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("wayfare_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _postgres_engine(url: URL) -> sa.Engine:
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )


class Explain(Executable, ClauseElement):
    """`EXPLAIN <statement>` with the statement's parameters bound as usual (EXPLAIN QUERY PLAN on SQLite)."""

    inherit_cache = False

    def __init__(self, statement: sa.Select[Any] | sa.Delete) -> None:
        self.statement = statement


@compiles(Explain)
def _compile_explain(element: Explain, compiler: Any, **kw: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if compiler.dialect.name == "sqlite" else "EXPLAIN "
    return prefix + str(compiler.process(element.statement, **kw))


class SqlRequestLogStore:
    """The request log on a SQLAlchemy engine (SQLite or PostgreSQL). Build it with `open_store`."""

    def __init__(self, engine: sa.Engine) -> None:
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect {engine.dialect.name!r}")
        self.engine = engine
        migrations.migrate(engine)
        # Driver-level executemany (psycopg pipelines it); RETURNING would tell how many rows were new but costs ~5x.
        self._insert_sql = insert_sql(engine.dialect.name)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"SqlRequestLogStore({self.url!r})"

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return migrations.current_version(conn)

    def write_batch(self, records: Sequence[RequestRecord]) -> None:
        if not records:
            return
        rows = driver_rows(records, self.engine.dialect.name)
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._insert_sql, rows)

    def get(self, request_id: str) -> RequestRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(request_log).where(request_log.c.request_id == request_id)).one_or_none()
        return None if row is None else _to_record(row._mapping)

    def query(
        self,
        *,
        limit: int = 100,
        key_id: str | None = None,
        team: str | None = None,
        route: str | None = None,
        model: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[RequestRecord]:
        where = LogFilter(key_id=key_id, team=team, route=route, model=model, since=since, until=until)
        with self.engine.connect() as conn:
            rows = conn.execute(recent_statement(where, limit)).all()
        return [_to_record(row._mapping) for row in rows]

    def count(
        self,
        *,
        key_id: str | None = None,
        team: str | None = None,
        route: str | None = None,
        model: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        where = LogFilter(key_id=key_id, team=team, route=route, model=model, since=since, until=until)
        with self.engine.connect() as conn:
            return int(conn.scalar(count_statement(where)) or 0)

    def spend(
        self,
        group_by: GroupBy | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        key_id: str | None = None,
        team: str | None = None,
        route: str | None = None,
        model: str | None = None,
    ) -> list[SpendRow]:
        where = LogFilter(key_id=key_id, team=team, route=route, model=model, since=since, until=until)
        with self.engine.connect() as conn:
            rows = conn.execute(spend_statement(group_by, where)).all()
        return [
            SpendRow(
                group=None if r.group is None else str(r.group),
                requests=int(r.requests),
                input_tokens=int(r.input_tokens),
                output_tokens=int(r.output_tokens),
                cost_usd=float(r.cost_usd),
                counterfactual_cost_usd=float(r.counterfactual_cost_usd),
            )
            for r in rows
        ]

    def prune(self, older_than: datetime, *, batch_size: int = 5000) -> PruneResult:
        statement = prune_statement(older_than, batch_size)
        deleted = batches = 0
        while True:
            with self.engine.begin() as conn:
                n = max(int(conn.execute(statement).rowcount), 0)
            if n:
                deleted += n
                batches += 1
            if n < batch_size:
                return PruneResult(deleted=deleted, batches=batches)

    def explain(self, statement: sa.Select[Any] | sa.Delete) -> list[str]:
        """The backend's query plan for a statement, one line per plan node (for checking index use)."""
        with self.engine.connect() as conn:
            rows = conn.execute(Explain(statement)).all()
        if self.backend == "sqlite":  # EXPLAIN QUERY PLAN rows: (id, parent, notused, detail)
            return [str(row[-1]) for row in rows]
        return [str(row[0]) for row in rows]

    def close(self) -> None:
        self.engine.dispose()


def _to_record(row: Any) -> RequestRecord:
    return RequestRecord(**{name: row[name] for name in RECORD_FIELDS})


def open_store(database_url: str | None = None) -> RequestLogStore:
    """Open (and migrate) the request log. None → SQLite file ./wayfare.db; sqlite:///path; postgresql://...

    Raises ValueError for a malformed or unsupported URL, and SQLAlchemy's OperationalError when the database
    cannot be reached.
    """
    url = normalise_url(database_url)
    engine = _sqlite_engine(url) if url.get_backend_name() == "sqlite" else _postgres_engine(url)
    try:
        return SqlRequestLogStore(engine)
    except BaseException:
        engine.dispose()
        raise
