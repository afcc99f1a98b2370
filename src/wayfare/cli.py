"""The `wayfare` command line. Each command lives next to the part it drives; this module only wires them.

Commands are imported on first use (a lazy click group), so `wayfare --version` or `wayfare score` does not pay
for importing the gateway, matplotlib or SQLAlchemy.
"""

from __future__ import annotations

import importlib

import typer
from typer._click.core import Command, Context  # typer >= 0.29 vendors click: its own classes
from typer.core import TyperGroup

from wayfare._version import __version__

# command name -> (module, attribute): a typer.Typer sub-app or a command function.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("wayfare.eval.commands", "demo_command"),
    "eval": ("wayfare.eval.commands", "eval_command"),
    "serve": ("wayfare.gateway.cli", "serve_command"),
    "mock-upstream": ("wayfare.gateway.cli", "mock_upstream_command"),
    "train": ("wayfare.eval.router_commands", "train_command"),
    "adapt": ("wayfare.eval.router_commands", "adapt_command"),
    "calibrate": ("wayfare.eval.router_commands", "calibrate_command"),
    "score": ("wayfare.eval.router_commands", "score_command"),
    "share": ("wayfare.traffic.cli", "share_command"),
    "label": ("wayfare.traffic.log_cli", "label_command"),
    "train-from-log": ("wayfare.traffic.log_cli", "train_from_log_command"),
    "compare": ("wayfare.traffic.log_cli", "compare_command"),
    "promote": ("wayfare.traffic.log_cli", "promote_command"),
    "rollback": ("wayfare.traffic.log_cli", "rollback_command"),
    "router-versions": ("wayfare.traffic.log_cli", "versions_command"),
    "keys": ("wayfare.governance.cli", "keys_app"),
    "spend": ("wayfare.governance.cli", "spend_command"),
    "store": ("wayfare.store.cli", "store_app"),
    "data": ("wayfare.data.cli", "data_app"),
    "models": ("wayfare.routers.card", "models_app"),
    "routes": ("wayfare.quality.cli", "routes_app"),  # embedding models + `models show` (router cards)
}


def load_command(name: str) -> Command:
    """Import one command's module and turn its typer app or function into a click command."""
    module, attr = COMMANDS[name]
    target = getattr(importlib.import_module(module), attr)
    if isinstance(target, typer.Typer):
        target._add_completion = False  # completion is the root's business, not each sub-app's
        command = typer.main.get_command(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None


app = typer.Typer(
    name="wayfare",
    cls=LazyGroup,
    help="Wayfare: OpenAI-compatible LLM gateway with learned routing, and the evaluator that says if it pays.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
