"""Replicas sharing one database judge each shadow pair once: claims on unlabelled pairs (both backends), claims that
run out, released claims, concurrent claimers, and the migration that adds the claim column to an older database."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from wayfare.store import SqlRequestLogStore, open_store
from wayfare.store.tables import shadow_pairs
from wayfare.traffic.label import claim_unlabelled_pairs, release_claims

NOW = 1_800_000_000.0


def seeded(url: str, n: int, labelled: int = 0) -> sa.Engine:
    """A migrated store with n shadow pairs of route ``auto``; the first ``labelled`` already carry a label."""
    store = open_store(url)
    assert isinstance(store, SqlRequestLogStore)
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    rows = [
        {"request_id": f"r{i:03d}", "time": t0 + timedelta(seconds=i), "route": "auto",
         "messages": [{"role": "user", "content": f"q{i}"}], "routed_model": "big", "routed_answer": "a",
         "other_model": "small", "other_answer": "b", "strong_model": "big", "weak_model": "small",
         "strong_score": 1.0 if i < labelled else None, "weak_score": 0.0 if i < labelled else None,
         "label_method": "judge" if i < labelled else None}
        for i in range(n)
    ]  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(sa.insert(shadow_pairs), rows)
    return store.engine


def ids(pairs: list[object]) -> set[str]:
    return {p.request_id for p in pairs}  # type: ignore[attr-defined]


def test_a_claimed_pair_is_not_handed_to_another_replica_until_its_claim_runs_out(database_url: str) -> None:
    engine = seeded(database_url, 10, labelled=2)
    first = claim_unlabelled_pairs(engine, "auto", 5, hold_s=60, now=NOW)
    assert ids(first) == {f"r{i:03d}" for i in range(2, 7)}  # oldest unlabelled first, labelled ones never
    second = claim_unlabelled_pairs(engine, "auto", 10, hold_s=60, now=NOW + 1)
    assert ids(second) == {f"r{i:03d}" for i in range(7, 10)}
    assert claim_unlabelled_pairs(engine, "auto", 10, hold_s=60, now=NOW + 2) == []
    assert claim_unlabelled_pairs(engine, "other-route", 10, now=NOW + 2) == []
    # the first replica died: after its claims run out the pairs are free again
    assert ids(claim_unlabelled_pairs(engine, "auto", 10, hold_s=60, now=NOW + 61)) == ids(first)


def test_released_claims_are_free_at_once_and_labelled_pairs_stay_labelled(database_url: str) -> None:
    engine = seeded(database_url, 4)
    claimed = claim_unlabelled_pairs(engine, "auto", 4, hold_s=600, now=NOW)
    assert len(claimed) == 4
    with engine.begin() as conn:  # the judge labelled two of them
        conn.execute(
            sa.update(shadow_pairs)
            .where(shadow_pairs.c.request_id.in_(["r000", "r001"]))
            .values(strong_score=1.0, weak_score=1.0, label_method="judge")
        )
    release_claims(engine, [p.request_id for p in claimed])
    assert ids(claim_unlabelled_pairs(engine, "auto", 10, hold_s=600, now=NOW + 1)) == {"r002", "r003"}


def test_concurrent_claimers_split_the_pairs_without_overlap(database_url: str) -> None:
    engine = seeded(database_url, 40)
    start = threading.Barrier(4)

    def claim(_: int) -> set[str]:
        start.wait()
        return ids(claim_unlabelled_pairs(engine, "auto", 40, hold_s=600, now=NOW))

    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(claim, range(4), timeout=60))  # an exception in a claimer is raised here
    assert sum(len(g) for g in got) == 40 and set().union(*got) == {f"r{i:03d}" for i in range(40)}


def test_an_older_database_gets_the_claim_column(database_url: str) -> None:
    engine = seeded(database_url, 3)
    with engine.begin() as conn:  # back to schema version 6: no claim column
        conn.execute(sa.text("ALTER TABLE shadow_pairs DROP COLUMN label_claimed_until"))
        conn.execute(sa.text("DELETE FROM wayfare_schema_version WHERE version = 7"))
    engine.dispose()
    store = open_store(database_url)
    assert isinstance(store, SqlRequestLogStore)
    assert store.schema_version() == 7
    assert "label_claimed_until" in {c["name"] for c in sa.inspect(store.engine).get_columns("shadow_pairs")}
    assert len(claim_unlabelled_pairs(store.engine, "auto", 10, now=NOW)) == 3  # the rows kept, now claimable
