"""The ``quality_decisions`` table: every decision of a route's quality-target controller (migration step 5).

One row per change of decision; the newest row per route is what every replica applies (at start-up too, so a
restart keeps the certificate). Two replicas computing the same decision from the same labels insert the same
``(route, certificate_id, state, labels)``: the unique index keeps one row.
"""

from __future__ import annotations

import sqlalchemy as sa

from wayfare.store.schema import JSONType, UTCDateTime

metadata = sa.MetaData()

quality_decisions = sa.Table(
    "quality_decisions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Column("route", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("threshold", sa.Float),
    sa.Column("certificate_id", sa.Text),
    sa.Column("labels", sa.Integer, nullable=False),
    sa.Column("bound", sa.Float),
    sa.Column("strong_share", sa.Float),
    sa.Column("realised", sa.Float),
    sa.Column("saving", JSONType, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)
sa.Index(
    "ux_quality_decisions_key",
    quality_decisions.c.route,
    quality_decisions.c.certificate_id,
    quality_decisions.c.state,
    quality_decisions.c.labels,
    unique=True,
)


def create_quality_tables(conn: sa.Connection) -> None:
    """DDL of migration step 5."""
    metadata.create_all(conn)
