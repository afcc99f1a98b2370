"""`wayfare calibrate --quality-target`: the certified threshold on a labelled table, in the JSON shape scripts rely
on, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.data import load_benchmark, save_jsonl

STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"
PAIR = ["--strong", STRONG, "--weak", WEAK]


def calibrate(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["calibrate", "--router", "default", *args])
    return result.exit_code, result.stdout, result.output


def test_json_gives_the_certified_threshold_on_a_labelled_table(tmp_path: Path) -> None:
    data = save_jsonl(load_benchmark("gsm8k"), tmp_path / "gsm8k.jsonl")
    code, stdout, _ = calibrate(["--data", str(data), "--format", "jsonl", *PAIR, "--quality-target", "0.95",
                                 "--risk", "0.1", "--json"])  # fmt: skip
    assert code == 0
    out = json.loads(stdout)
    assert set(out) == {"threshold", "bound", "labels", "strong_share"}
    assert out["labels"] == 1307 and out["bound"] >= 0.95
    assert isinstance(out["threshold"], float) and 0.0 < out["strong_share"] < 1.0
    human = calibrate(["--data", str(data), "--format", "jsonl", *PAIR, "--quality-target", "0.95"])[1]
    assert f"{out['strong_share']:.1%} of 1307 labelled prompts" in human


def test_too_few_labels_certify_nothing(tmp_path: Path) -> None:
    data = save_jsonl(load_benchmark("gsm8k").subset(range(30)), tmp_path / "small.jsonl")
    code, stdout, _ = calibrate(["--data", str(data), "--format", "jsonl", *PAIR, "--quality-target", "0.95", "--json"])
    assert code == 0
    out = json.loads(stdout)
    assert out["threshold"] is None and out["strong_share"] == 1.0 and out["labels"] == 30
    code, stdout, _ = calibrate(["--data", str(data), "--format", "jsonl", *PAIR, "--quality-target", "0.95"])
    assert "nothing certified" in stdout and "safe mode" in stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, _, output = calibrate(["--data", "gsm8k", "--quality-target", "0.95"])
    assert code == 2 and "has no column 'strong' (the router's strong model; pass --strong)" in output
    code, _, output = calibrate(["--quality-target", "0.95"])
    assert code == 2 and "--quality-target needs labelled --data" in output
    code, _, output = calibrate(["--data", "gsm8k", *PAIR, "--quality-target", "1.5"])
    assert code == 2 and "quality_target must be in (0, 1]" in output
    code, _, output = calibrate(["--data", "gsm8k", *PAIR, "--quality-target", "0.9", "--quality", "0.9"])
    assert code == 2 and "exactly one of" in output
