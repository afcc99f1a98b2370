import subprocess
import sys

import pytest
from typer.testing import CliRunner

from wayfare import __version__
from wayfare.cli import COMMANDS, app


def test_version_flag() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"wayfare {__version__}"


def test_console_script_help_lists_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "wayfare.cli", "--help"], capture_output=True, text=True, check=True)
    assert "Usage" in out.stdout
    for name in COMMANDS:
        assert name in out.stdout


def test_version_does_not_import_the_heavy_parts() -> None:
    code = (
        "import sys; from wayfare.cli import app\n"
        "try:\n    app(['--version'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('matplotlib', 'sqlalchemy', 'starlette', 'onnxruntime', 'torch') if m in sys.modules]\n"
        "print('heavy:' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [f"wayfare {__version__}", "heavy:"]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_unknown_command_is_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["frobnicate"])
    assert result.exit_code != 0
    assert "frobnicate" in result.output
