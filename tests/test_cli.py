import subprocess
import sys

from typer.testing import CliRunner

from wayfare import __version__
from wayfare.cli import app


def test_version_flag() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"wayfare {__version__}"


def test_console_script_help() -> None:
    out = subprocess.run([sys.executable, "-m", "wayfare.cli", "--help"], capture_output=True, text=True, check=True)
    assert "Usage" in out.stdout
