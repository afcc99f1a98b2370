"""The same behavioural suite on SQLite and PostgreSQL (see conftest: `store` is parametrised over both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from wayfare.store import RequestLogStore, RequestRecord, SpendRow, SqlRequestLogStore

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def rec(i: int, **overrides: Any) -> RequestRecord:
    fields: dict[str, Any] = {
        "request_id": f"req-{i:05d}",
        "time": T0 + timedelta(minutes=i),
        "key_id": f"key-{i % 3}",
        "team": "red" if i % 2 else "blue",
        "route": "auto" if i % 4 else None,
        "candidates": ["strong-m", "weak-m"],
        "chosen_model": "weak-m" if i % 5 else "strong-m",
        "score": 0.25 + i / 1000,
        "threshold": 0.5,
        "decision_ms": 0.8,
        "input_tokens": 100 + i,
        "output_tokens": 10 + i,
        "cost_usd": 0.001 * (i + 1),
        "counterfactual_cost_usd": 0.004 * (i + 1),
        "latency_ms": 120.5,
        "upstream_ms": 118.0,
    }
    fields.update(overrides)
    return RequestRecord(**fields)


def test_round_trip_keeps_every_field(store: RequestLogStore) -> None:
    full = rec(
        7,
        time=datetime(2025, 3, 1, 14, 0, 0, 654321, tzinfo=timezone(timedelta(hours=2))),
        status=502,
        error_class="UpstreamTimeout",
        attempts=3,
        fallback_used=True,
        stream=True,
        cache_hit=True,
        session_id="sess-1",
        prompt_preview="What is 2+2? ✓",
        metadata={"tags": ["a", "b"], "user": "ü", "n": 1.5},
    )
    sparse = RequestRecord(request_id="sparse", chosen_model="m", time=T0)
    store.write_batch([full, sparse])
    got = store.get(full.request_id)
    assert got == full
    assert got is not None and got.time.utcoffset() == timedelta(0) and got.time == full.time
    assert store.get("sparse") == sparse
    assert store.get("missing") is None


def test_duplicate_request_ids_are_skipped(store: RequestLogStore) -> None:
    store.write_batch([rec(i) for i in range(5)])
    store.write_batch([rec(i, cost_usd=99.0) for i in range(3, 8)])
    assert store.count() == 8
    assert store.get("req-00003") == rec(3)


def test_a_failing_batch_writes_nothing(store: RequestLogStore) -> None:
    bad = rec(3, input_tokens=None)  # NOT NULL violation on the 4th row of the batch
    with pytest.raises(sa.exc.IntegrityError):
        store.write_batch([rec(0), rec(1), rec(2), bad, rec(4)])
    assert store.count() == 0


def test_query_filters_and_order(store: RequestLogStore) -> None:
    records = [rec(i) for i in range(40)]
    store.write_batch(records)
    newest = store.query(limit=5)
    assert [r.request_id for r in newest] == [f"req-{i:05d}" for i in range(39, 34, -1)]
    by_key = store.query(key_id="key-1", limit=1000)
    assert {r.request_id for r in by_key} == {r.request_id for r in records if r.key_id == "key-1"}
    window = store.query(since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=20), limit=1000)
    assert sorted(r.request_id for r in window) == [f"req-{i:05d}" for i in range(10, 20)]
    both = store.query(model="strong-m", route="auto", team="red", limit=1000)
    expected = [r for r in records if r.chosen_model == "strong-m" and r.route == "auto" and r.team == "red"]
    assert {r.request_id for r in both} == {r.request_id for r in expected} and expected
    assert store.count(key_id="key-1", since=T0 + timedelta(minutes=10)) == sum(
        1 for r in records if r.key_id == "key-1" and r.time >= T0 + timedelta(minutes=10)
    )
    with pytest.raises(ValueError, match="limit"):
        store.query(limit=0)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        store.query(since=datetime(2025, 1, 1))


@pytest.mark.parametrize("group_by", ["key", "team", "model", "route"])
def test_spend_by_group_matches_python(store: RequestLogStore, group_by: str) -> None:
    records = [rec(i) for i in range(60)]
    store.write_batch(records)
    since, until = T0 + timedelta(minutes=5), T0 + timedelta(minutes=50)
    attr = {"key": "key_id", "team": "team", "model": "chosen_model", "route": "route"}[group_by]
    expected: dict[str | None, list[RequestRecord]] = {}
    for r in records:
        if since <= r.time < until:
            expected.setdefault(getattr(r, attr), []).append(r)
    rows = store.spend(group_by, since=since, until=until)  # type: ignore[arg-type]
    assert {row.group for row in rows} == set(expected)
    for row in rows:
        group = expected[row.group]
        assert row.requests == len(group)
        assert row.input_tokens == sum(r.input_tokens for r in group)
        assert row.tokens == sum(r.input_tokens + r.output_tokens for r in group)
        assert row.cost_usd == pytest.approx(sum(r.cost_usd for r in group))
        assert row.savings_usd == pytest.approx(sum(r.savings_usd for r in group))
    assert [row.cost_usd for row in rows] == sorted((row.cost_usd for row in rows), reverse=True)


def test_spend_total_and_key_filter(store: RequestLogStore) -> None:
    assert store.spend() == [SpendRow(None, 0, 0, 0, 0.0, 0.0)]
    records = [rec(i) for i in range(30)]
    store.write_batch(records)
    (total,) = store.spend()
    assert total.requests == 30 and total.cost_usd == pytest.approx(sum(r.cost_usd for r in records))
    (one,) = store.spend("key", key_id="key-2", since=T0)
    assert one.group == "key-2" and one.requests == 10
    assert store.spend("key", key_id="nobody") == []
    with pytest.raises(ValueError, match="group_by"):
        store.spend("colour")  # type: ignore[arg-type]


def test_prune_deletes_old_rows_in_batches(store: RequestLogStore) -> None:
    store.write_batch([rec(i) for i in range(250)])
    cutoff = T0 + timedelta(minutes=230)
    result = store.prune(cutoff, batch_size=100)
    assert (result.deleted, result.batches) == (230, 3)
    assert store.count() == 20
    assert min(r.time for r in store.query(limit=100)) == cutoff
    assert store.prune(cutoff, batch_size=100).deleted == 0
    with pytest.raises(ValueError, match="batch_size"):
        store.prune(cutoff, batch_size=0)


def test_spend_for_one_key_uses_the_key_time_index(store: RequestLogStore) -> None:
    assert isinstance(store, SqlRequestLogStore)
    from wayfare.store.queries import LogFilter, spend_statement

    # Enough rows (200 keys x 100 days) that a planner prefers an index when one fits, as on a real log.
    base = datetime(2025, 1, 1, tzinfo=UTC)
    for chunk in range(4):
        store.write_batch(
            [
                rec(n, request_id=f"bulk-{n}", key_id=f"key-{n % 200}", time=base + timedelta(minutes=7 * n))
                for n in range(chunk * 5000, (chunk + 1) * 5000)
            ]
        )
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    where = LogFilter(key_id="key-17", since=base + timedelta(days=30), until=base + timedelta(days=60))
    plan = "\n".join(store.explain(spend_statement("key", where)))
    assert "ix_request_log_key_time" in plan, plan
    assert "Seq Scan" not in plan and "SCAN request_log" not in plan, plan
    # All keys over one day (the spend report): some index, never a full scan.
    day = LogFilter(since=base + timedelta(days=40), until=base + timedelta(days=41))
    report = "\n".join(store.explain(spend_statement("key", day)))
    assert "ix_request_log_" in report, report
    assert "Seq Scan" not in report and "SCAN request_log" not in report, report
