"""``wayfare routes status``: each quality-target route's current decision, from the store every replica shares."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

routes_app = typer.Typer(help="Routes with a quality target: their certificates and state.", no_args_is_help=True)
DB_HELP = "The gateway's store: sqlite:///path or postgresql://... (default sqlite:///wayfare.db)."


@routes_app.callback()
def _routes() -> None:
    """Routes with a quality target: their certificates and state."""


def _saving(s: dict[str, Any]) -> str:
    if "saving" not in s:
        return f"{s.get('weak_share', 0):.0%} weak" if s else "–"
    lo, hi = s.get("saving_ci", [None, None])
    return f"{s['saving']:.1%} [{lo:.1%}, {hi:.1%}]"


@routes_app.command("status")
def status_cmd(
    database_url: str | None = typer.Option(None, "--database-url", help=DB_HELP),
    route: str | None = typer.Option(None, "--route", help="Only this route, with its decision history."),
    as_json: bool = typer.Option(False, "--json", help="Print the newest decision of each route as JSON."),
) -> None:
    """Show each quality route's state (learning / certified / backed-off), threshold, certificate and evidence."""
    from wayfare.quality.store import history, latest_decisions
    from wayfare.store import open_store

    err = Console(stderr=True)
    try:
        store = open_store(database_url)
    except Exception as exc:
        err.print(f"error: cannot open the store {database_url or 'sqlite:///wayfare.db'}: {exc}", highlight=False)
        raise typer.Exit(2) from None
    try:
        engine = getattr(store, "engine")  # noqa: B009
        rows = latest_decisions(engine, [route] if route else None)
        past = history(engine, route) if route else []
    finally:
        store.close()
    if as_json:
        print(json.dumps({k: {**v, "time": v["time"].isoformat()} for k, v in rows.items()}))
        return
    if not rows:
        err.print("no quality-target decisions in this store yet (routes with `quality:` write them)")
        raise typer.Exit(0)
    console = Console()
    table = Table(title="quality-target routes", title_justify="left")
    for col in ("route", "state", "threshold", "certificate", "labels", "bound", "realised", "projected saving"):
        table.add_column(col)
    for name, r in sorted(rows.items()):
        table.add_row(
            name, r["state"], "all strong" if r["threshold"] is None else f"{r['threshold']:.5f}",
            r["certificate_id"] or "–", str(r["labels"]), "–" if r["bound"] is None else f"{r['bound']:.3f}",
            "–" if r["realised"] is None else f"{r['realised']:.3f}", _saving(r["saving"]),
        )  # fmt: skip
    console.print(table)
    for name, r in sorted(rows.items()):
        console.print(f"{name} ({r['time']:%Y-%m-%d %H:%M:%S} UTC): {r['reason']}", highlight=False, soft_wrap=True)
    for r in past[1:]:
        console.print(
            f"  earlier, {r['time']:%Y-%m-%d %H:%M:%S}: {r['state']}: {r['reason']}", highlight=False, soft_wrap=True
        )
