"""Local prompt embeddings: ONNX transformer (int8) and a static tier, offline, no torch."""

from wayfare.embed.base import Embedder, Vectors

__all__ = ["Embedder", "Vectors"]
