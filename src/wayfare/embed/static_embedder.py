"""The static tier: token lookup + mean + normalise. Microseconds per prompt."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wayfare.embed.base import Vectors
from wayfare.embed.onnx_embedder import normalize
from wayfare.embed.tokenize import BudgetTokenizer


class StaticEmbedder:
    """An `Embedder` over a (vocab + 1, dim) table; the last row embeds a text with no tokens."""

    def __init__(self, vectors_file: Path, tokenizer_file: Path, *, name: str, max_tokens: int = 128) -> None:
        self._name = name
        self.table = np.load(vectors_file).astype(np.float32)
        if self.table.ndim != 2:
            raise ValueError(f"{vectors_file} must hold a 2-D table")
        self.tokenizer = BudgetTokenizer(tokenizer_file, max_tokens, special_tokens=False)
        self.empty_row = self.table.shape[0] - 1
        self.max_tokens = max_tokens

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = [row or [self.empty_row] for row in self.tokenizer.encode(texts)]
        lengths = np.fromiter((len(r) for r in ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter((t for r in ids for t in r), dtype=np.int64, count=int(lengths.sum()))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        sums = np.add.reduceat(self.table[flat], starts, axis=0)
        return normalize(sums / lengths[:, None])
