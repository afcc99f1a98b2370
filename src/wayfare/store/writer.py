"""Batched, asynchronous request-log writer for the gateway's request path.

`submit(record)` costs a deque append: it never waits on the database. A background task writes a batch when
`batch_size` records are queued or the oldest queued record is `flush_interval_ms` old, whichever comes first,
calling the (synchronous) store in one dedicated worker thread, so batches are written one at a time and in order.

Full queue: `submit` DROPS the record (returns False), counts it in `stats.dropped` and logs an ERROR (the first
drop, then at most once a second with the running total). Blocking instead would turn a slow database into
slow requests for every client; a full queue means the database has been failing or too slow for a while.

Write failures (database down, lock timeout): the batch goes back to the head of the queue and is retried with
exponential backoff (50 ms .. 2 s); inserts skip request ids already stored, so a retry never duplicates a row.
Records keep queuing meanwhile, up to `max_queue`.

Loss window: `aclose()` writes everything pending (retrying failures until `close_timeout_s`, then logging what it
gave up). On SIGKILL or a crash, what is lost is what was not yet committed: the records submitted in the last
`flush_interval_ms` (at most `batch_size` of them per in-flight write) plus, only while the database is failing or
slower than the traffic, the backlog (at most `max_queue` records).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError

from wayfare.store.base import RequestLogStore
from wayfare.store.record import RequestRecord

logger = logging.getLogger("wayfare.store.writer")

_BACKOFF_MIN_S = 0.05
_BACKOFF_MAX_S = 2.0

# Errors that retrying the same rows cannot fix (bad values): the batch is then written row by row and only the
# offending records are rejected. Anything else (connection lost, lock timeout...) is retried.
_PERMANENT_ERRORS: tuple[type[Exception], ...] = (IntegrityError, DataError, ProgrammingError, ValueError, TypeError)


@dataclass(frozen=True, slots=True)
class WriterStats:
    submitted: int  # accepted by submit()
    written: int  # committed to the store (a request id already stored counts as written)
    dropped: int  # refused by submit(): queue full or writer closed
    lost: int  # accepted but given up at close after failed writes
    rejected: int  # refused by the database for their values (logged with their request id)
    failed_writes: int  # write attempts that raised (each was retried or counted in `lost`)
    pending: int  # accepted, not yet written


class RequestLogWriter:
    """Queue request records in memory and write them to a `RequestLogStore` in batches, off the event loop.

    Use from one event loop: `await writer.start()`, then `writer.submit(record)` from request handlers, and
    `await writer.aclose()` at shutdown (or `async with RequestLogWriter(store) as writer: ...`).
    """

    def __init__(
        self,
        store: RequestLogStore,
        *,
        batch_size: int = 500,
        flush_interval_ms: float = 200.0,
        max_queue: int = 50_000,
        close_timeout_s: float = 30.0,
    ) -> None:
        if batch_size <= 0 or max_queue <= 0:
            raise ValueError(f"batch_size and max_queue must be positive (got {batch_size}, {max_queue})")
        if flush_interval_ms <= 0 or close_timeout_s < 0:
            raise ValueError("flush_interval_ms must be positive and close_timeout_s non-negative")
        self.store = store
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_ms / 1000.0
        self.max_queue = max_queue
        self.close_timeout_s = close_timeout_s
        self._queue: deque[tuple[float, RequestRecord]] = deque()
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False
        self._closed = False
        self._close_deadline = float("inf")
        self._flush_requests = 0
        self._submitted = self._written = self._dropped = self._lost = self._failed = self._rejected = 0
        self._last_drop_log = float("-inf")

    # -- request path ---------------------------------------------------------------------------------------

    def submit(self, record: RequestRecord) -> bool:
        """Queue a record without waiting. False (and a count in `stats.dropped`) if the queue is full or closed."""
        if self._closing or len(self._queue) >= self.max_queue:
            self._drop()
            return False
        self._queue.append((time.monotonic(), record))
        self._submitted += 1
        n = len(self._queue)
        if n == 1 or n >= self.batch_size:  # start the age timer, or a batch is full
            self._wake.set()
        return True

    def _drop(self) -> None:
        self._dropped += 1
        now = time.monotonic()
        if now - self._last_drop_log >= 1.0:
            self._last_drop_log = now
            reason = "writer is closed" if self._closing else f"queue full ({self.max_queue} records)"
            logger.error("request log: record DROPPED, %s; %d dropped so far", reason, self._dropped)

    # -- lifecycle --------------------------------------------------------------------------------------------

    @property
    def stats(self) -> WriterStats:
        return WriterStats(
            submitted=self._submitted,
            written=self._written,
            dropped=self._dropped,
            lost=self._lost,
            rejected=self._rejected,
            failed_writes=self._failed,
            pending=self._submitted - self._written - self._lost - self._rejected,
        )

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the background flush task (on the running event loop)."""
        if self._task is not None:
            raise RuntimeError("RequestLogWriter.start() called twice")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wayfare-request-log")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="wayfare-request-log-writer")

    async def flush(self) -> None:
        """Wait until every record submitted before this call is written (or given up at close)."""
        if not self.running:
            raise RuntimeError("RequestLogWriter is not running: call start() first")
        target = self._submitted
        self._flush_requests += 1
        self._wake.set()
        try:
            async with self._progress:
                await self._progress.wait_for(
                    lambda: self._written + self._lost + self._rejected >= target or not self.running
                )
        finally:
            self._flush_requests -= 1

    async def aclose(self) -> None:
        """Stop accepting records, write everything pending, stop the task. Idempotent."""
        if self._closed:
            return
        self._closing = True
        self._close_deadline = time.monotonic() + self.close_timeout_s
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._closed = True
        if self._queue:  # never started: nothing could be written
            self._lost += len(self._queue)
            logger.error("request log: writer closed without start(); %d records lost", len(self._queue))
            self._queue.clear()

    async def __aenter__(self) -> RequestLogWriter:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- background task --------------------------------------------------------------------------------------

    def _due(self) -> bool:
        if not self._queue:
            return False
        if self._closing or self._flush_requests or len(self._queue) >= self.batch_size:
            return True
        return time.monotonic() - self._queue[0][0] >= self.flush_interval_s

    async def _run(self) -> None:
        try:
            await self._loop()
        finally:
            await self._notify()  # wake flush() waiters whatever happened

    async def _loop(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            if self._due():
                ok = await self._write_one_batch()
                failures = 0 if ok else failures + 1
                if not ok and self._queue:
                    await self._backoff(failures)
                continue
            if self._closing and not self._queue:
                return
            timeout = None if not self._queue else self._queue[0][0] + self.flush_interval_s - time.monotonic()
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _write_one_batch(self) -> bool:
        n = min(self.batch_size, len(self._queue))
        items = [self._queue.popleft() for _ in range(n)]
        batch = [record for _, record in items]
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self.store.write_batch, batch)
        except _PERMANENT_ERRORS:
            return await self._write_one_by_one(items)
        except Exception as exc:
            self._failed += 1
            if self._closing and time.monotonic() >= self._close_deadline:
                lost = n + len(self._queue)
                self._queue.clear()
                self._lost += lost
                logger.error("request log: giving up at shutdown, %d records LOST (%r)", lost, exc)
            else:
                self._queue.extendleft(reversed(items))
                logger.warning("request log: writing %d records failed, will retry (%r)", n, exc)
            await self._notify()
            return False
        self._written += n
        await self._notify()
        return True

    async def _write_one_by_one(self, items: list[tuple[float, RequestRecord]]) -> bool:
        """A batch had a bad value: write its records singly, rejecting (and logging) only those that fail."""
        loop = asyncio.get_running_loop()
        for i, (_, record) in enumerate(items):
            try:
                await loop.run_in_executor(self._executor, self.store.write_batch, [record])
            except _PERMANENT_ERRORS as exc:
                self._rejected += 1
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                logger.error("request log: record %r REJECTED by the database: %s", record.request_id, reason)
            except Exception:
                self._queue.extendleft(reversed(items[i:]))  # transient: the rest goes back, retried as usual
                self._failed += 1
                await self._notify()
                return False
            else:
                self._written += 1
        await self._notify()
        return True

    async def _notify(self) -> None:
        async with self._progress:
            self._progress.notify_all()

    async def _backoff(self, failures: int) -> None:
        delay = min(_BACKOFF_MIN_S * 2 ** (failures - 1), _BACKOFF_MAX_S)
        if self._closing:
            delay = max(0.0, min(delay, self._close_deadline - time.monotonic()))
        await asyncio.sleep(delay)
