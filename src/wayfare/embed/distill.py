"""Distil a static token table from a transformer encoder, the way model2vec does, with onnxruntime (no torch).

1. Embed every vocabulary token alone (`[CLS] token [SEP]`, mean-pooled) with the encoder.
2. PCA to `dims` components (removes the shared direction and shrinks the table).
3. Zipf/SIF weighting: token rank r (vocabulary order as a frequency proxy) gets weight a / (a + p(r)),
   p(r) proportional to 1 / (r + 2), a = 1e-4, so frequent tokens count less in the mean.
One extra row holds the encoder's embedding of the empty text, used when a text has no tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from sklearn.decomposition import PCA
from tokenizers import Tokenizer

from wayfare.embed.bert_graph import OUTPUT_NAME

SIF_COEFFICIENT = 1e-4


def zipf_weights(n: int, sif: float = SIF_COEFFICIENT) -> np.ndarray:
    inv_rank = 1.0 / np.arange(2, n + 2, dtype=np.float64)
    proba = inv_rank / inv_rank.sum()
    weights: np.ndarray = sif / (sif + proba)
    return weights


def token_vectors(encoder: bytes, tokenizer_file: Path, *, batch_size: int = 1024) -> np.ndarray:
    """(vocab + 1, hidden) float32: each token embedded alone, then the empty text (`[CLS] [SEP]`) last."""
    tok = Tokenizer.from_file(str(tokenizer_file))
    vocab = tok.get_vocab_size()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    if cls_id is None or sep_id is None:
        raise ValueError("tokenizer has no [CLS]/[SEP] tokens")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    session = ort.InferenceSession(encoder, sess_options=opts, providers=["CPUExecutionProvider"])
    raw = np.empty((vocab + 1, session.get_outputs()[0].shape[1]), dtype=np.float32)
    for start in range(0, vocab, batch_size):
        ids = np.arange(start, min(start + batch_size, vocab), dtype=np.int64)
        batch = np.stack([np.full_like(ids, cls_id), ids, np.full_like(ids, sep_id)], axis=1)
        raw[start : start + len(ids)] = session.run(
            [OUTPUT_NAME], {"input_ids": batch, "attention_mask": np.ones_like(batch)}
        )[0]
    empty = np.array([[cls_id, sep_id]], dtype=np.int64)
    raw[vocab] = session.run([OUTPUT_NAME], {"input_ids": empty, "attention_mask": np.ones_like(empty)})[0][0]
    return raw


def fit_pca(raw: np.ndarray, dims: int) -> PCA:
    """The PCA of the token vectors (the last row, the empty text, is not part of the fit)."""
    pca = PCA(n_components=dims, svd_solver="full", random_state=0)
    pca.fit(raw[:-1])
    return pca


def weighted_table(raw: np.ndarray, pca: PCA) -> np.ndarray:
    """(vocab + 1, dims) float32: the PCA'd token vectors times their Zipf weights (the empty row unweighted)."""
    vocab = raw.shape[0] - 1
    table: np.ndarray = pca.transform(raw).astype(np.float32)
    table[:vocab] *= zipf_weights(vocab)[:, None].astype(np.float32)
    return table


def distill_static(
    encoder: bytes, tokenizer_file: Path, out_file: Path, *, dims: int = 256, batch_size: int = 1024
) -> dict[str, Any]:
    """Write the (vocab + 1, dims) float16 table to `out_file`; return facts for the manifest."""
    raw = token_vectors(encoder, tokenizer_file, batch_size=batch_size)
    pca = fit_pca(raw, dims)
    table = weighted_table(raw, pca)
    np.save(out_file, table.astype(np.float16))  # half the file; a mean of float16 rows loses nothing measurable
    return {
        "vocab": raw.shape[0] - 1,
        "dims": dims,
        "explained_variance": round(float(pca.explained_variance_ratio_.sum()), 4),
        "sif_coefficient": SIF_COEFFICIENT,
    }
