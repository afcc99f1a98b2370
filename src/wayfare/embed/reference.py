"""A plain NumPy forward pass of a mean-pooled BERT encoder: the yardstick the ONNX graph is checked against."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.bert_graph import BertConfig, Weights, strip_prefix

_ERF = np.vectorize(math.erf, otypes=[np.float64])


def _layer_norm(
    x: NDArray[np.float64], g: NDArray[np.float64], b: NDArray[np.float64], eps: float
) -> NDArray[np.float64]:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    out: NDArray[np.float64] = (x - mu) / np.sqrt(var + eps) * g + b
    return out


def reference_forward(
    weights: Weights, config: BertConfig, input_ids: NDArray[np.int64], attention_mask: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Mean-pooled last hidden state, computed in float64 with textbook formulas (slow; for tests only)."""
    w = {k: v.astype(np.float64) for k, v in strip_prefix(weights).items()}
    batch, seq = input_ids.shape
    heads, hd = config.num_attention_heads, config.head_dim
    x = w["embeddings.word_embeddings.weight"][input_ids]
    x = x + w["embeddings.position_embeddings.weight"][:seq][None] + w["embeddings.token_type_embeddings.weight"][0]
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], config.layer_norm_eps)
    mask = attention_mask.astype(np.float64)
    bias = (1.0 - mask)[:, None, None, :] * -10000.0

    def lin(t: NDArray[np.float64], name: str) -> NDArray[np.float64]:
        out: NDArray[np.float64] = t @ w[f"{name}.weight"].T + w[f"{name}.bias"]
        return out

    for i in range(config.num_hidden_layers):
        p = f"encoder.layer.{i}"

        def split(t: NDArray[np.float64]) -> NDArray[np.float64]:
            return t.reshape(batch, seq, heads, hd).transpose(0, 2, 1, 3)

        q = split(lin(x, f"{p}.attention.self.query"))
        k = split(lin(x, f"{p}.attention.self.key"))
        v = split(lin(x, f"{p}.attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
        scores = scores - scores.max(-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, heads * hd)
        x = _layer_norm(
            lin(ctx, f"{p}.attention.output.dense") + x,
            w[f"{p}.attention.output.LayerNorm.weight"],
            w[f"{p}.attention.output.LayerNorm.bias"],
            config.layer_norm_eps,
        )
        inter = lin(x, f"{p}.intermediate.dense")
        gelu = 0.5 * inter * (1.0 + _ERF(inter / math.sqrt(2.0)))
        x = _layer_norm(
            lin(gelu, f"{p}.output.dense") + x,
            w[f"{p}.output.LayerNorm.weight"],
            w[f"{p}.output.LayerNorm.bias"],
            config.layer_norm_eps,
        )
    pooled: NDArray[np.float64] = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
    return pooled
