"""The `wayfare` command line. Each command lives next to the part it drives; this module only wires them."""

from __future__ import annotations

import typer

from wayfare import __version__
from wayfare.data.cli import data_app
from wayfare.embed.cli import models_app
from wayfare.eval.commands import demo_command, eval_command
from wayfare.gateway.cli import mock_upstream_command, serve_command
from wayfare.governance.cli import keys_app, spend_command
from wayfare.routers.commands import calibrate_command, score_command, train_command
from wayfare.store.cli import store_app
from wayfare.traffic.cli import share_command
from wayfare.traffic.log_cli import (
    compare_command,
    label_command,
    promote_command,
    rollback_command,
    train_from_log_command,
    versions_command,
)

app = typer.Typer(
    name="wayfare",
    help="Wayfare: OpenAI-compatible LLM gateway with learned routing, and the evaluator that says if it pays.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(models_app, name="models")
app.add_typer(store_app, name="store")
app.add_typer(data_app, name="data")
app.add_typer(keys_app, name="keys")
app.command("spend")(spend_command)
app.command("eval")(eval_command)
app.command("demo")(demo_command)
app.command("serve")(serve_command)
app.command("mock-upstream")(mock_upstream_command)
app.command("share")(share_command)
app.command("label")(label_command)
app.command("train-from-log")(train_from_log_command)
app.command("compare")(compare_command)
app.command("promote")(promote_command)
app.command("rollback")(rollback_command)
app.command("router-versions")(versions_command)
app.command("train")(train_command)
app.command("calibrate")(calibrate_command)
app.command("score")(score_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wayfare {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Wayfare command line."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
