"""The shipped default's card: what it was trained on, with which label, and how it holds on sources it never saw;
and the check that it orders chat prompts it never saw by difficulty (arena-bench-v1, when ../shared/data is here)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.data import load_table
from wayfare.routers import load_router
from wayfare.routers.artifact import read_meta
from wayfare.routers.registry import shipped_router_path

SHARED = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
ARENA = SHARED / "chat" / "arena-bench-v1"


def test_the_card_states_sources_label_and_held_out_numbers() -> None:
    meta = read_meta(shipped_router_path("default"))
    assert meta["training"]["label"] == "difficulty"
    assert set(meta["training"]["sources"]) == {"mmlu", "gsm8k", "llmrouter"}  # never the chat check
    transfer = meta["metrics"]["transfer"]
    assert set(transfer) == {"mmlu", "gsm8k", "llmrouter", "arena-bench-v1"}
    for entry in [*transfer.values(), meta["metrics"]["transfer_mean"]]:
        lo, hi = entry["apgr_ci"]
        assert lo <= entry["apgr"] <= hi
    assert "leave-one-source-out" in meta["metrics"]["measured_on"]
    assert not any(k.startswith("apgr_5fold") for k in meta["metrics"])  # no in-sample numbers on the card
    out = CliRunner().invoke(app, ["models", "show", "default"], terminal_width=200).output
    assert "label: difficulty" in out and "held-out-source APGR" in out and "arena-bench-v1:" in out
    assert f"threshold: {meta['calibration']['threshold']}" in out
    bad = CliRunner().invoke(app, ["models", "show", "no-such-router"])
    assert bad.exit_code == 2 and "no router artifact at no-such-router" in bad.output


@pytest.mark.skipif(not ARENA.is_dir(), reason=f"{ARENA} is not here (the shared data folder)")
def test_default_orders_chat_it_never_saw_by_difficulty() -> None:
    table = load_table(ARENA, "arena-hard")
    others = [j for j, m in enumerate(table.models) if m not in ("gpt-4-1106-preview", "gpt-4-0314")]
    difficulty = 1.0 - np.nanmean(table.scores[:, others], axis=1)
    scores = load_router("default").score(table.prompts)
    rho = float(spearmanr(scores, difficulty)[0])
    assert rho >= 0.25
    stored = read_meta(shipped_router_path("default"))["metrics"]["chat_difficulty"]
    assert abs(stored["spearman"] - rho) < 0.01  # the card's number is this measurement
