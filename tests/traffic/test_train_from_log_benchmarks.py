"""``wayfare train-from-log --with-benchmarks``: the labelled log stacked with the bundled benchmarks (rows sharing
text with the log dropped), a gated router with a traffic expert, and the bad-input errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.data import load_benchmark
from wayfare.routers import load_router, read_meta
from wayfare.store import SqlRequestLogStore, open_store
from wayfare.store.tables import shadow_pairs

runner = CliRunner()
STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"


def logged_gsm8k(url: str, n: int) -> list[str]:
    """A store whose log holds n labelled shadow pairs: real GSM8K questions with GPT-4's and Mixtral's real grades."""
    table = load_benchmark("gsm8k").subset(range(n))
    strong, weak = table.column(STRONG), table.column(WEAK)
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    rows = [
        {"request_id": f"r{i:04d}", "time": t0 + timedelta(seconds=i), "route": "auto",
         "messages": [{"role": "user", "content": p}], "routed_model": STRONG, "routed_answer": "a",
         "other_model": WEAK, "other_answer": "b", "strong_model": STRONG, "weak_model": WEAK,
         "strong_score": float(strong[i]), "weak_score": float(weak[i]), "label_method": "reference"}
        for i, p in enumerate(table.prompts)
    ]  # fmt: skip
    store = open_store(url)
    assert isinstance(store, SqlRequestLogStore)
    with store.engine.begin() as conn:
        conn.execute(sa.insert(shadow_pairs), rows)
    store.close()
    return list(table.prompts)


def test_a_gated_router_learns_the_log_beside_the_benchmarks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    prompts = logged_gsm8k(url, 200)
    cand = tmp_path / "cand"
    args = ["train-from-log", "--database-url", url, "--out", str(cand), "--router", "gated", "--label", "weak-fails"]
    result = runner.invoke(app, [*args, "--with-benchmarks", "--traffic-weight", "5"], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert "each counted 5x, beside" in result.output and "mmlu, gsm8k, llmrouter" in result.output
    meta = read_meta(cand)
    assert meta["kind"] == "gated" and meta["params"]["domain"] == "traffic"  # the log is the gated domain
    trained = meta["extra"]["trained_from_log"]
    mixed = trained["with_benchmarks"]
    assert mixed["traffic"] == {"rows": trained["train_prompts"], "weight": 5, "label": "weak-fails"}
    # every logged prompt is a GSM8K question, held-out ones included: each of them left the benchmark rows
    assert mixed["gsm8k"]["dropped_sharing_text_with_the_log"] >= 190
    assert mixed["llmrouter"]["label"] == "weak-fails" and mixed["mmlu"]["rows"] > 10_000
    router = load_router(cand)
    assert router.domain_n_ == 5 * trained["train_prompts"]  # type: ignore[attr-defined]
    assert router.training_["n_prompts"] == 5 * trained["train_prompts"] + sum(
        mixed[b]["rows"] for b in ("mmlu", "gsm8k", "llmrouter")
    )
    # the held-out logged prompts are scored by `wayfare compare` against a random router
    out = tmp_path / "c.json"
    result = runner.invoke(
        app, ["compare", "--candidate", str(cand), "--current", "random", "--database-url", url, "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    compared = json.loads(out.read_text())
    assert compared["held_out_prompts"] == trained["held_out_prompts"] and len(prompts) == 200


def test_bad_benchmark_options_are_one_line_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    logged_gsm8k(url, 30)
    args = ["train-from-log", "--database-url", url, "--out", str(tmp_path / "c")]
    alone = runner.invoke(app, [*args, "--traffic-weight", "3"])
    assert alone.exit_code == 2 and "--traffic-weight weighs the log against the benchmarks" in alone.output
    zero = runner.invoke(app, [*args, "--with-benchmarks", "--traffic-weight", "0"])
    assert zero.exit_code == 2 and "--traffic-weight must be a positive integer, got 0" in zero.output
    assert not (tmp_path / "c").exists()  # nothing half-written
