"""`wayfare eval --transfer` end to end: sources in their own formats, the report, clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.data import load_benchmark, save_jsonl

SHARED = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
ARENA = SHARED / "chat" / "arena-bench-v1"


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["eval", "--transfer", *args])
    return result.exit_code, result.output


def test_transfer_over_two_tables_writes_both_tables_and_the_plot(tmp_path: Path) -> None:
    gsm = save_jsonl(load_benchmark("gsm8k").subset(range(150)), tmp_path / "gsm.jsonl")
    llm = load_benchmark("llmrouter")
    small = save_jsonl(llm.subset(range(0, 1500, 10)), tmp_path / "llm.jsonl")
    out = tmp_path / "report"
    code, output = run(
        ["--source", f"jsonl:{gsm}", "--source", f"jsonl:{small}", "--routers", "logreg,ensemble[knn_weight=0]",
         "--labels", "strong-wins,weak-fails", "--folds", "2", "--bootstrap", "50", "--out", str(out)]
    )  # fmt: skip
    assert code == 0, output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["candidates"]) == {
        "logreg / strong-wins", "logreg / weak-fails",
        "ensemble[knn_weight=0] / strong-wins", "ensemble[knn_weight=0] / weak-fails",
    }  # fmt: skip
    names = list(metrics["sources"])
    assert metrics["sources"][names[0]]["strong"] == "gpt-4-1106-preview"
    assert metrics["sources"][names[1]]["strong"] == "llama-3.1-nemotron-51b-instruct"  # LLMRouter's known pair
    for entry in metrics["candidates"].values():
        assert set(entry["transfer"]) == set(entry["in_source"]) == set(names)
        assert isinstance(entry["transfer_mean"]["apgr"], float) and len(entry["transfer_mean"]["apgr_ci"]) == 2
    assert (out / "transfer.png").read_bytes()[:4] == b"\x89PNG"
    html = (out / "report.html").read_text()
    assert "Held-out-source APGR" in html and "In-source 2-fold APGR" in html
    assert "best mean held-out APGR:" in output
    assert "ensemble[knn_weight=0] /" in output.replace("\n", " ")  # the parameters are shown, not eaten as markup


@pytest.mark.skipif(not ARENA.is_dir(), reason=f"{ARENA} is not here (the shared data folder)")
def test_transfer_reads_arena_bench_in_its_own_format(tmp_path: Path) -> None:
    out = tmp_path / "r"
    code, output = run(
        ["--source", "gsm8k", "--source", f"arena-hard:{ARENA}", "--routers", "logreg", "--labels", "difficulty",
         "--bootstrap", "0", "--out", str(out)]
    )  # fmt: skip
    assert code == 0, output
    metrics = json.loads((out / "metrics.json").read_text())
    arena = metrics["sources"]["arena-bench-v1"]
    assert arena["n_prompts"] == 294 and arena["n_models"] == 14
    assert (arena["strong"], arena["weak"]) == ("gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1")
    used = metrics["candidates"]["logreg / difficulty"]["labels_used"]
    assert used == {"gsm8k": "weak-fails", "arena-bench-v1": "difficulty"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "gsm8k"], "needs at least two sources"),
        (["--source", "gsm8k", "--source", "nowhere"], "give a bundled benchmark"),
        (["--source", "gsm8k", "--source", "jsonl:/no/such.jsonl"], "no such file or directory"),
        (["--source", "gsm8k", "--source", "gsm8k"], "two sources are named gsm8k"),
        (["--source", "gsm8k", "--source", "mmlu", "--routers", "oracle"], "--transfer trains routers"),
        (["--source", "gsm8k", "--source", "mmlu", "--labels", "hardest"], "unknown label 'hardest'"),
        (["--source", "gsm8k", "--source", "mmlu", "--routers", "knn[k=3"], "parameters go in brackets"),
        (["--benchmark", "gsm8k"], "takes its tables from --source"),
        (["--source", "gsm8k", "--source", "mmlu", "--source-weight", "chat=3"], "no source is named 'chat'"),
        (["--source", "gsm8k", "--source", "mmlu", "--source-weight", "gsm8k=0"], "W a positive integer"),
        (["--source", "gsm8k", "--source", "mmlu", "--source-weight", "gsm8k"], "W a positive integer"),
        (["--source", "gsm8k", "--source", "mmlu", "--prices", "p.json"], "--prices is for costs"),
        (["--source", "gsm8k", "--source", "mmlu", "--hold-out-categories"], "--hold-out-categories holds out"),
    ],
)
def test_bad_transfer_input_is_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    code, output = run([*args, "--out", str(tmp_path / "x")])
    assert code == 1
    assert message in output and "Traceback" not in output


def test_the_printed_table_keeps_every_number_on_an_80_column_terminal() -> None:
    # four sources and names as long as the shipped label's: the numbers must stay visible, the names give way
    from rich.console import Console

    from wayfare.eval.transfer_cli import print_transfer

    sources = ["mmlu", "gsm8k", "llmrouter", "arena-bench-v1"]
    label = "difficulty:exclude=llama3-chatqa-1.5-70b+llama3-chatqa-1.5-8b"
    cands = {}
    for k, router in enumerate(["gated", "ensemble[knn_weight=0]", "logreg"]):
        vals = [0.5 + 0.01 * k + 0.001 * j for j in range(len(sources))]
        cands[f"{router} / {label}"] = {
            "transfer": {s: {"apgr": v, "apgr_ci": [v - 0.02, v + 0.02]} for s, v in zip(sources, vals, strict=True)},
            "transfer_mean": {"apgr": sum(vals) / 4, "apgr_ci": [0.4, 0.7]},
        }
    metrics = {
        "sources": {s: {"n_prompts": 10, "strong": "a", "weak": "b", "oracle_apgr": 0.9} for s in sources},
        "decontamination": {s: {"dropped_from_training": {}} for s in sources},
        "candidates": cands,
    }
    console = Console(width=80, record=True, force_terminal=False)
    print_transfer(console, metrics, {"report": Path("r.html"), "metrics": Path("m.json")})
    text = console.export_text()
    assert max(len(line) for line in text.splitlines() if "│" in line) <= 80
    for entry in cands.values():
        for s in sources:
            assert f"{entry['transfer'][s]['apgr']:.3f}" in text
        assert f"{entry['transfer_mean']['apgr']:.3f} [0.400, 0.700]" in text
    assert "oracle (the limit)" in text and "0.900" in text


def test_a_gated_router_finds_the_ensemble_configured_as_its_expert() -> None:
    from wayfare.eval.transfer_cli import in_source_twins
    from wayfare.eval.transfer_sources import parse_router

    names = ("logreg", "ensemble[knn_weight=0]", "gated", "ensemble[knn_weight=0;c=1.0]", "gated[c=1.0]", "knn")
    choices = [parse_router(n) for n in names]
    fits = [object() for _ in choices]
    assert in_source_twins(choices, fits, seed=0) == {2: fits[1], 4: fits[3]}
    lonely = [parse_router("gated[feature_scale=0.3]"), parse_router("ensemble[knn_weight=0]")]
    assert in_source_twins(lonely, [object(), object()], seed=0) == {}
