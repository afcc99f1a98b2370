"""`wayfare store ...`: migrate, inspect, report spend from, and prune the request log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from wayfare.store.base import RequestLogStore
from wayfare.store.record import GROUP_BY_VALUES
from wayfare.store.sql_store import open_store

store_app = typer.Typer(help="The request log: migrate, list, spend report, prune.", no_args_is_help=True)
console = Console()

DatabaseUrl = typer.Option(
    None,
    "--database-url",
    envvar="WAYFARE_DATABASE_URL",
    help="sqlite:///path.db or postgresql://user@host:port/db (default: ./wayfare.db).",
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _opened(database_url: str | None) -> Iterator[RequestLogStore]:
    try:
        store = open_store(database_url)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    except (SQLAlchemyError, RuntimeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(f"cannot open the request log: {first_line}") from None
    try:
        yield store
    finally:
        store.close()


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"{option}: not an ISO date or time: {value!r} (e.g. 2025-03-01 or 2025-03-01T12:00Z)", 2) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@store_app.command("migrate")
def migrate_command(database_url: str | None = DatabaseUrl) -> None:
    """Create or upgrade the request-log schema (the gateway also does this when it starts)."""
    with _opened(database_url) as store:
        console.print(f"{store.backend} {store.url}: schema version {store.schema_version()}")


@store_app.command("recent")
def recent_command(
    limit: int = typer.Option(20, min=1, help="How many rows."),
    key_id: str | None = typer.Option(None, "--key", help="Only this virtual key id."),
    route: str | None = typer.Option(None, help="Only this route."),
    model: str | None = typer.Option(None, help="Only requests answered by this model."),
    database_url: str | None = DatabaseUrl,
) -> None:
    """The most recent requests, newest first."""
    with _opened(database_url) as store:
        rows = store.query(limit=limit, key_id=key_id, route=route, model=model)
    cells = [
        [
            r.time.strftime("%m-%d %H:%M:%S"),
            r.request_id,
            r.key_id or "",
            r.route or "",
            r.chosen_model,
            "" if r.score is None else f"{r.score:.3f}",
            str(r.status),
            f"{r.latency_ms:.0f}",
            f"{r.cost_usd:.6f}",
            f"{r.savings_usd:.6f}",
        ]
        for r in rows
    ]
    headers = ("time (UTC)", "request", "key", "route", "model", "score", "status", "ms", "cost $", "saved $")
    _print_fitted(headers, cells, give_way=("request", "key"), right_from=5)


def _print_fitted(headers: tuple[str, ...], cells: list[list[str]], give_way: tuple[str, ...], right_from: int) -> None:
    """A compact table whose ``give_way`` columns are cut with "…" (or left out below 8 characters) on a narrow
    terminal while the others are never cut; piped output (a file, grep) is printed whole."""
    widths = [max([len(name), *(len(c[i]) for c in cells)]) for i, name in enumerate(headers)]
    needed = sum(widths) + 3 * len(headers)
    width = console.width if console.is_terminal else max(console.width, needed)
    fixed = sum(w for w, name in zip(widths, headers, strict=True) if name not in give_way)
    cut = width - fixed - 3 * len(headers)
    cut_width = max(widths) if width >= needed else cut // max(1, len(give_way))
    shown = [i for i, name in enumerate(headers) if width >= needed or cut_width >= 8 or name not in give_way]
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, show_edge=False)
    for i in shown:
        if headers[i] in give_way:
            table.add_column(headers[i], no_wrap=True, overflow="ellipsis", max_width=cut_width)
        else:
            table.add_column(
                headers[i], no_wrap=True, min_width=widths[i], justify="right" if i >= right_from else "left"
            )
    for c in cells:
        table.add_row(*(c[i] for i in shown))
    (console if width == console.width else Console(width=width)).print(table)


@store_app.command("spend")
def spend_command(
    group_by: str = typer.Option("model", help=f"One of: {', '.join(GROUP_BY_VALUES)}."),
    since: str | None = typer.Option(None, help="From this UTC date/time (inclusive, ISO 8601)."),
    until: str | None = typer.Option(None, help="Up to this UTC date/time (exclusive, ISO 8601)."),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Spend, counterfactual spend (the route's strong model) and savings, from the logged requests."""
    if group_by not in GROUP_BY_VALUES:
        raise _fail(f"--group-by must be one of {', '.join(GROUP_BY_VALUES)} (got {group_by!r})", 2)
    start, end = _parse_time(since, "--since"), _parse_time(until, "--until")
    with _opened(database_url) as store:
        rows = store.spend(group_by, since=start, until=end)
        where = store.url
    table = Table(group_by, "requests", "tokens", "cost $", "strong-model cost $", "saved $", "saved %")
    for row in rows:
        pct = 100 * row.savings_usd / row.counterfactual_cost_usd if row.counterfactual_cost_usd else 0.0
        table.add_row(
            row.group or "(none)",
            str(row.requests),
            str(row.tokens),
            f"{row.cost_usd:.4f}",
            f"{row.counterfactual_cost_usd:.4f}",
            f"{row.savings_usd:.4f}",
            f"{pct:.1f}",
        )
    span = f"{start.isoformat() if start else 'the start'} to {end.isoformat() if end else 'now'}"
    console.print(table)
    console.print(f"Measured on {sum(r.requests for r in rows)} logged requests in {where}, {span}.")


@store_app.command("prune")
def prune_command(
    older_than_days: float = typer.Option(..., "--older-than-days", min=0, help="Delete rows older than this."),
    batch_size: int = typer.Option(5000, min=1, help="Rows deleted per transaction."),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Delete old request-log rows, in batches (the database stays responsive meanwhile)."""
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    with _opened(database_url) as store:
        result = store.prune(cutoff, batch_size=batch_size)
    console.print(f"deleted {result.deleted} rows older than {cutoff.isoformat()} in {result.batches} batches")
