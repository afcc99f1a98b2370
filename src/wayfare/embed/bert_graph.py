"""Build a BERT sentence encoder as an ONNX graph from safetensors weights, with `onnx.helper` (no torch).

The graph takes `input_ids` and `attention_mask` (int64, shape (batch, seq)) and returns `sentence_embedding`
(float32, (batch, hidden)): the masked mean of the last hidden state, as sentence-transformers' mean pooling does.
Token type ids are always 0 (single sentences), so the type-0 embedding is folded into the position table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

Weights = Mapping[str, NDArray[np.float32]]

OPSET = 17
OUTPUT_NAME = "sentence_embedding"
MS_DOMAIN = "com.microsoft"


def _t(weights: Mapping[str, NDArray[np.float32]], prefix: str) -> NDArray[np.float32]:
    """torch Linear stores (out, in); MatMul wants (in, out)."""
    return np.ascontiguousarray(weights[f"{prefix}.weight"].T)


@dataclass(frozen=True)
class BertConfig:
    """The few BERT hyper-parameters the encoder needs (read from a Hugging Face `config.json`)."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    layer_norm_eps: float = 1e-12
    max_position_embeddings: int = 512

    @classmethod
    def from_dict(cls, cfg: Mapping[str, object]) -> BertConfig:
        if cfg.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported hidden_act {cfg.get('hidden_act')!r}: only exact GELU is implemented")
        if cfg.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")

        def num(key: str) -> float:
            value = cfg[key]
            if not isinstance(value, int | float):
                raise ValueError(f"config field {key!r} must be a number, got {value!r}")
            return float(value)

        return cls(
            hidden_size=int(num("hidden_size")),
            num_hidden_layers=int(num("num_hidden_layers")),
            num_attention_heads=int(num("num_attention_heads")),
            intermediate_size=int(num("intermediate_size")),
            layer_norm_eps=num("layer_norm_eps") if "layer_norm_eps" in cfg else 1e-12,
            max_position_embeddings=int(num("max_position_embeddings")) if "max_position_embeddings" in cfg else 512,
        )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


def strip_prefix(weights: Weights) -> dict[str, NDArray[np.float32]]:
    """Accept both `bert.embeddings...` and `embeddings...` key styles."""
    return {k.removeprefix("bert."): np.asarray(v, dtype=np.float32) for k, v in weights.items()}


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, value: NDArray[np.generic]) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str, domain: str | None = None, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [name], name=name, domain=domain, **attrs))
        return name

    def add_layer_norm(self, x: str, skip: str, weights: Weights, prefix: str, eps: float) -> str:
        """LayerNorm(x + dense_bias + skip); `prefix` names the dense layer whose bias is added.

        Plain ops on purpose: ONNX Runtime's fused SkipLayerNormalization CPU kernel measured ~50x slower than
        LayerNormalization here, so sessions also disable the SkipLayerNormFusion optimiser.
        """
        bias = self.const(f"{prefix}.dense.bias", weights[f"{prefix}.dense.bias"])
        summed = self.op("Add", [self.op("Add", [x, bias], f"{prefix}/bias"), skip], f"{prefix}/residual")
        return self.layer_norm(summed, weights, f"{prefix}.LayerNorm", eps)

    def layer_norm(self, x: str, weights: Weights, prefix: str, eps: float) -> str:
        g = self.const(f"{prefix}.weight", weights[f"{prefix}.weight"])
        b = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, g, b], f"{prefix}/LN", axis=-1, epsilon=eps)


def build_bert_encoder(weights: Weights, config: BertConfig) -> onnx.ModelProto:
    """Return the ONNX model of a mean-pooled BERT encoder with these weights."""
    w = strip_prefix(weights)
    g = _GraphBuilder()
    h, heads = config.hidden_size, config.num_attention_heads

    # Embeddings: word + position (+ token type 0, folded in) -> LayerNorm.
    word = g.const("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"])
    pos_table = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    pos = g.const("embeddings.position_plus_type0", pos_table.astype(np.float32))
    tok = g.op("Gather", [word, "input_ids"], "emb/word", axis=0)
    seq_len = g.op("Shape", ["input_ids"], "emb/T", start=1, end=2)  # 1-D [T]
    zero = g.const("c.zero", np.array([0], dtype=np.int64))
    axis0 = g.const("c.axis0", np.array([0], dtype=np.int64))
    positions = g.op("Slice", [pos, zero, seq_len, axis0], "emb/pos")  # (T, H)
    x = g.op("Add", [tok, positions], "emb/sum")
    x = g.layer_norm(x, w, "embeddings.LayerNorm", config.layer_norm_eps)

    # ONNX Runtime's fused CPU kernels (domain com.microsoft): Attention takes the raw 0/1 mask (B, T) as int32.
    mask_f = g.op("Cast", ["attention_mask"], "mask/float", to=TensorProto.FLOAT)
    mask_i = g.op("Cast", ["attention_mask"], "mask/int32", to=TensorProto.INT32)

    for i in range(config.num_hidden_layers):
        p = f"encoder.layer.{i}"
        qkv_w = np.concatenate([w[f"{p}.attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1)
        qkv_b = np.concatenate([w[f"{p}.attention.self.{n}.bias"] for n in ("query", "key", "value")])
        attn = g.op(
            "Attention",
            [x, g.const(f"{p}.attention.qkv.weight", qkv_w), g.const(f"{p}.attention.qkv.bias", qkv_b), mask_i],
            f"{p}/Attention",
            num_heads=heads,
            domain=MS_DOMAIN,
        )
        proj = g.op(
            "MatMul",
            [attn, g.const(f"{p}.attention.output.dense.weight_t", _t(w, f"{p}.attention.output.dense"))],
            f"{p}.attention.output.dense/MatMul",
        )
        x = g.add_layer_norm(proj, x, w, f"{p}.attention.output", config.layer_norm_eps)
        inter = g.op(
            "MatMul",
            [x, g.const(f"{p}.intermediate.dense.weight_t", _t(w, f"{p}.intermediate.dense"))],
            f"{p}.intermediate.dense/MatMul",
        )
        gelu = g.op(
            "BiasGelu",
            [inter, g.const(f"{p}.intermediate.dense.bias", w[f"{p}.intermediate.dense.bias"])],
            f"{p}/BiasGelu",
            domain=MS_DOMAIN,
        )
        out = g.op(
            "MatMul",
            [gelu, g.const(f"{p}.output.dense.weight_t", _t(w, f"{p}.output.dense"))],
            f"{p}.output.dense/MatMul",
        )
        x = g.add_layer_norm(out, x, w, f"{p}.output", config.layer_norm_eps)

    # Mean pooling over the mask.
    m3 = g.op("Unsqueeze", [mask_f, g.const("c.axis2", np.array([2], dtype=np.int64))], "pool/mask3")
    summed = g.op(
        "ReduceSum",
        [g.op("Mul", [x, m3], "pool/masked"), g.const("c.axis1", np.array([1], dtype=np.int64))],
        "pool/sum",
        keepdims=0,
    )
    count = g.op("ReduceSum", [mask_f, g.const("c.axis1b", np.array([1], dtype=np.int64))], "pool/count", keepdims=1)
    count = g.op("Max", [count, g.const("c.eps", np.array(1e-9, dtype=np.float32))], "pool/clip")
    g.op("Div", [summed, count], OUTPUT_NAME)

    graph = helper.make_graph(
        g.nodes,
        "bert_mean_pooled",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", h])],
        g.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)],
        producer_name="wayfare",
    )
    model.ir_version = 8
    return model
