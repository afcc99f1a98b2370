"""Request-log store throughput: write_batch rows/s, the writer's submit() cost, a key's spend query latency.

    .venv/bin/python bench/store_write.py [--rows 20000] [--postgres postgresql://postgres@127.0.0.1:5432/test]

SQLite goes to a temporary file; PostgreSQL (when --postgres is given) to a temporary schema dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import psycopg
from rich.console import Console
from rich.table import Table

from wayfare.store import RequestLogStore, RequestLogWriter, RequestRecord, open_store

BASE = datetime(2025, 1, 1, tzinfo=UTC)


def make_records(n: int, tag: str) -> list[RequestRecord]:
    return [
        RequestRecord(
            request_id=f"{tag}-{i}",
            time=BASE + timedelta(seconds=30 * i),
            key_id=f"key-{i % 200}",
            team=f"team-{i % 7}",
            route="auto",
            candidates=["strong", "weak"],
            chosen_model="weak" if i % 3 else "strong",
            score=0.42,
            threshold=0.5,
            decision_ms=0.7,
            input_tokens=420,
            output_tokens=180,
            cost_usd=0.0004,
            counterfactual_cost_usd=0.0031,
            latency_ms=812.0,
            upstream_ms=810.0,
            prompt_preview="Explain the difference between a process and a thread in two sentences.",
            metadata={"user": "u-17", "tags": ["bench"]},
        )
        for i in range(n)
    ]


def bench_backend(name: str, url: str, rows: int, table: Table) -> None:
    store = open_store(url)
    for batch_size in (100, 500):
        records = make_records(rows, f"b{batch_size}")
        start, cpu_start = time.perf_counter(), time.process_time()
        for i in range(0, rows, batch_size):
            store.write_batch(records[i : i + batch_size])
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        result = f"{rows / elapsed:,.0f} rows/s, {cpu / rows * 1e6:.1f} µs CPU/row"
        table.add_row(name, f"write_batch({batch_size})", result, f"{rows} rows, wall clock and this process's CPU")
    submit_us = asyncio.run(bench_writer(store, rows))
    table.add_row(name, "writer.submit()", f"{submit_us:.2f} µs/call", f"{rows} submits, then aclose()")
    latencies = []
    for k in range(50):
        start = time.perf_counter()
        store.spend("key", key_id=f"key-{k}", since=BASE + timedelta(days=1), until=BASE + timedelta(days=8))
        latencies.append((time.perf_counter() - start) * 1000)
    table.add_row(
        name,
        "spend(one key, 7 days)",
        f"p50 {statistics.median(latencies):.2f} ms",
        f"{store.count():,} rows in table, 50 queries",
    )
    store.close()


async def bench_writer(store: RequestLogStore, rows: int) -> float:
    records = make_records(rows, "w")
    async with RequestLogWriter(store, batch_size=500, flush_interval_ms=200, max_queue=rows) as writer:
        start = time.perf_counter()
        for record in records:
            writer.submit(record)
        per_call = (time.perf_counter() - start) / rows * 1e6
    assert writer.stats.written == rows, writer.stats
    return per_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL of a database to use a temporary schema in")
    args = parser.parse_args()
    table = Table("backend", "operation", "result", "measured on")
    with tempfile.TemporaryDirectory() as tmp:
        bench_backend("sqlite", f"sqlite:///{tmp}/bench.db", args.rows, table)
    if args.postgres:
        schema = f"wayfare_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            sep = "&" if "?" in args.postgres else "?"
            url = f"{args.postgres}{sep}options={quote(f'-csearch_path={schema}')}"
            bench_backend("postgresql", url, args.rows, table)
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    Console().print(table)


if __name__ == "__main__":
    main()
