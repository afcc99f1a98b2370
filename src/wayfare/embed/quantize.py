"""Per-channel dynamic int8 quantisation of an ONNX encoder (onnxruntime.quantization, no torch)."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic

QUANTIZED_OPS = frozenset({"MatMulInteger", "QAttention", "DynamicQuantizeMatMul", "MatMulIntegerToFloat"})
# Gather = the word-embedding table: int8 makes the file 2.5x smaller and loading 4x faster at no measured
# fidelity cost (mean cosine to fp32 0.9947 with and without it on 300 MMLU prompts).
QUANTIZED_TYPES = ["MatMul", "Attention", "Gather"]


def quantize_int8(src: Path, dst: Path) -> Counter[str]:
    """Quantise MatMul/Attention weights per output channel to int8 (activations quantised on the fly).

    Returns the op counts of the result and raises if a MatMul with a constant weight was left in float.
    """
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs a pre-processing advice on the root logger
    try:
        quantize_dynamic(
            src,
            dst,
            per_channel=True,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=QUANTIZED_TYPES,
            # Shape inference cannot see through com.microsoft ops; every tensor here is float32.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)
    model = onnx.load(str(dst), load_external_data=False)
    ops = Counter(node.op_type for node in model.graph.node)
    inits = {init.name for init in model.graph.initializer}
    left = [n.name for n in model.graph.node if n.op_type in ("MatMul", "Attention") and n.input[1] in inits]
    if left or not any(ops[op] for op in QUANTIZED_OPS):
        raise RuntimeError(f"quantisation left float weights in {left or 'every MatMul'} of {src.name}")
    return ops
