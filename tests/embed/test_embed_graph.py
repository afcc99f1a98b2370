"""The ONNX encoder built with onnx.helper computes what a textbook NumPy BERT computes; quantisation keeps it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from safetensors.numpy import load as load_safetensors

from wayfare.embed import Embedder
from wayfare.embed.bert_graph import OUTPUT_NAME, BertConfig, build_bert_encoder
from wayfare.embed.onnx_embedder import DISABLED_OPTIMIZERS
from wayfare.embed.quantize import quantize_int8
from wayfare.embed.reference import reference_forward
from wayfare.embed.sources import MINILM_L6_DIR, read_member
from wayfare.embed.tokenize import BudgetTokenizer


def run(model: onnx.ModelProto | Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    src = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    sess = ort.InferenceSession(src, providers=["CPUExecutionProvider"], disabled_optimizers=DISABLED_OPTIMIZERS)
    out: np.ndarray = sess.run([OUTPUT_NAME], {"input_ids": ids, "attention_mask": mask})[0]
    return out


def padded_batch(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    width = max(map(len, rows))
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return ids, mask


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out: np.ndarray = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return out


Tiny = tuple[BertConfig, Callable[..., dict[str, np.ndarray]]]


def test_tiny_graph_matches_numpy_reference_with_padding(tiny: Tiny) -> None:
    TINY, tiny_weights = tiny
    weights = tiny_weights()
    ids, mask = padded_batch([[1, 5, 9, 2], [1, 7, 2], [1, 2], [1, 3, 4, 5, 6, 7, 8, 9, 10, 2]])
    got = run(build_bert_encoder(weights, TINY), ids, mask)
    want = reference_forward(weights, TINY, ids, mask)
    assert got.shape == (4, TINY.hidden_size)
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-4)


def test_padding_does_not_change_a_row(tiny: Tiny) -> None:
    TINY, tiny_weights = tiny
    weights = tiny_weights(seed=3)
    model = build_bert_encoder(weights, TINY)
    alone = run(model, *padded_batch([[1, 7, 2]]))
    padded = run(model, *padded_batch([[1, 7, 2], [1, 4, 4, 4, 4, 4, 2]]))[:1]
    np.testing.assert_allclose(alone, padded, atol=1e-5)


def test_reference_catches_a_wrong_weight(tiny: Tiny) -> None:
    """The comparison can fail: a graph built from perturbed weights no longer matches the reference."""
    TINY, tiny_weights = tiny
    weights = tiny_weights()
    broken = dict(weights)
    broken["encoder.layer.1.attention.self.key.weight"] = weights["encoder.layer.1.attention.self.key.weight"].T
    ids, mask = padded_batch([[1, 5, 9, 2]])
    assert (
        np.abs(run(build_bert_encoder(broken, TINY), ids, mask) - reference_forward(weights, TINY, ids, mask)).max()
        > 1e-3
    )


def test_config_rejects_unsupported_activation() -> None:
    with pytest.raises(ValueError, match="hidden_act"):
        BertConfig.from_dict({"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
                              "intermediate_size": 16, "hidden_act": "relu"})  # fmt: skip


def test_quantize_int8_quantizes_every_weight_matmul(tmp_path: Path, tiny: Tiny) -> None:
    TINY, tiny_weights = tiny
    weights = tiny_weights(vocab=128)
    fp32 = tmp_path / "fp32.onnx"
    onnx.save(build_bert_encoder(weights, TINY), str(fp32))
    ops = quantize_int8(fp32, tmp_path / "int8.onnx")
    assert ops["QAttention"] == TINY.num_hidden_layers
    assert ops["MatMulInteger"] == 3 * TINY.num_hidden_layers
    assert ops["MatMul"] == 0
    ids, mask = padded_batch([[1, 5, 9, 2], [1, 17, 99, 42, 8, 2]])
    assert cosines(run(tmp_path / "int8.onnx", ids, mask), run(fp32, ids, mask)).min() > 0.95


def test_real_minilm_graph_matches_numpy_reference(
    l6_wheel: Path, l6_fp32: onnx.ModelProto, tokenizer_file: Path
) -> None:
    """The fp32 graph built from the packaged all-MiniLM-L6-v2 weights equals a float64 NumPy forward pass."""
    model = l6_fp32
    weights = load_safetensors(read_member(l6_wheel, MINILM_L6_DIR + "model.safetensors"))
    config = BertConfig.from_dict(json.loads(read_member(l6_wheel, MINILM_L6_DIR + "config.json")))
    tok = BudgetTokenizer(tokenizer_file, 32)
    ids, mask = padded_batch(tok.encode(["What is the capital of France?", "Solve 2x + 3 = 7 for x.", ""]))
    got = run(model, ids, mask)
    want = reference_forward(weights, config, ids, mask)
    assert np.abs(got - want).max() < 1e-4
    assert cosines(got, want).min() > 0.999999


def test_installed_int8_model_is_close_to_fp32(
    l6_fp32: onnx.ModelProto, embedder: Embedder, tokenizer_file: Path, mmlu_prompts: list[str]
) -> None:
    tok = BudgetTokenizer(tokenizer_file, 128)
    fp32 = run(l6_fp32, *padded_batch(tok.encode(mmlu_prompts[:12])))  # float32: padding changes nothing
    int8 = embedder.embed(mmlu_prompts[:12])
    cos = cosines(fp32, int8)
    assert cos.mean() > 0.99
    assert cos.min() > 0.97
