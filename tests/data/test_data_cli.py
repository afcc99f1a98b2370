"""`wayfare data info|convert` on bundled data and fixtures, and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.data import load_arena_hard, load_jsonl, load_routerarena

FIX = Path(__file__).parent / "fixtures"
runner = CliRunner()


def test_info_bundled() -> None:
    result = runner.invoke(app, ["data", "info", "gsm8k"])
    assert result.exit_code == 0, result.output
    assert "1307 prompts x 2 models" in result.output
    assert "0.8577" in result.output  # GPT-4 accuracy on the 1,307 uncontaminated prompts
    assert "cost basis: list prices" in result.output


def test_convert_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "ra.jsonl.gz"
    result = runner.invoke(app, ["data", "convert", str(FIX / "routerarena"), "-f", "routerarena", "-o", str(out)])
    assert result.exit_code == 0, result.output
    back, src = load_jsonl(out), load_routerarena(FIX / "routerarena")
    assert back.models == src.models and back.prompts == src.prompts
    assert back.costs is not None and src.costs is not None and (back.costs == src.costs).all()


def test_convert_arena_hard(tmp_path: Path) -> None:
    out = tmp_path / "ah.jsonl"
    result = runner.invoke(app, ["data", "convert", str(FIX / "arena_hard"), "-f", "arena-hard", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 4 prompts x 3 models" in result.output
    back, src = load_jsonl(out), load_arena_hard(FIX / "arena_hard")
    assert back.models == src.models and back.prompt_ids == src.prompt_ids and back.categories == src.categories
    np.testing.assert_array_equal(back.scores, src.scores)  # NaN where a model has no grade stays NaN
    result = runner.invoke(app, ["data", "info", str(FIX / "arena_hard" / "model_judgment"), "-f", "arena-hard"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: {FIX / 'arena_hard' / 'model_judgment'}: arena-hard format needs question.jsonl"
    )


def test_errors_are_one_line() -> None:
    result = runner.invoke(app, ["data", "info", "nope"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "give --format" in result.output
    result = runner.invoke(app, ["data", "info", str(FIX / "traffic.jsonl"), "-f", "parquet"])
    assert result.exit_code == 1 and "unknown format 'parquet'" in result.output
