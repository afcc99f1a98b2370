"""RequestLogWriter: batching triggers, graceful close, drops, retries (real stores on both backends)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import pytest

from wayfare.store import RequestLogStore, RequestLogWriter, RequestRecord


def records(n: int, prefix: str = "w") -> list[RequestRecord]:
    return [RequestRecord(request_id=f"{prefix}-{i}", chosen_model="m", cost_usd=0.001) for i in range(n)]


async def wait_for_count(store: RequestLogStore, expected: int, timeout_s: float = 5.0) -> float:
    """Poll the store until it holds `expected` rows; return the seconds it took."""
    start = time.monotonic()
    while (count := await asyncio.to_thread(store.count)) != expected:
        assert count < expected
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"store has {count} rows after {timeout_s}s, expected {expected}")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


class FlakyStore:
    """A real store whose first `failures` write_batch calls raise, as when the database is briefly away."""

    def __init__(self, inner: RequestLogStore, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.calls = 0

    def write_batch(self, batch: Sequence[RequestRecord]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("database unavailable (injected)")
        self.inner.write_batch(batch)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_graceful_close_writes_everything(store: RequestLogStore) -> None:
    async def main() -> None:
        async with RequestLogWriter(store, batch_size=64, flush_interval_ms=10_000) as writer:
            for r in records(1000):
                assert writer.submit(r)
        stats = writer.stats
        assert (stats.submitted, stats.written, stats.pending, stats.dropped) == (1000, 1000, 0, 0)

    asyncio.run(main())
    assert store.count() == 1000
    assert {r.request_id for r in store.query(limit=2000)} == {f"w-{i}" for i in range(1000)}


def test_full_batch_is_written_without_waiting_for_the_interval(store: RequestLogStore) -> None:
    async def main() -> None:
        async with RequestLogWriter(store, batch_size=10, flush_interval_ms=60_000) as writer:
            for r in records(25):
                writer.submit(r)
            await wait_for_count(store, 20)  # two full batches; the 5 left wait for the 60 s interval
            await asyncio.sleep(0.2)
            assert store.count() == 20 and writer.stats.pending == 5
        assert writer.stats.written == 25

    asyncio.run(main())
    assert store.count() == 25


def test_partial_batch_is_written_after_the_interval(store: RequestLogStore) -> None:
    async def main() -> None:
        async with RequestLogWriter(store, batch_size=1000, flush_interval_ms=100) as writer:
            submitted_at = time.monotonic()
            for r in records(3):
                writer.submit(r)
            await wait_for_count(store, 3)
            waited = time.monotonic() - submitted_at
            assert 0.09 <= waited < 3.0, waited

    asyncio.run(main())


def test_flush_waits_for_everything_submitted(store: RequestLogStore) -> None:
    async def main() -> None:
        async with RequestLogWriter(store, batch_size=1000, flush_interval_ms=60_000) as writer:
            for r in records(7):
                writer.submit(r)
            await writer.flush()
            assert await asyncio.to_thread(store.count) == 7

    asyncio.run(main())


def test_full_queue_drops_loudly(store: RequestLogStore, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        writer = RequestLogWriter(store, max_queue=5, flush_interval_ms=60_000)
        with caplog.at_level(logging.ERROR, logger="wayfare.store.writer"):
            accepted = [writer.submit(r) for r in records(8)]
        assert accepted == [True] * 5 + [False] * 3
        assert writer.stats.dropped == 3
        assert "DROPPED" in caplog.text and "queue full" in caplog.text
        await writer.start()
        await writer.aclose()
        assert not writer.submit(records(1, "late")[0])
        assert writer.stats.dropped == 4 and writer.stats.written == 5

    asyncio.run(main())
    assert store.count() == 5


def test_failed_writes_are_retried_without_duplicates(store: RequestLogStore, caplog: pytest.LogCaptureFixture) -> None:
    flaky = FlakyStore(store, failures=2)

    async def main() -> None:
        async with RequestLogWriter(flaky, batch_size=50, flush_interval_ms=20) as writer:  # type: ignore[arg-type]
            for r in records(120):
                writer.submit(r)
            await writer.flush()
        assert writer.stats.failed_writes == 2
        assert writer.stats.written == 120 and writer.stats.lost == 0

    with caplog.at_level(logging.WARNING, logger="wayfare.store.writer"):
        asyncio.run(main())
    assert "will retry" in caplog.text
    assert store.count() == 120


def test_close_gives_up_after_its_timeout_and_says_so(store: RequestLogStore, caplog: pytest.LogCaptureFixture) -> None:
    dead = FlakyStore(store, failures=10**9)

    async def main() -> None:
        writer = RequestLogWriter(dead, flush_interval_ms=60_000, close_timeout_s=0.3)  # type: ignore[arg-type]
        await writer.start()
        for r in records(9):
            writer.submit(r)
        started = time.monotonic()
        await writer.aclose()
        assert time.monotonic() - started < 5.0
        assert (writer.stats.lost, writer.stats.written, writer.stats.pending) == (9, 0, 0)

    with caplog.at_level(logging.ERROR, logger="wayfare.store.writer"):
        asyncio.run(main())
    assert "9 records LOST" in caplog.text
    assert store.count() == 0


def test_writer_rejects_bad_settings(store: RequestLogStore) -> None:
    with pytest.raises(ValueError):
        RequestLogWriter(store, batch_size=0)
    with pytest.raises(ValueError):
        RequestLogWriter(store, flush_interval_ms=0)


def test_a_bad_record_is_rejected_alone(store: RequestLogStore, caplog: pytest.LogCaptureFixture) -> None:
    good = records(9)
    bad = RequestRecord(request_id="bad", chosen_model="m")
    bad.input_tokens = None  # type: ignore[assignment]  # NOT NULL violation: no retry can fix it

    async def main() -> None:
        async with RequestLogWriter(store, batch_size=100, flush_interval_ms=20) as writer:
            for r in [*good[:4], bad, *good[4:]]:
                writer.submit(r)
            await writer.flush()
        assert (writer.stats.written, writer.stats.rejected, writer.stats.pending) == (9, 1, 0)

    with caplog.at_level(logging.ERROR, logger="wayfare.store.writer"):
        asyncio.run(main())
    assert "'bad' REJECTED" in caplog.text
    assert store.count() == 9 and store.get("bad") is None


def test_long_values_are_stored_whole(store: RequestLogStore) -> None:
    long = RequestRecord(request_id="long", chosen_model="m" * 500, error_class="E" * 1000, route="r" * 300)
    store.write_batch([long])
    assert store.get("long") == long
