"""`wayfare models list|install` through the real CLI app."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from wayfare.cli import app


def test_models_list_shows_every_model(default_dir: Path) -> None:
    result = CliRunner().invoke(app, ["models", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in ("minilm-l6-int8", "minilm-l6-fp32", "minilm-l3-int8", "static-256"):
        assert name in result.output
    assert str(default_dir) in result.output
    assert "static-tl-256 (default)" in result.output


def test_install_when_built_is_a_no_op(default_dir: Path) -> None:
    result = CliRunner().invoke(app, ["models", "install"])
    assert result.exit_code == 0, result.output
    assert "static-tl-256 already built and verified" in result.output  # the default


def test_install_unknown_name_is_a_one_line_error() -> None:
    result = CliRunner().invoke(app, ["models", "install", "bogus"])
    assert result.exit_code == 2
    assert "unknown embedding model 'bogus'" in result.output


def test_the_default_embedder_is_the_fitted_static_table() -> None:
    from wayfare.embed import load_embedder

    emb = load_embedder("default", auto_install=False)
    assert emb.name == "static-tl-256:128" and emb.dim == 256
    assert emb.embed(["What is 17 * 23?"]).shape == (1, 256)
