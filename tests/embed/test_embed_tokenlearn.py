"""Tokenlearn-style static tables: the sparse ridge fit towards a teacher's sentence vectors, on a tiny corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import scipy.sparse as sp
from numpy.typing import NDArray

from wayfare.embed.bert_graph import OUTPUT_NAME, BertConfig, build_bert_encoder
from wayfare.embed.catalogue import resolve
from wayfare.embed.distill import fit_pca, token_vectors, weighted_table
from wayfare.embed.onnx_embedder import OnnxEmbedder
from wayfare.embed.static_embedder import StaticEmbedder
from wayfare.embed.tokenize import BudgetTokenizer
from wayfare.embed.tokenlearn import bag_matrix, corpus_prompts, fit_table, learn_table, sample_corpus

Tiny = tuple[BertConfig, Callable[..., dict[str, NDArray[np.float32]]]]


def unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def test_bag_rows_are_token_frequencies(tokenizer_file: Path) -> None:
    tok = BudgetTokenizer(tokenizer_file, 128, special_tokens=False)
    vocab = tok.tokenizer.get_vocab_size()
    bags = bag_matrix(tok, ["the cat the dog", "", "x " * 500], vocab + 1)
    assert bags.shape == (3, vocab + 1)
    np.testing.assert_allclose(np.asarray(bags.sum(axis=1)).ravel(), 1.0)
    the = tok.tokenizer.token_to_id("the")
    assert bags[0, the] == pytest.approx(0.5)  # 2 of 4 tokens
    assert bags[1, vocab] == 1.0  # no tokens: the empty-text row, as the static embedder does
    assert bags[2].nnz == 1  # truncated to 128 tokens, all the same


def test_fit_recovers_a_table_and_leaves_unseen_rows_at_the_scaled_prior() -> None:
    rng = np.random.default_rng(0)
    vocab, dims, n = 40, 6, 400
    truth = rng.standard_normal((vocab + 1, dims))
    prior = 0.5 * (truth + 0.5 * rng.standard_normal(truth.shape))
    counts = rng.poisson(0.3, (n, vocab + 1)).astype(float)
    counts[:, 30:] = 0  # tokens 30.. never appear in the corpus
    counts[counts.sum(1) == 0, 0] = 1
    bags = sp.csr_matrix(counts / counts.sum(1, keepdims=True))
    targets = bags @ truth
    table, info = fit_table(bags, targets, prior, lam=1e-4, max_iter=500, tol=1e-6)
    again, _ = fit_table(bags, targets, prior, lam=1e-4, max_iter=500, tol=1e-6)
    assert table.shape == prior.shape and table.dtype == np.float32
    np.testing.assert_array_equal(table, again)  # deterministic
    assert info.touched_tokens == 30
    np.testing.assert_allclose(table[30:], info.scale * prior[30:], rtol=1e-5)
    before = np.linalg.norm(bags @ (info.scale * prior) - targets)
    after = np.linalg.norm(bags @ table - targets)
    assert after < 0.05 * before
    np.testing.assert_allclose(table[:30], truth[:30], atol=0.05)


def test_fitted_table_is_closer_to_the_teacher_on_held_out_prompts(
    tiny: Tiny, tokenizer_file: Path, tmp_path: Path
) -> None:
    """Teacher: a tiny random BERT's sentence vectors; prior: the same BERT's tokens embedded alone."""
    config, weights = tiny
    vocab = BudgetTokenizer(tokenizer_file, 8).tokenizer.get_vocab_size()
    encoder = build_bert_encoder(weights(vocab=vocab, seed=3), config)
    onnx.save(encoder, str(tmp_path / "teacher.onnx"))
    teacher = OnnxEmbedder(
        tmp_path / "teacher.onnx", tokenizer_file, name="tiny:64", dim=config.hidden_size, output=OUTPUT_NAME,
        max_tokens=64, threads=1,
    )  # fmt: skip
    raw = token_vectors(encoder.SerializeToString(), tokenizer_file, batch_size=4096)
    prompts = sample_corpus(corpus_prompts(exclude=("mmlu", "llmrouter")), 500, seed=1)
    train, held_out = prompts[:400], prompts[400:]
    table, info = learn_table(raw, 16, teacher, tokenizer_file, train, lam=0.01, max_tokens=64)
    again, _ = learn_table(raw, 16, teacher, tokenizer_file, train, lam=0.01, max_tokens=64)
    assert table.shape == (vocab + 1, 16) and info["prompts"] == 400 and info["teacher"] == "tiny:64"
    np.testing.assert_array_equal(table, again)  # deterministic

    pca = fit_pca(raw, 16)
    target = unit(teacher.embed(held_out) @ pca.components_.T)

    def mean_cosine(t: np.ndarray, name: str) -> float:
        np.save(tmp_path / f"{name}.npy", t.astype(np.float16))
        static = StaticEmbedder(tmp_path / f"{name}.npy", tokenizer_file, name=name, max_tokens=64)
        return float(np.mean(np.sum(static.embed(held_out) * target, axis=1)))

    before, after = mean_cosine(weighted_table(raw, pca), "prior"), mean_cosine(table, "fitted")
    assert after > before + 0.05, (before, after)


def test_corpus_never_holds_excluded_benchmarks() -> None:
    from wayfare.data import load_benchmark

    gsm8k = set(load_benchmark("gsm8k").prompts)
    without = corpus_prompts(exclude=("gsm8k",))
    assert len(without) == len(set(without)) and not gsm8k & set(without)  # LLMRouter repeats 50 of them
    assert sample_corpus(without, 100, seed=0) == sample_corpus(without, 100, seed=0)
    with pytest.raises(ValueError, match="gpqa"):
        corpus_prompts(exclude=("gpqa",))


def test_catalogue_has_the_fitted_static_tiers() -> None:
    for dim in (256, 384):
        spec = resolve(f"static-tl-{dim}")
        assert spec.kind == "static" and spec.dim == dim
        assert any("bundled" in src for src in spec.sources)
