"""Transformer embeddings with onnxruntime: batched by length, L2-normalised float32."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort

from wayfare.embed.base import Vectors
from wayfare.embed.tokenize import BudgetTokenizer

# ONNX Runtime's fused SkipLayerNormalization CPU kernel measured ~50x slower than plain LayerNormalization.
DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]


def session_options(threads: int | None, *, spinning: bool = False) -> ort.SessionOptions:
    """Options for low single-prompt latency: sequential execution, all graph optimisations, fixed threads.

    `spinning=False` (the default) makes idle intra-op threads sleep instead of busy-waiting (only matters with more
    than one thread). On this project's shared 2-core machine, busy-waiting doubled the CPU time of a call and made
    it slower, not faster (docs/EMBEDDINGS.md).
    """
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.inter_op_num_threads = 1
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        opts.intra_op_num_threads = threads
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    if not spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


def normalize(x: np.ndarray) -> Vectors:
    """Rows scaled to unit L2 norm (a zero row stays zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: Vectors = (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return out


class OnnxEmbedder:
    """An `Embedder` over an ONNX sentence encoder taking `input_ids` and `attention_mask`."""

    def __init__(
        self,
        model_file: Path,
        tokenizer_file: Path,
        *,
        name: str,
        dim: int,
        output: str,
        max_tokens: int = 128,
        threads: int | None = None,
        batch_size: int = 32,
        workers: int = 1,
        spinning: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self._name = name
        self._dim = dim
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.tokenizer = BudgetTokenizer(tokenizer_file, max_tokens)
        self.session = ort.InferenceSession(
            str(model_file),
            sess_options=session_options(threads, spinning=spinning),
            providers=["CPUExecutionProvider"],
            disabled_optimizers=DISABLED_OPTIMIZERS,
        )
        self.output = output
        self._outputs = [output]
        self._feeds_mask = "attention_mask" in {i.name for i in self.session.get_inputs()}
        # One mask row of ones, sliced per single-prompt call (no per-call allocation).
        self._ones = np.ones((1, max_tokens), dtype=np.int64)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _run_one(self, ids: list[int]) -> np.ndarray:
        """One row, no padding: the single-prompt (routing) path, with no per-call Python-side bookkeeping."""
        input_ids = np.array([ids], dtype=np.int64)
        if not self._feeds_mask:
            out: np.ndarray = self.session.run(self._outputs, {"input_ids": input_ids})[0]
            return out
        out = self.session.run(self._outputs, {"input_ids": input_ids, "attention_mask": self._ones[:, : len(ids)]})[0]
        return out

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        if len(batch) == 1:
            return self._run_one(batch[0])
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask} if self._feeds_mask else {"input_ids": input_ids}
        out: np.ndarray = self.session.run([self.output], feeds)[0]
        return out

    def embed(self, texts: Sequence[str]) -> Vectors:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        ids = self.tokenizer.encode(texts)
        if len(ids) == 1:
            return normalize(self._run_one(ids[0]))
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths share a batch: little padding
        out = np.empty((len(ids), self._dim), dtype=np.float32)
        chunks = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]

        def fill(idx: list[int]) -> None:
            out[idx] = self._run([ids[i] for i in idx])

        if self.workers > 1 and len(chunks) > 1:
            # onnxruntime releases the GIL in run(): one session, several concurrent calls, one core each.
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                list(pool.map(fill, chunks))
        else:
            for idx in chunks:
                fill(idx)
        return normalize(out)
