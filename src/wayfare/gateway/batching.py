"""Scoring prompts of concurrent requests together, off the event loop.

A learned router embeds each prompt with a small transformer (milliseconds of CPU). Called inline it would block the
event loop for that long per request; here the prompts are queued and scored in batches by one worker thread
(onnxruntime releases the GIL), so the loop keeps serving I/O and, under load, one model call serves many requests
(a batch of 8 short prompts cost ~15% less CPU per prompt than 8 single calls with the default MiniLM embedder). The
batch is whatever queued while the previous one ran ("natural batching"): no timer, no added wait at low load.

A router cheap enough not to need any of this (a static-embedding router: ~0.15 ms per prompt) is called inline:
the hand-off to a thread costs more than that (~0.5 ms of CPU per request at concurrency 1 on the benchmark). The
batcher measures the scoring CPU time of every call and switches between the two modes at ``inline_below_ms``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class ScoreBatcher:
    """``await batcher.score(text)`` -> ``fn([... text ...])[i]``, with ``fn`` run in one worker thread."""

    def __init__(self, fn: Callable[[Sequence[str]], Any], max_batch: int = 32, inline_below_ms: float = 1.0) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.fn = fn
        self.max_batch = max_batch
        self.inline_below_ms = inline_below_ms
        self.inline = False
        """Whether the last measured call was cheap enough to run on the event loop (starts in thread mode)."""
        self._pending: list[tuple[str, asyncio.Future[Any]]] = []
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="wayfare-router")

    async def score(self, text: str) -> Any:
        if self.inline and not self._pending:
            t0 = time.thread_time()
            row = _one(self.fn, text)
            self._measure(time.thread_time() - t0, 1)
        else:
            row = await self._queued(text)
        if isinstance(row, _Failed):
            raise row.exc
        return row

    def _measure(self, cpu_seconds: float, n: int) -> None:
        """Scoring CPU time of ``n`` prompts (the calling thread's, so waiting for a core does not count)."""
        self.inline = cpu_seconds * 1000 / n < self.inline_below_ms

    async def _queued(self, text: str) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((text, future))
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            texts = [t for t, _ in batch]
            try:
                rows, cpu = await loop.run_in_executor(self._executor, self._run, texts)
            except BaseException as exc:  # handed to every waiting request
                for _, f in batch:
                    if not f.done():
                        f.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
                if not isinstance(exc, Exception):
                    raise
                continue
            self._measure(cpu, len(texts))
            for (_, f), row in zip(batch, rows, strict=True):
                if not f.done():
                    f.set_result(row)

    def _run(self, texts: list[str]) -> tuple[list[Any], float]:
        """One call for the batch (rows, CPU seconds); if it fails, each prompt alone (one bad prompt must not fail
        the others)."""
        t0 = time.thread_time()
        try:
            rows = list(self.fn(texts))
            if len(rows) != len(texts):
                raise ValueError(f"router returned {len(rows)} rows for {len(texts)} prompts")
            return rows, time.thread_time() - t0
        except Exception:
            if len(texts) == 1:
                raise
        return [_one(self.fn, t) for t in texts], time.thread_time() - t0

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class _Failed:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc


def _one(fn: Callable[[Sequence[str]], Any], text: str) -> Any:
    try:
        return fn([text])[0]
    except Exception as exc:
        return _Failed(exc)
