"""``wayfare keys create|list|revoke`` and ``wayfare spend``: the admin API's CLI mirror, working on the store
directly (the same database the gateway uses: --database-url, $WAYFARE_DATABASE_URL, or ./wayfare.db)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from wayfare.governance.errors import GovernanceError
from wayfare.governance.keys import KeySpec, SqlKeyStore
from wayfare.governance.spend import parse_group_by, parse_time, spend_report
from wayfare.store.base import RequestLogStore

keys_app = typer.Typer(help="Virtual keys: create (secret shown once), list, revoke.", no_args_is_help=True)
console = Console()

DatabaseUrl = typer.Option(
    None,
    "--database-url",
    envvar="WAYFARE_DATABASE_URL",
    help="The gateway's database: sqlite:///path.db or postgresql://user@host:port/db (default: ./wayfare.db).",
)
AsJson = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _store(database_url: str | None) -> Iterator[RequestLogStore]:
    from wayfare.store import open_store

    try:
        store = open_store(database_url)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    except (SQLAlchemyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(f"cannot open the database: {first}") from None
    try:
        yield store
    finally:
        store.close()


def _keys(store: RequestLogStore) -> SqlKeyStore:
    return SqlKeyStore(store.engine)  # type: ignore[attr-defined]


def _money(x: float | None) -> str:
    return "-" if x is None else f"${x:.6f}".rstrip("0").rstrip(".")


@keys_app.command("create")
def create_command(
    database_url: str | None = DatabaseUrl,
    name: str | None = typer.Option(None, help="A label for people."),
    models: list[str] = typer.Option([], "--model", "-m", help="Allowed model or route (repeat; default: all)."),
    team: str | None = typer.Option(None, help="Team (team budgets, spend by team)."),
    user: str | None = typer.Option(None, help="User the key belongs to."),
    tags: list[str] = typer.Option([], "--tag", help="Tag (repeat)."),
    max_budget_usd: float | None = typer.Option(None, help="USD budget per period."),
    budget_period: str | None = typer.Option(None, help="daily, weekly, monthly or total (default total)."),
    rpm: int | None = typer.Option(None, help="Requests per minute."),
    tpm: int | None = typer.Option(None, help="Tokens per minute."),
    expires_in_days: float | None = typer.Option(None, help="Expire after this many days."),
    as_json: bool = AsJson,
) -> None:
    """Create a virtual key and print its secret (shown only this once)."""
    metadata: dict[str, Any] = {k: v for k, v in (("team", team), ("user", user)) if v is not None}
    if tags:
        metadata["tags"] = tags
    raw: dict[str, Any] = {"name": name, "models": models or None, "metadata": metadata,
                           "max_budget_usd": max_budget_usd, "budget_period": budget_period, "rpm": rpm, "tpm": tpm,
                           "expires_in_s": None if expires_in_days is None else expires_in_days * 86400}  # fmt: skip
    try:
        spec = KeySpec.model_validate({k: v for k, v in raw.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise _fail(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}", 2) from None
    with _store(database_url) as store:
        secret, key = _keys(store).create(spec)
    if as_json:
        typer.echo(orjson.dumps({"key": secret, **key.to_json()}).decode())
        return
    console.print(f"created {key.id}: [bold]{secret}[/bold]", highlight=False, soft_wrap=True)
    console.print("store the key now: it is not shown again.", style="dim")


@keys_app.command("list")
def list_command(
    database_url: str | None = DatabaseUrl,
    include_revoked: bool = typer.Option(True, help="Show revoked keys too."),
    as_json: bool = AsJson,
) -> None:
    """List virtual keys (never their secrets)."""
    with _store(database_url) as store:
        keys = _keys(store).list(include_revoked=include_revoked)
    if as_json:
        typer.echo(orjson.dumps([k.to_json() for k in keys]).decode())
        return
    table = Table("id", "key", "name", "team", "models", "budget", "rpm", "tpm", "expires", "status")
    for k in keys:
        budget = f"{_money(k.max_budget_usd)}/{k.budget_period or 'total'}" if k.max_budget_usd is not None else "-"
        table.add_row(k.id, k.key_hint, k.name or "-", k.team or "-", ",".join(k.models) if k.models else "all",
                      budget, str(k.rpm or "-"), str(k.tpm or "-"),
                      k.expires_at.isoformat(timespec="seconds") if k.expires_at else "-", k.status())  # fmt: skip
    console.print(table)


@keys_app.command("revoke")
def revoke_command(
    key_id: str = typer.Argument(..., help="The key's id (key_...)."), database_url: str | None = DatabaseUrl
) -> None:
    """Revoke a key (running gateways stop accepting it within their key cache TTL, 1 s by default)."""
    with _store(database_url) as store:
        key = _keys(store).revoke(key_id)
    if key is None:
        raise _fail(f"no key with id {key_id!r}")
    console.print(f"{key.id} ({key.key_hint}) is {key.status()}", highlight=False)


def spend_command(
    database_url: str | None = DatabaseUrl,
    group_by: str | None = typer.Option(None, help="key, team, model or route (default: totals only)."),
    since: str | None = typer.Option(None, "--from", help="ISO date/time, inclusive (UTC if no zone)."),
    until: str | None = typer.Option(None, "--to", help="ISO date/time, exclusive."),
    as_json: bool = AsJson,
) -> None:
    """Spend from the request log, with savings against the counterfactual (each route's strongest model)."""
    try:
        gb, t0, t1 = parse_group_by(group_by), parse_time(since, "--from"), parse_time(until, "--to")
    except GovernanceError as exc:
        raise _fail(exc.message, 2) from None
    with _store(database_url) as store:
        report = spend_report(store, gb, t0, t1)
    if as_json:
        typer.echo(orjson.dumps(report).decode())
        return
    table = Table(gb or "total", "requests", "tokens in", "tokens out", "cost", "counterfactual", "saved", "saved %")
    rows = report["data"] if gb is not None else []
    for r in [*rows, {**report["total"], "group": "total"}]:
        pct = "-" if r["savings_pct"] is None else f"{r['savings_pct']:.1f}%"
        table.add_row(str(r["group"] if r["group"] is not None else "(none)"), str(r["requests"]),
                      str(r["input_tokens"]), str(r["output_tokens"]), _money(r["cost_usd"]),
                      _money(r["counterfactual_cost_usd"]), _money(r["savings_usd"]), pct)  # fmt: skip
    console.print(table)
    console.print(f"measured on {report['measured_on']}", style="dim", highlight=False)
