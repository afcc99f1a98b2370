"""The shipped default's card: what it was trained on, with which label, and how it holds on sources it never saw;
and the check that its configuration, trained without arena-bench-v1, orders those chat prompts by difficulty (when
../shared/data is here)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.embed import load_embedder
from wayfare.eval.train_defaults import DEFAULT_EMBEDDER, PAIR_LABEL, chat_check, pair_sources
from wayfare.routers.artifact import read_meta
from wayfare.routers.registry import shipped_router_path

SHARED = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
ARENA = SHARED / "chat" / "arena-bench-v1"


def test_the_card_states_sources_label_and_held_out_numbers() -> None:
    meta = read_meta(shipped_router_path("default"))
    # the difficulty label without the two models whose multiple-choice format failures are noise, not difficulty
    assert meta["training"]["label"] == PAIR_LABEL == "difficulty:exclude=llama3-chatqa-1.5-70b+llama3-chatqa-1.5-8b"
    assert meta["training"]["labels_used"]["mmlu"] == "weak-fails"  # two models: the one-model form
    assert set(meta["training"]["sources"]) == {"mmlu", "gsm8k", "llmrouter", "arena-bench-v1"}
    assert "counted 10x" in meta["training"]["sources"]["arena-bench-v1"]
    # the gated default: chat prompts go to the chat expert, benchmark prompts to the benchmark expert (in-sample)
    assert meta["kind"] == "gated" and meta["params"]["domain"] == "arena-bench-v1"
    gate = meta["training"]["gate_share"]
    assert gate["arena-bench-v1"] > 0.9 and max(gate["mmlu"], gate["gsm8k"], gate["llmrouter"]) < 0.2
    kfold = meta["metrics"]["chat_kfold"]  # the chat expert's evidence, labelled as in-source
    assert kfold["apgr_ci"][0] <= kfold["apgr"] <= kfold["apgr_ci"][1] and "optimistic" in kfold["what"]
    transfer = meta["metrics"]["transfer"]
    assert set(transfer) == {"mmlu", "gsm8k", "llmrouter", "arena-bench-v1"}
    for entry in [*transfer.values(), meta["metrics"]["transfer_mean"]]:
        lo, hi = entry["apgr_ci"]
        assert lo <= entry["apgr"] <= hi
    assert "leave-one-source-out" in meta["metrics"]["measured_on"]
    assert not any(k.startswith("apgr_5fold") for k in meta["metrics"])  # no in-sample numbers on the card
    out = CliRunner().invoke(app, ["models", "show", "default"], terminal_width=200).output
    assert f"label: {PAIR_LABEL}" in out and "held-out-source APGR" in out and "arena-bench-v1:" in out
    assert f"threshold: {meta['calibration']['threshold']}" in out
    assert f"chat it was trained on: APGR {kfold['apgr']:.3f}" in out and "gate: share of each source" in out
    bad = CliRunner().invoke(app, ["models", "show", "no-such-router"])
    assert bad.exit_code == 2 and "no router artifact at no-such-router" in bad.output


def test_the_n_model_card_shows_nested_measurements_as_readable_lines() -> None:
    meta = read_meta(shipped_router_path("default-n"))
    out = CliRunner().invoke(app, ["models", "show", "default-n"], terminal_width=400).output
    assert "label: scores (each model’s own score)" in out  # an N-model router has no pair label
    assert meta["training"]["label"] == "scores"
    arena = meta["metrics"]["arena_bench_v1"]  # measured on models it never saw (docs/ROUTERS.md)
    aiq = arena["adapted"]["aiq"]
    assert f"    aiq: {aiq['mean']} [{aiq['interval'][0]}, {aiq['interval'][1]}]" in out.splitlines()
    assert "arena_bench_v1:" in out.splitlines() and "{'" not in out  # no raw dict dumps


@pytest.mark.skipif(not ARENA.is_dir(), reason=f"{ARENA} is not here (the shared data folder)")
def test_the_default_configuration_orders_chat_it_never_saw_by_difficulty() -> None:
    """Trained like the default but without arena-bench-v1, its score follows the chat prompts' difficulty (1 - mean
    grade of the judged models other than the two GPT-4s); the card's number is this measurement."""
    sources = pair_sources()
    embedder = load_embedder(DEFAULT_EMBEDDER.split(":")[0], max_tokens=int(DEFAULT_EMBEDDER.split(":")[1]))
    vectors = [np.asarray(embedder.embed(s.table.prompts), dtype=np.float32) for s in sources]
    assert sources[-1].name == "arena-bench-v1" and len(sources[-1].table) == 298
    rho, lo, hi = chat_check(sources, vectors, embedder)
    assert rho >= 0.25 and lo < rho < hi
    stored = read_meta(shipped_router_path("default"))["metrics"]["chat_difficulty"]
    assert abs(stored["spearman"] - rho) < 0.01
