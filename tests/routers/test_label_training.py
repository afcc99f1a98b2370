"""Training on a label other than the scores: the artifact records it, and the CLI's holdout is scored on the
real pair, not on the label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.data import ResultsTable, load_benchmark, save_jsonl
from wayfare.data.labels import relabel
from wayfare.routers import read_meta
from wayfare.routers.registry import make_router

runner = CliRunner()


def test_a_router_fitted_on_a_relabelled_table_records_its_label(embedder: object) -> None:
    t = ResultsTable(
        name="t", prompt_ids=[str(i) for i in range(20)], prompts=[f"question {i}" for i in range(20)],
        models=["small", "mid", "big"], scores=np.tile([[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]], (10, 1)),
        strong="big", weak="small",
    )  # fmt: skip
    router = make_router("logreg", embedder=embedder).fit(relabel(t, "weak-fails"))  # type: ignore[arg-type]
    assert router.training_["label"] == "weak-fails"
    assert router.training_["mean_label"] == {"small": 0.5, "big": 1.0}


def test_train_cli_label_is_stored_and_holdout_is_scored_on_the_real_pair(tmp_path: Path) -> None:
    data = save_jsonl(load_benchmark("gsm8k").subset(range(300)), tmp_path / "g.jsonl")
    folders = {}
    for label in ("strong-wins", "weak-fails", "gap:0"):
        folders[label] = tmp_path / label.replace(":", "")
        args = ["train", "--router", "logreg", "--data", str(data), "--format", "jsonl", "--label", label]
        result = runner.invoke(app, [*args, "--output", str(folders[label])])
        assert result.exit_code == 0, result.output
        assert f"label {label}" in result.output
    metas = {k: read_meta(v) for k, v in folders.items()}
    assert {k: m["training"]["label"] for k, m in metas.items()} == {k: k for k in folders}
    assert all(m["metrics"]["label"] == k for k, m in metas.items())
    # scored against GPT-4 vs Mixtral on the same 60 held-out rows: an APGR, not a fit to a column of ones
    assert all(m["metrics"]["holdout_prompts"] == 60 and 0.0 < m["metrics"]["apgr"] < 1.0 for m in metas.values())
    assert metas["weak-fails"]["training"]["mean_label"]["gpt-4-1106-preview"] == 1.0


def test_train_cli_rejects_a_label_it_cannot_apply(tmp_path: Path) -> None:
    out = str(tmp_path / "r")
    bad = runner.invoke(app, ["train", "--data", "gsm8k", "--label", "difficulty", "--output", out])
    assert bad.exit_code == 2 and "difficulty needs a table with at least 3 models" in bad.output
    bad = runner.invoke(app, ["train", "--data", "gsm8k", "--label", "hardness", "--output", out])
    assert bad.exit_code == 2 and "unknown label 'hardness'" in bad.output
    assert not Path(out).exists()


def test_train_cli_difficulty_on_a_many_model_table(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    args = ["train", "--data", "llmrouter", "--strong", "llama-3.1-nemotron-51b-instruct"]
    args += ["--weak", "llama-3.1-8b-instruct", "--label", "difficulty", "--output", str(folder)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    meta = read_meta(folder)
    assert meta["models"] == ["llama-3.1-8b-instruct", "llama-3.1-nemotron-51b-instruct"]
    assert meta["training"]["label"] == "difficulty" and meta["metrics"]["holdout_prompts"] == 381
