"""CachedEmbedder: same vectors as the inner embedder, each text embedded once, persisted on disk."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from wayfare.embed import CachedEmbedder, Embedder, Vectors


class Counting:
    """A real embedder wrapped to count how many texts reach it."""

    def __init__(self, inner: Embedder, name: str | None = None) -> None:
        self.inner = inner
        self._name = name or inner.name
        self.seen = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.seen += len(texts)
        return self.inner.embed(texts)


def test_identical_vectors_and_each_text_once(embedder: Embedder, mmlu_prompts: list[str]) -> None:
    inner = Counting(embedder)
    cached = CachedEmbedder(inner)
    texts = [*mmlu_prompts[:5], mmlu_prompts[0], ""]
    first = cached.embed(texts)
    np.testing.assert_array_equal(first, embedder.embed(texts))
    assert inner.seen == 6  # the duplicate is embedded once
    np.testing.assert_array_equal(cached.embed(texts[::-1]), first[::-1])
    assert inner.seen == 6 and len(cached) == 6
    assert cached.name == embedder.name and cached.dim == 384
    assert isinstance(cached, Embedder)
    assert cached.embed([]).shape == (0, 384)


def test_persists_and_reloads(embedder: Embedder, mmlu_prompts: list[str], tmp_path: Path) -> None:
    first = CachedEmbedder(Counting(embedder), path=tmp_path)
    vecs = first.embed(mmlu_prompts[:4])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["minilm-l6-int8_128.index.json", "minilm-l6-int8_128.npy"]
    inner = Counting(embedder)
    again = CachedEmbedder(inner, path=tmp_path)
    np.testing.assert_array_equal(again.embed(mmlu_prompts[:4]), vecs)
    assert inner.seen == 0
    again.embed(mmlu_prompts[:6])
    assert inner.seen == 2 and len(CachedEmbedder(Counting(embedder), path=tmp_path)) == 6


def test_other_embedder_name_does_not_reuse(embedder: Embedder, tmp_path: Path) -> None:
    CachedEmbedder(Counting(embedder), path=tmp_path).embed(["hello"])
    inner = Counting(embedder, name="other-model:64")
    CachedEmbedder(inner, path=tmp_path).embed(["hello"])
    assert inner.seen == 1


def test_inconsistent_files_are_ignored(embedder: Embedder, tmp_path: Path) -> None:
    CachedEmbedder(Counting(embedder), path=tmp_path).embed(["a", "b"])
    index = tmp_path / "minilm-l6-int8_128.index.json"
    data = json.loads(index.read_text())
    data["keys"] = data["keys"][:1]  # as if killed between writing the vectors and the index
    index.write_text(json.dumps(data))
    inner = Counting(embedder)
    cached = CachedEmbedder(inner, path=tmp_path)
    assert len(cached) == 0
    cached.embed(["a"])
    assert inner.seen == 1


def test_rejects_a_bare_string(embedder: Embedder) -> None:
    with pytest.raises(TypeError):
        CachedEmbedder(embedder).embed("abc")
