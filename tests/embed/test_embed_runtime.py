"""load_embedder: shapes, normalisation, edge inputs, batch == single, truncation, no torch, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wayfare.embed import Embedder, ModelError, load_embedder


def test_protocol_shape_dtype_norm(embedder: Embedder, mmlu_prompts: list[str]) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.name == "minilm-l6-int8:128"
    vecs = embedder.embed(mmlu_prompts[:8])
    assert vecs.shape == (8, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_edge_inputs_never_fail(embedder: Embedder) -> None:
    huge = "tell me about the weather " * 100_000
    vecs = embedder.embed(["", " ", huge, "東京は日本の首都です", "🙂" * 50, "\x00"])
    assert vecs.shape == (6, 384)
    assert np.isfinite(vecs).all()
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_rejects_a_bare_string(embedder: Embedder) -> None:
    with pytest.raises(TypeError, match="sequence of strings"):
        embedder.embed("hello")


def test_batch_equals_single(embedder: Embedder, mmlu_prompts: list[str]) -> None:
    texts = [*mmlu_prompts[:6], "short one", ""]
    batch = embedder.embed(texts)
    singles = np.concatenate([embedder.embed([t]) for t in texts])
    np.testing.assert_array_equal(batch, singles)
    np.testing.assert_array_equal(embedder.embed(texts[::-1]), batch[::-1])  # order-independent too


def test_meaning_is_captured(embedder: Embedder) -> None:
    a, b, c = embedder.embed(
        ["How do I reverse a list in Python?", "What's the way to reverse a Python list?", "Best pizza in Naples"]
    )
    assert float(a @ b) > 0.8
    assert float(a @ b) > float(a @ c) + 0.3


def test_truncation_keeps_head_and_tail_drops_middle(embedder: Embedder) -> None:
    head = "Translate this legal contract into French, keeping every clause intact. " * 20  # > 3/4 of 126 tokens
    tail = " Answer in one short paragraph and cite the clause numbers you changed." * 6  # > 1/4 of 126 tokens
    one, two = embedder.embed([head + "The first middle differs. " * 50 + tail, head + "Other words. " * 80 + tail])
    np.testing.assert_array_equal(one, two)  # only the middle differs, and the middle is what a long text loses
    new_tail = head + "The first middle differs. " * 50 + " Summarise it as a haiku about the sea." * 6
    assert float(one @ embedder.embed([new_tail])[0]) < 0.99  # the tail is kept, so changing it matters


def test_max_tokens_is_in_the_name_and_changes_vectors(mmlu_prompts: list[str], default_dir: Path) -> None:
    short = load_embedder("minilm-l6-int8", max_tokens=16, auto_install=False, threads=1)
    assert short.name == "minilm-l6-int8:16"
    long_prompt = mmlu_prompts[0] + " " + mmlu_prompts[1]
    full = load_embedder("minilm-l6-int8", auto_install=False, threads=1)
    assert float(short.embed([long_prompt])[0] @ full.embed([long_prompt])[0]) < 0.999


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="unknown embedding model 'nope'"):
        load_embedder("nope")


def test_missing_model_names_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYFARE_CACHE_DIR", str(tmp_path))
    with pytest.raises(ModelError, match=r"run `wayfare models install minilm-l3-int8`"):
        load_embedder("minilm-l3-int8", auto_install=False)


def test_loading_does_not_import_torch(default_dir: Path) -> None:
    code = (
        "import sys\nfrom wayfare.embed import load_embedder\n"
        "e = load_embedder(auto_install=False)\ne.embed(['hi'])\n"
        "assert 'torch' not in sys.modules and 'onnx' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("name", ["minilm-l3-int8", "static-256", "static-tl-256", "static-tl-384", "minilm-l6-fp32"])
def test_optional_models_when_built(name: str, embedder: Embedder) -> None:
    try:
        other = load_embedder(name, auto_install=False, threads=1)
    except ModelError:
        pytest.skip(f"{name} is not built (optional; `wayfare models install {name}`)")
    texts = ["How do I reverse a list in Python?", "What's the way to reverse a Python list?", "Best pizza in Naples",
             ""]  # fmt: skip
    vecs = other.embed(texts)
    assert vecs.shape == (4, other.dim) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert float(vecs[0] @ vecs[1]) > float(vecs[0] @ vecs[2])
    np.testing.assert_allclose(np.concatenate([other.embed([t]) for t in texts]), vecs, atol=1e-5)


def test_workers_do_not_change_vectors(embedder: Embedder, mmlu_prompts: list[str], default_dir: Path) -> None:
    parallel = load_embedder("minilm-l6-int8", threads=1, workers=2, auto_install=False)
    np.testing.assert_array_equal(parallel.embed(mmlu_prompts[:10]), embedder.embed(mmlu_prompts[:10]))
    with pytest.raises(ValueError, match="workers"):
        load_embedder("minilm-l6-int8", workers=0, auto_install=False)


def test_threads_and_spinning_do_not_change_vectors(
    embedder: Embedder, mmlu_prompts: list[str], default_dir: Path
) -> None:
    texts = mmlu_prompts[:4]
    for spinning in (False, True):
        two = load_embedder("minilm-l6-int8", threads=2, spinning=spinning, auto_install=False)
        np.testing.assert_allclose(two.embed(texts), embedder.embed(texts), atol=1e-6)
