"""The tables of the parts above the store (SQLAlchemy Core): governance, traffic, the router registry, quality targets
and stored Responses. Each part keeps its queries; the store owns every table, so the migrations in
``migrations.py`` create them without importing the parts that use them (the store is the lowest layer).

Like ``schema.py``, this is the *current* shape; the DDL that created it is one migration step per group below
(never edit a released step: add a new one for changes).
"""

from __future__ import annotations

import sqlalchemy as sa

from wayfare.store.schema import JSONType, UTCDateTime, metadata

# --- governance (migration step 2): virtual keys. Spend is not a table of its own: it is the request log
# (request_log.cost_usd by key_id / team and time, answered from the store's indexes); budget counters are seeded
# from it.
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


# --- traffic (migration step 3; step 7 added label_claimed_until): user feedback on requests, and shadow answer
# pairs to be labelled.
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


# --- the router registry (migration step 4): versioned router artifacts per route, one of them active.
router_versions = sa.Table(
    "router_versions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("route", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("artifact", sa.LargeBinary, nullable=False),
    sa.Column("source", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text),
    sa.UniqueConstraint("route", "version", name="ux_router_versions_route_version"),
)


# --- quality targets (migration step 5): every decision of a route's quality-target controller. One row per change
# of decision; the newest row per route is what every replica applies (at start-up too, so a restart keeps the
# certificate). Two replicas computing the same decision from the same labels insert the same
# (route, certificate_id, state, labels): the unique index keeps one row.
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


# --- stored Responses (migration step 6): the Responses API's ``previous_response_id``, per caller.
stored_responses = sa.Table(
    "stored_responses",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Column("key_id", sa.Text),
    sa.Column("response", JSONType, nullable=False),
    sa.Column("messages", JSONType, nullable=False),
)


def create_governance_tables(conn: sa.Connection) -> None:
    """DDL of migration step 2 (never edit: add a new step for changes)."""
    virtual_keys.create(conn)


def create_traffic_tables(conn: sa.Connection) -> None:
    """DDL of migration step 3 (it writes the current shape, step 7's column included)."""
    for table in (feedback, shadow_pairs):
        table.create(conn, checkfirst=True)


def create_registry_tables(conn: sa.Connection) -> None:
    """DDL of migration step 4."""
    router_versions.create(conn, checkfirst=True)


def create_quality_tables(conn: sa.Connection) -> None:
    """DDL of migration step 5."""
    quality_decisions.create(conn, checkfirst=True)


def create_responses_tables(conn: sa.Connection) -> None:
    """DDL of migration step 6."""
    stored_responses.create(conn, checkfirst=True)


def add_label_claims(conn: sa.Connection) -> None:
    """DDL of migration step 7: ``shadow_pairs.label_claimed_until`` (a database whose step 3 already made it, because
    :func:`create_traffic_tables` writes the current shape, is left as it is)."""
    columns = {c["name"] for c in sa.inspect(conn).get_columns("shadow_pairs")}
    if "label_claimed_until" not in columns:
        conn.execute(sa.text("ALTER TABLE shadow_pairs ADD COLUMN label_claimed_until FLOAT"))
