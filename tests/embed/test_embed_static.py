"""Static tier: distillation (embed each token, PCA, Zipf weights) and lookup + mean + normalise inference."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from wayfare.embed.bert_graph import BertConfig, build_bert_encoder
from wayfare.embed.distill import distill_static, zipf_weights
from wayfare.embed.static_embedder import StaticEmbedder
from wayfare.embed.tokenize import BudgetTokenizer

Tiny = tuple[BertConfig, Callable[..., dict[str, NDArray[np.float32]]]]


def test_zipf_weights_fall_with_frequency() -> None:
    w = zipf_weights(1000)
    assert w.shape == (1000,)
    assert np.all(np.diff(w) > 0)  # rank 0 (most frequent) gets the smallest weight
    assert 0 < w[0] < w[-1] < 1


def test_distil_tiny_encoder_over_the_real_vocabulary(tiny: Tiny, tokenizer_file: Path, tmp_path: Path) -> None:
    config, weights = tiny
    vocab = BudgetTokenizer(tokenizer_file, 8).tokenizer.get_vocab_size()
    encoder = build_bert_encoder(weights(vocab=vocab, seed=1), config).SerializeToString()
    info = distill_static(encoder, tokenizer_file, tmp_path / "vectors.npy", dims=16, batch_size=4096)
    table = np.load(tmp_path / "vectors.npy")
    table32 = table.astype(np.float32)
    assert table.shape == (vocab + 1, 16) and table.dtype == np.float16
    assert info["vocab"] == vocab and 0 < info["explained_variance"] <= 1
    assert np.isfinite(table).all() and np.abs(table[-1]).sum() > 0  # last row: the empty text

    static = StaticEmbedder(tmp_path / "vectors.npy", tokenizer_file, name="tiny-static:128")
    texts = ["hello world", "world hello", "", "a b c " * 1000]
    vecs = static.embed(texts)
    assert vecs.shape == (4, 16)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vecs[0], vecs[1], atol=1e-6)  # a bag of tokens: order does not matter
    ids = static.tokenizer.encode(["hello world"])[0]
    mean = table32[ids].mean(0)
    np.testing.assert_allclose(vecs[0], mean / np.linalg.norm(mean), atol=1e-6)
    np.testing.assert_allclose(vecs[2], table32[-1] / np.linalg.norm(table32[-1]), atol=1e-6)
    np.testing.assert_array_equal(np.concatenate([static.embed([t]) for t in texts]), vecs)
