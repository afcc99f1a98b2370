"""The shipped default pair router: its embedder meets the latency budget's choice and its calibrated thresholds
send the stored shares of a fresh mixed prompt sample to the strong model; the quick start uses the 50% one."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.data import load_benchmark
from wayfare.gateway.cli import calibrated_threshold
from wayfare.gateway.routing import _serving_embedder
from wayfare.routers import load_router
from wayfare.routers.artifact import read_meta, write_meta
from wayfare.routers.registry import shipped_router_path


def mixed_sample(n: int, seed: int) -> list[str]:
    """n prompts, the same number drawn from each of the bundled MMLU, GSM8K and LLMRouter sets (as calibrated)."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for name in ("mmlu", "gsm8k", "llmrouter"):
        prompts = load_benchmark(name).prompts
        out += [prompts[i] for i in rng.choice(len(prompts), size=n // 3, replace=False).tolist()]
    return out


def test_calibrated_thresholds_send_their_share_strong_on_a_fresh_sample() -> None:
    meta = read_meta(shipped_router_path("default"))
    assert meta["embedder"]["name"] == "static-tl-256:128"
    cal = meta["calibration"]
    router = load_router("default")
    scores = np.asarray(router.score(mixed_sample(1500, seed=123)))
    for key, target in (("0.20", 0.2), ("0.30", 0.3), ("0.50", 0.5)):
        share = float(np.mean(scores >= cal["by_strong_share"][key]["threshold"]))
        assert abs(share - target) < 0.08, (key, share)
    assert cal["threshold"] == cal["by_strong_share"]["0.50"]["threshold"]
    assert float(np.mean(scores >= 0.5)) > 0.9  # why the quick start must not use 0.5 with this router


def test_quick_start_threshold_is_the_calibrated_50_percent_one(tmp_path: Path) -> None:
    value, why = calibrated_threshold("default")
    assert value == read_meta(shipped_router_path("default"))["calibration"]["threshold"] != 0.5
    assert "50% strong" in why
    folder = tmp_path / "uncalibrated"
    shutil.copytree(shipped_router_path("default"), folder)
    meta = read_meta(folder)
    meta["calibration"] = {}
    write_meta(folder, meta)
    assert calibrated_threshold(str(folder))[0] == 0.5
    assert calibrated_threshold("random")[0] == 0.5
    help_text = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200).output
    assert "calibrated" in help_text


def test_serving_embedder_uses_one_thread_unless_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WAYFARE_EMBED_THREADS", raising=False)
    emb = _serving_embedder("default")
    assert emb is not None and emb.name == "static-tl-256:128"
    assert _serving_embedder("default-n").name == "static-tl-256:128"  # both shipped routers share one embedder
    transformer = tmp_path / "on-minilm"  # a router artifact naming the MiniLM-L6 int8 transformer
    shutil.copytree(shipped_router_path("default"), transformer)
    meta = read_meta(transformer)
    meta["embedder"] = {"name": "minilm-l6-int8:128", "dim": 384}
    write_meta(transformer, meta)
    onnx = _serving_embedder(str(transformer))
    assert onnx.session.get_session_options().intra_op_num_threads == 1
    monkeypatch.setenv("WAYFARE_EMBED_THREADS", "2")
    assert _serving_embedder(str(transformer)).session.get_session_options().intra_op_num_threads == 2
    monkeypatch.setenv("WAYFARE_EMBED_THREADS", "zero")
    with pytest.raises(ValueError, match="WAYFARE_EMBED_THREADS"):
        _serving_embedder("default")
