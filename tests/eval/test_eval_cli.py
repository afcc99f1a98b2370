"""`wayfare eval` end to end: the MMLU/GSM8K acceptance numbers against the raw CSVs, MT-Bench and RouterArena
files in their own formats, the report files, and clear errors."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from wayfare.cli import app

SHARED = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
ROUTELLM = SHARED / "routellm"
STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"


def run_eval(args: list[str]) -> tuple[int, str, dict[str, object] | None, Path | None]:
    result = CliRunner().invoke(app, ["eval", *args])
    out = Path(args[args.index("--out") + 1]) if "--out" in args else None
    metrics = json.loads((out / "metrics.json").read_text()) if out and (out / "metrics.json").exists() else None
    return result.exit_code, result.output, metrics, out


def oracle_apgr_from_csvs(files: list[Path], contaminated: Path) -> tuple[float, int]:
    """Independent oracle APGR straight from RouteLLM's CSVs (csv module, closed form).

    Drop contaminated prompts. With n1 prompts only the strong model gets right, n0 ties and nm only the weak one
    gets right, the oracle's curve is (0, 0) -> (a, P) -> (a + b, P) -> (1, 1) with a = n1/n, b = n0/n and
    P = n1 / (n1 - nm) (PGR of sending exactly the n1 prompts to strong), so
    APGR = a P / 2 + b P + (1 - a - b)(P + 1) / 2.
    """
    bad = {json.loads(line)["eval_prompt"] for line in contaminated.read_text().splitlines() if line.strip()}
    n1 = n0 = nm = 0
    for f in files:
        with f.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["prompt"] in bad:
                    continue
                s, w = row[STRONG] == "True", row[WEAK] == "True"
                n1 += s and not w
                nm += w and not s
                n0 += s == w
    n = n1 + n0 + nm
    a, b, p = n1 / n, n0 / n, n1 / (n1 - nm)
    return a * p / 2 + b * p + (1 - a - b) * (p + 1) / 2, n


@pytest.mark.skipif(not ROUTELLM.is_dir(), reason=f"RouteLLM data not present at {ROUTELLM}")
@pytest.mark.parametrize("name", ["mmlu", "gsm8k"])
def test_builtin_benchmark_oracle_and_random_match_the_raw_csvs(name: str, tmp_path: Path) -> None:
    files = (
        sorted((ROUTELLM / "mmlu" / "responses").glob("mmlu_*.csv"))
        if name == "mmlu"
        else [ROUTELLM / "gsm8k" / "gsm8k_responses.csv"]
    )
    expected, n = oracle_apgr_from_csvs(files, ROUTELLM / name / "contaminated_prompts.jsonl")
    code, output, metrics, _ = run_eval(
        ["--benchmark", name, "--routers", "", "--bootstrap", "200", "--out", str(tmp_path)]
    )
    assert code == 0, output
    assert metrics is not None
    assert metrics["n_prompts"] == n
    assert (metrics["strong"], metrics["weak"]) == (STRONG, WEAK)
    routers = metrics["routers"]
    assert isinstance(routers, dict)
    assert routers["oracle"]["apgr"] == pytest.approx(expected, abs=1e-9)
    assert routers["random"]["apgr"] == pytest.approx(0.5, abs=0.03)
    lo, hi = routers["random"]["apgr_ci"]
    assert lo < 0.5 < hi
    assert 0 < routers["oracle"]["cpt50"] < 1 and routers["oracle"]["cost_saved_at_95"] > 0


def write_mt_bench(d: Path, models: dict[str, float], n: int = 40) -> None:
    """FastChat layout: question.jsonl, judgements.jsonl (judge [name, prompt], turns 1 and 2, -1 = failure)."""
    d.mkdir()
    rng = np.random.default_rng(0)
    with (d / "question.jsonl").open("w") as fh:
        for q in range(n):
            cat = "math" if q % 2 else "writing"
            fh.write(
                json.dumps({"question_id": 81 + q, "category": cat, "turns": [f"{cat} task {q}", "and more?"]}) + "\n"
            )
    with (d / "judgements.jsonl").open("w") as fh:
        for q in range(n):
            for model, skill in models.items():
                for turn in (1, 2):
                    hard = q % 2 == 1
                    score = int(np.clip(round(skill * (4 if hard else 9) + rng.normal(0, 1)), 1, 10))
                    if q == 3 and turn == 2:
                        score = -1
                    row = {"question_id": 81 + q, "model": model, "judge": ["gpt-4", "single-v1"], "score": score,
                           "turn": turn, "user_prompt": "...", "judgment": "Rating: [[x]]"}  # fmt: skip
                    fh.write(json.dumps(row) + "\n")


def test_mt_bench_format(tmp_path: Path) -> None:
    data = tmp_path / "mtb"
    write_mt_bench(data, {STRONG: 1.0, WEAK: 0.8, "llama-3.1-8b-instruct": 0.6})
    out = tmp_path / "out"
    code, output, metrics, _ = run_eval(
        [
            "--data",
            str(data),
            "--format",
            "mt-bench",
            "--strong",
            STRONG,
            "--weak",
            WEAK,
            "--routers",
            "",
            "--folds",
            "4",
            "--out",
            str(out),
        ]
    )
    assert code == 0, output
    assert metrics is not None and metrics["n_prompts"] == 40 and metrics["mode"] == "pair"
    assert metrics["routers"]["oracle"]["apgr"] >= metrics["routers"]["random"]["apgr"]  # type: ignore[index]
    assert "APGR" in output


def test_prices_file_gives_costs_to_models_without_a_list_price(tmp_path: Path) -> None:
    data = tmp_path / "mtb"
    write_mt_bench(data, {"our-big": 1.0, "our-mid": 0.8, "our-small": 0.6})
    base = ["--data", str(data), "--format", "mt-bench", "--routers", "", "--bootstrap", "0"]
    code, output, _, _ = run_eval([*base, "--out", str(tmp_path / "a")])
    assert code == 1 and "no list price" in output and "--prices FILE" in output  # three models need costs
    prices = tmp_path / "prices.json"
    table = {"our-big": (5.0, 15.0), "our-mid": (1.0, 2.0), "our-small": (0.1, 0.2)}
    prices.write_text(json.dumps({"models": {m: {"input": i, "output": o} for m, (i, o) in table.items()}}))
    code, output, metrics, _ = run_eval([*base, "--prices", str(prices), "--out", str(tmp_path / "b")])
    assert code == 0, output
    assert metrics is not None and metrics["mode"] == "multi" and str(prices) in str(metrics["cost_basis"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"models": {"our-big": {"input": -1, "output": 1}}}))
    code, output, _, _ = run_eval([*base, "--prices", str(bad), "--out", str(tmp_path / "c")])
    assert code == 1 and "negative or non-finite price" in output and "Traceback" not in output


def write_routerarena(d: Path, n: int = 60) -> None:
    """One <model>.jsonl per model, joined on global_index; cost = evaluation_result.inference_cost."""
    d.mkdir()
    rng = np.random.default_rng(1)
    for model, (skill, price) in {"cheap": (0.4, 0.00002), "mid": (0.6, 0.0004), "big": (0.85, 0.004)}.items():
        with (d / f"{model}.jsonl").open("w") as fh:
            for i in range(n):
                hard = i % 3 == 0
                score = float(rng.random() < (skill * 0.5 if hard else min(1.0, skill + 0.2)))
                row = {
                    "global_index": i,
                    "question": f"{'prove' if hard else 'name'} thing {i}",
                    "llm_selected": model,
                    "generated_answer": "...",
                    "token_usage": {"input_tokens": 40, "output_tokens": 100},
                    "success": True,
                    "evaluation_result": {"score": score, "inference_cost": price, "metric": "em", "ground_truth": "x"},
                }
                fh.write(json.dumps(row) + "\n")


def test_routerarena_format_multi_model(tmp_path: Path) -> None:
    data = tmp_path / "ra"
    write_routerarena(data)
    out = tmp_path / "out"
    code, output, metrics, _ = run_eval(
        ["--data", str(data), "--format", "routerarena", "--routers", "", "--out", str(out)]
    )
    assert code == 0, output
    assert metrics is not None and metrics["mode"] == "multi" and metrics["n_prompts"] == 60
    routers = metrics["routers"]
    assert isinstance(routers, dict)
    for name in ("oracle", "random", "always-weak", "always-strong"):
        assert "aiq" in routers[name] and "quality_at_best_single_cost" in routers[name]
    assert routers["oracle"]["aiq"] > routers["random"]["aiq"]
    assert routers["always-strong"]["model"] == "big"
    assert (out / "cost_quality.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_registry_routers_take_parameters_in_brackets(tmp_path: Path) -> None:
    data = tmp_path / "mtb"
    write_mt_bench(data, {STRONG: 1.0, WEAK: 0.7})
    base = ["--data", str(data), "--format", "mt-bench", "--folds", "3", "--bootstrap", "0"]
    code, output, metrics, _ = run_eval([*base, "--routers", "knn[k=3],knn", "--out", str(tmp_path / "a")])
    assert code == 0, output
    assert metrics is not None and set(metrics["routers"]) >= {"knn[k=3]", "knn"}  # type: ignore[arg-type]
    assert "knn[k=3]" in output.replace("\n", "")  # shown as given, not eaten as markup
    code, output, _, _ = run_eval([*base, "--routers", "knn[nope=1]", "--out", str(tmp_path / "b")])
    assert code == 1 and "bad parameters for router 'knn'" in output and "nope" in output
    code, output, _, _ = run_eval([*base, "--routers", "knn[k=3", "--out", str(tmp_path / "c")])
    assert code == 1 and "router 'knn[k=3': parameters go in brackets" in output  # brackets in errors survive


def test_learned_router_from_the_registry_and_the_report(tmp_path: Path) -> None:
    data = tmp_path / "mtb"
    write_mt_bench(data, {STRONG: 1.0, WEAK: 0.7})
    out = tmp_path / "out"
    code, output, metrics, _ = run_eval(
        ["--data", str(data), "--format", "mt-bench", "--routers", "knn,random", "--folds", "3", "--out", str(out)]
    )
    assert code == 0, output
    assert metrics is not None
    knn = metrics["routers"]["knn"]  # type: ignore[index]
    assert knn["kind"] == "trained per fold" and 0 <= knn["apgr_ci"][0] <= knn["apgr_ci"][1]
    assert str(metrics["embedder"]) == "static-tl-256:128"  # the default embedder, named in the results
    assert "random is a baseline" in output
    page = (out / "report.html").read_text()
    assert "Measured on" in page and "40 evaluated prompts" in page and "3-fold" in page
    assert page.count("data:image/png;base64,") == 2
    assert not re.search(r"(src|href)=[\"']https?:", page)  # self-contained: nothing fetched
    assert "<script" not in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--benchmark", "nope"], "unknown benchmark 'nope'"),
        (["--data", "/nonexistent"], "--data needs --format"),
        (["--data", "/nonexistent", "--format", "mt-bench"], "no such file"),
        ([], "give --benchmark"),
        (["--benchmark", "gsm8k", "--routers", "frobnicate"], "unknown router 'frobnicate'"),
        (["--benchmark", "gsm8k", "--folds", "1"], "--folds must be at least 2"),
        (["--benchmark", "gsm8k", "--strong", "nobody"], "nobody"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", *args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_shipped_default_pair_router_is_scored_on_any_pair(tmp_path: Path) -> None:
    # The shipped default is trained on several model pairs (columns "weak"/"strong"), so it serves any pair:
    # it is scored on every prompt without training.
    data = tmp_path / "mtb"
    write_mt_bench(data, {STRONG: 1.0, WEAK: 0.7})
    out = tmp_path / "out"
    code, output, metrics, _ = run_eval(
        ["--data", str(data), "--format", "mt-bench", "--routers", "default", "--out", str(out)]
    )
    assert code == 0, output
    assert metrics is not None
    entry = metrics["routers"]["default"]  # type: ignore[index]
    assert entry["kind"] == "artifact (scored without training)"
    assert 0.0 <= entry["cpt50"] <= 1.0


def test_embedder_option_is_recorded_and_bad_spec_is_an_error(tmp_path: Path) -> None:
    data = tmp_path / "mtb"
    write_mt_bench(data, {STRONG: 1.0, WEAK: 0.7})
    out = tmp_path / "out"
    args = ["--data", str(data), "--format", "mt-bench", "--routers", "logreg", "--folds", "3", "--out", str(out)]
    code, output, metrics, _ = run_eval([*args, "--embedder", "static-256:64"])
    assert code == 0, output
    assert metrics is not None and metrics["embedder"] == "static-256:64"
    code, output, _, _ = run_eval([*args, "--embedder", "static-256:lots"])
    assert code != 0 and "NAME:MAX_TOKENS" in output


def test_demo_evaluates_the_bundled_benchmarks_then_shows_whether_it_transfers(tmp_path: Path) -> None:
    # what `make demo` runs (fewer folds and one router, for time): both parts, their reports and the printed numbers
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--folds", "2", "--routers", "logreg"])
    assert result.exit_code == 0, result.output
    for name in ("mmlu", "gsm8k"):
        metrics = json.loads((out / name / "metrics.json").read_text())
        apgr = metrics["routers"]["logreg"]["apgr"]
        assert f"logreg         APGR {apgr:.3f}" in result.output
        assert (out / name / "report.html").is_file()
    transfer = json.loads((out / "transfer" / "metrics.json").read_text())
    assert list(transfer["sources"]) == ["mmlu", "gsm8k", "llmrouter"]
    assert set(transfer["candidates"]) == {
        "knn / strong-wins", "knn / difficulty",
        "ensemble[knn_weight=0] / strong-wins", "ensemble[knn_weight=0] / difficulty",
    }  # fmt: skip
    best = max(transfer["candidates"], key=lambda c: transfer["candidates"][c]["transfer_mean"]["apgr"])
    assert "Does it transfer?" in result.output and f"best mean held-out APGR: {best}" in result.output
    mean = transfer["candidates"][best]["transfer_mean"]["apgr"]
    assert f"{mean:.3f} [" in result.output  # the held-out table's numbers are printed, not squeezed out
    assert (out / "transfer" / "report.html").is_file() and "Demo finished" in result.output
