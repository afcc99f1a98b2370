"""Versioned schema migrations, applied when a store is opened.

The `wayfare_schema_version` table holds one row per applied step. `migrate` runs every pending step, in order,
inside ONE transaction that first takes an exclusive lock, so two replicas opening the same database at once
cannot both apply a step:

- PostgreSQL: `pg_advisory_xact_lock` on a key derived from the current schema (released at commit/rollback);
  DDL is transactional, so a failed step leaves the schema as it was.
- SQLite: `BEGIN IMMEDIATE` (the database write lock); DDL is transactional there too.

Rules for new steps: append a `Migration` with the next version number; never edit or reorder a released step;
write explicit DDL for changes (ALTER TABLE ... / CREATE INDEX ...) and update `schema.py` or `tables.py` to the new
shape. Every table is defined in this package, so migrating imports nothing above the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from wayfare.store.record import utcnow
from wayfare.store.schema import INDEXES, request_log, schema_version
from wayfare.store.tables import (
    add_label_claims,
    create_governance_tables,
    create_quality_tables,
    create_registry_tables,
    create_responses_tables,
    create_traffic_tables,
)

LOCK_NAMESPACE = "wayfare.store.migrate:"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sa.Connection], None]


def _v1_request_log(conn: sa.Connection) -> None:
    request_log.create(conn)  # CREATE TABLE and CREATE INDEX for every index in schema.INDEXES


def _v2_governance(conn: sa.Connection) -> None:
    create_governance_tables(conn)


def _v3_traffic(conn: sa.Connection) -> None:
    create_traffic_tables(conn)


def _v4_router_registry(conn: sa.Connection) -> None:
    create_registry_tables(conn)


def _v5_quality(conn: sa.Connection) -> None:
    create_quality_tables(conn)


def _v6_responses(conn: sa.Connection) -> None:
    create_responses_tables(conn)


def _v7_label_claims(conn: sa.Connection) -> None:
    add_label_claims(conn)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "request_log table and its indexes", _v1_request_log),
    Migration(2, "governance: virtual_keys table", _v2_governance),
    Migration(3, "traffic: feedback and shadow_pairs tables", _v3_traffic),
    Migration(4, "traffic: router_versions table (the router registry)", _v4_router_registry),
    Migration(5, "quality: quality_decisions table (quality-target certificates)", _v5_quality),
    Migration(6, "gateway: stored_responses table (the Responses API's previous_response_id)", _v6_responses),
    Migration(7, "traffic: shadow_pairs.label_claimed_until (one replica's judge per pair)", _v7_label_claims),
)
LATEST_VERSION = MIGRATIONS[-1].version

assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1)), "migration versions must be 1..N"
assert {ix.name for ix in request_log.indexes} == {name for name, _, _ in INDEXES}


def _lock(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:ns || current_schema()))"), {"ns": LOCK_NAMESPACE})
    # SQLite: the transaction was opened with BEGIN IMMEDIATE (see sql_store), which is the lock.


def current_version(conn: sa.Connection) -> int:
    """The highest applied schema version (0 for an empty database)."""
    if not sa.inspect(conn).has_table(schema_version.name):
        return 0
    return int(conn.scalar(sa.select(sa.func.coalesce(sa.func.max(schema_version.c.version), 0))) or 0)


def migrate(engine: sa.Engine) -> list[int]:
    """Apply all pending migrations under the lock; return the versions applied (empty if up to date)."""
    applied: list[int] = []
    with engine.connect().execution_options(wayfare_immediate=True) as conn, conn.begin():
        _lock(conn)
        schema_version.create(conn, checkfirst=True)
        current = current_version(conn)
        if current > LATEST_VERSION:
            raise RuntimeError(
                f"database schema version {current} is newer than this Wayfare understands ({LATEST_VERSION}): "
                "upgrade Wayfare"
            )
        for step in MIGRATIONS:
            if step.version <= current:
                continue
            step.apply(conn)
            conn.execute(
                sa.insert(schema_version).values(
                    version=step.version, description=step.description, applied_at=utcnow()
                )
            )
            applied.append(step.version)
    return applied
