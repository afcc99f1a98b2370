"""Governance tables (SQLAlchemy Core): virtual keys. Created by the store's migration step 2.

Spend is not a table of its own: it is the request log (``request_log.cost_usd`` by ``key_id``/``team`` and time,
answered from the store's (key_id, time) and (team, time) indexes). Budget counters are seeded from it.
"""

from __future__ import annotations

import sqlalchemy as sa

from wayfare.store.schema import JSONType, UTCDateTime

metadata = sa.MetaData()

virtual_keys = sa.Table(
    "virtual_keys",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("key_hint", sa.String(32), nullable=False),
    sa.Column("name", sa.String(200)),
    sa.Column("team", sa.String(128)),
    sa.Column("user_id", sa.String(128)),
    sa.Column("models", JSONType),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("max_budget_usd", sa.Float),
    sa.Column("budget_period", sa.String(16)),
    sa.Column("rpm", sa.Integer),
    sa.Column("tpm", sa.Integer),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)
sa.Index("ux_virtual_keys_hash", virtual_keys.c.key_hash, unique=True)
sa.Index("ix_virtual_keys_team", virtual_keys.c.team)


def create_governance_tables(conn: sa.Connection) -> None:
    """DDL of migration step 2 (never edit: add a new step for changes)."""
    virtual_keys.create(conn)
