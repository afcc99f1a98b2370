"""The embedder protocol: text in, L2-normalised float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Every embedder (ONNX transformer, static table, cache wrapper) implements this."""

    @property
    def name(self) -> str:
        """Stable identifier of the model and its settings (recorded in router artifacts)."""
        ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed a batch: shape (len(texts), dim), rows L2-normalised. Never fails on long or empty text."""
        ...
