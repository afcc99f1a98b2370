"""`wayfare score`, `wayfare train`, `wayfare calibrate`: the contract, run through the real CLI with the shipped
default routers and the real default embedder (offline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.routers import read_meta

runner = CliRunner()

HARD = "Solve for x: 3x^2 - 12x + 9 = 0, then find the sum of the squares of the roots."
PROMPTS: list[dict[str, object]] = [
    {"id": "a", "prompt": "Translate 'good morning' into Spanish."},
    {
        "id": 7,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello."},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": [{"type": "text", "text": HARD}]},
        ],
    },
]


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_score_with_the_shipped_default_pair_router(tmp_path: Path) -> None:
    src, out = write_jsonl(tmp_path / "in.jsonl", PROMPTS), tmp_path / "out.jsonl"
    result = runner.invoke(app, ["score", "--router", "default", "--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["a", 7]
    assert all(set(r) == {"id", "score"} and 0.0 <= float(r["score"]) <= 1.0 for r in rows)
    # the last user message is what is scored: multi-step algebra needs the strong model more than a greeting's
    # translation (the default learned prompt difficulty: where weak models fail)
    assert float(rows[1]["score"]) > float(rows[0]["score"])


def test_score_with_the_shipped_n_model_router(tmp_path: Path) -> None:
    src, out = write_jsonl(tmp_path / "in.jsonl", PROMPTS), tmp_path / "out.jsonl"
    result = runner.invoke(app, ["score", "--router", "default-n", "--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    meta = read_meta(Path(__file__).parents[2] / "src/wayfare/routers/defaults/n")
    assert all(list(r["scores"]) == meta["models"] for r in rows)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": 1}\n', "in.jsonl:1: row needs 'prompt' or 'messages'"),
        ('{"id": 1, "prompt": "ok"}\nnot json\n', "in.jsonl:2: not valid JSON"),
        ('{"messages": [{"role": "system", "content": "x"}]}\n', "in.jsonl:1: messages has no user message"),
    ],
)
def test_score_rejects_bad_input_with_one_line(tmp_path: Path, content: str, message: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(content)
    result = runner.invoke(app, ["score", "--router", "default", "--input", str(src), "--output", "-"])
    assert result.exit_code == 2
    assert message in result.output
    good = write_jsonl(tmp_path / "good.jsonl", PROMPTS)
    missing = runner.invoke(app, ["score", "--router", str(tmp_path / "nope"), "--input", str(good), "--output", "-"])
    assert missing.exit_code == 2 and "no router artifact" in missing.output


def test_train_then_calibrate_then_score(tmp_path: Path) -> None:
    from wayfare.data import load_benchmark, save_jsonl

    data = save_jsonl(load_benchmark("gsm8k").subset(range(200)), tmp_path / "gsm8k200.jsonl")
    folder = tmp_path / "r"
    result = runner.invoke(
        app,
        ["train", "--router", "logreg", "--data", str(data), "--format", "jsonl", "--output", str(folder)],
    )
    assert result.exit_code == 0, result.output
    meta = read_meta(folder)
    assert meta["strong"] == "gpt-4-1106-preview" and meta["embedder"]["name"] == "static-tl-256:128"
    assert meta["metrics"]["holdout_prompts"] == 40 and 0.0 < meta["metrics"]["apgr"] < 1.0
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "prompt": f"What is {i} times {i + 3}?"} for i in range(40)])
    result = runner.invoke(
        app, ["calibrate", "--router", str(folder), "--input", str(src), "--strong-share", "0.25", "--write"]
    )
    assert result.exit_code == 0, result.output
    assert "25.0% of 40 prompts" in result.output
    calib = read_meta(folder)["calibration"]
    assert calib["target"] == {"strong_share": 0.25}
    out = tmp_path / "s.jsonl"
    runner.invoke(app, ["score", "--router", str(folder), "--input", str(src), "--output", str(out)])
    strong = [float(r["score"]) >= calib["threshold"] for r in read_jsonl(out)]
    assert sum(strong) == 10
    bad = runner.invoke(app, ["calibrate", "--router", str(folder), "--input", str(src)])
    assert bad.exit_code == 2 and "exactly one of" in bad.output


def test_train_measures_on_the_tables_own_test_split_when_it_has_one(tmp_path: Path) -> None:
    """LLMRouter ships train/test splits: the stored metrics come from its de-leaked test rows, not a random cut."""
    folder = tmp_path / "task"
    result = runner.invoke(app, ["train", "--router", "task", "--data", "llmrouter", "--output", str(folder)])
    assert result.exit_code == 0, result.output
    metrics = read_meta(folder)["metrics"]
    assert metrics["holdout"].startswith("held-out test split (381 test rows")
    assert metrics["holdout_prompts"] == 381
    assert 0.0 < metrics["routed_argmax_mean_score"] <= 1.0


def test_random_holdout_keeps_duplicate_prompts_on_one_side() -> None:
    from wayfare.data import ResultsTable
    from wayfare.eval.holdout import holdout_rows

    prompts = [f"What is {i % 25} plus {i % 25}?" for i in range(100)]  # 25 texts, 4 rows each
    rng = np.random.default_rng(1)
    table = ResultsTable(
        name="dup", prompt_ids=[str(i) for i in range(100)], prompts=prompts, models=["small", "big"],
        scores=rng.integers(0, 2, size=(100, 2)).astype(float),
    )  # fmt: skip
    train, test, described = holdout_rows(table, 0.2, seed=0)
    assert described.startswith("random 20% of the distinct prompts")
    assert sorted([*train.tolist(), *test.tolist()]) == list(range(100))
    assert len(test) == 20 and not {prompts[i] for i in test} & {prompts[i] for i in train}


def test_train_a_gated_router_on_a_table_whose_categories_mark_the_domain(tmp_path: Path) -> None:
    """A user's own mix: the rows of one category (here MMLU's high-school mathematics, beside its moral scenarios) get
    their own expert; a bad parameter is a one-line error."""
    from wayfare.data import load_benchmark, save_jsonl

    mmlu = load_benchmark("mmlu")
    assert mmlu.categories is not None
    rows = [i for i, c in enumerate(mmlu.categories) if c in ("moral_scenarios", "high_school_mathematics")][:400]
    data = save_jsonl(mmlu.subset(rows), tmp_path / "mix.jsonl")
    folder = tmp_path / "gated"
    args = ["train", "--router", "gated", "--data", str(data), "--format", "jsonl", "--output", str(folder)]
    result = runner.invoke(
        app, [*args, "--param", "domain=high_school_mathematics", "--param", "domain_weight=3", "--label", "weak-fails"]
    )
    assert result.exit_code == 0, result.output
    meta = read_meta(folder)
    assert meta["kind"] == "gated" and meta["params"]["domain"] == "high_school_mathematics"
    assert meta["state"]["domain_rows"] > 0 and meta["metrics"]["holdout_prompts"] == 80
    src, out = write_jsonl(tmp_path / "in.jsonl", PROMPTS), tmp_path / "out.jsonl"
    result = runner.invoke(app, ["score", "--router", str(folder), "--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in read_jsonl(out))
    bad = runner.invoke(app, [*args, "--param", "domain_weight=0"])
    assert bad.exit_code == 2 and "domain_weight must be a positive integer" in bad.output
