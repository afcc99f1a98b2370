"""Traffic tables (SQLAlchemy Core): user feedback on requests, and shadow answer pairs to be labelled.

Created by the store's migration step 3 (never edit a released step: add a new one for changes).
"""

from __future__ import annotations

import sqlalchemy as sa

from wayfare.store.schema import JSONType, UTCDateTime

metadata = sa.MetaData()

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.Text, nullable=False),
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Column("rating", sa.SmallInteger),
    sa.Column("score", sa.Float),
    sa.Column("text", sa.Text),
    sa.Column("key_id", sa.Text),
)
sa.Index("ix_feedback_request_id", feedback.c.request_id)

shadow_pairs = sa.Table(
    "shadow_pairs",
    metadata,
    sa.Column("request_id", sa.Text, primary_key=True),
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Column("route", sa.Text),
    sa.Column("messages", JSONType, nullable=False),
    sa.Column("routed_model", sa.Text, nullable=False),
    sa.Column("routed_answer", sa.Text, nullable=False),
    sa.Column("other_model", sa.Text, nullable=False),
    sa.Column("other_answer", sa.Text),
    sa.Column("strong_model", sa.Text, nullable=False),
    sa.Column("weak_model", sa.Text, nullable=False),
    sa.Column("strong_score", sa.Float),
    sa.Column("weak_score", sa.Float),
    sa.Column("label_method", sa.Text),
    sa.Column("label_claimed_until", sa.Float),
    # seconds since the epoch until which one replica's judge holds the pair (migration step 7); NULL: free
)
sa.Index("ix_shadow_pairs_time", shadow_pairs.c.time)


def create_traffic_tables(conn: sa.Connection) -> None:
    """DDL of migration step 3."""
    metadata.create_all(conn)


def add_label_claims(conn: sa.Connection) -> None:
    """DDL of migration step 7: ``shadow_pairs.label_claimed_until`` (a database whose step 3 already made it, because
    :func:`create_traffic_tables` writes the current shape, is left as it is)."""
    columns = {c["name"] for c in sa.inspect(conn).get_columns("shadow_pairs")}
    if "label_claimed_until" not in columns:
        conn.execute(sa.text("ALTER TABLE shadow_pairs ADD COLUMN label_claimed_until FLOAT"))
