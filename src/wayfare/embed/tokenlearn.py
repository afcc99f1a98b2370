"""Fit a static token table to a transformer's sentence embeddings, the way model2vec's "tokenlearn" does (no torch).

The static embedder's vector of a prompt is the mean of its tokens' table rows, so over a corpus of prompts the
student's vectors are `B @ E`: B is (prompts x vocabulary) holding each prompt's token counts divided by its length,
E the table. Given the teacher's sentence vectors Y (projected to the table's dims), the table solves the ridge
problem

    min_E ||B E - Y||^2 + lam ||E - s E0||^2

that pulls E towards the distilled table E0 (`wayfare.embed.distill`), scaled by the one number s that best maps
B E0 onto Y. It is solved column-block-wise by conjugate gradients with a Jacobi preconditioner on the normal
equations (B'B + lam I) E = B'Y + lam s E0, restricted to the tokens the corpus contains; every other token keeps
s E0. Deterministic: no random numbers, fixed iteration count and tolerance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from wayfare.embed.base import Embedder
from wayfare.embed.distill import fit_pca, weighted_table
from wayfare.embed.tokenize import BudgetTokenizer

CORPUS_BENCHMARKS = ("mmlu", "gsm8k", "llmrouter")
CORPUS_SIZE = 6000  # of the 20,730 distinct bundled prompts: same APGR as all of them, ~1/3 of the teacher time
CORPUS_SEED = 0
LAMBDA = 1.0  # best APGR of 0.01 ... 3, in and out of the corpus's domain; 0.01 fits the teacher best (EMBEDDINGS.md)
TEACHER = "minilm-l6-int8"


def corpus_prompts(exclude: Iterable[str] = (), benchmarks: Sequence[str] = CORPUS_BENCHMARKS) -> list[str]:
    """The distinct prompts of the bundled benchmarks (file order), without any prompt of the benchmarks in `exclude`.

    The bundled files never hold GPQA rows (wayfare/data/bundled/README.md). Only prompt text is read, no scores.
    """
    from wayfare.data import load_benchmark

    skip = set(exclude)
    unknown = skip - set(benchmarks)
    if unknown:
        raise ValueError(f"cannot exclude {sorted(unknown)}: the corpus holds {', '.join(benchmarks)}")
    prompts: dict[str, None] = {}
    for name in benchmarks:
        if name not in skip:
            prompts.update((p, None) for p in load_benchmark(name).prompts)
    # LLMRouter repeats some MMLU and GSM8K questions verbatim: an excluded benchmark's text is dropped everywhere.
    excluded = {p for name in skip for p in load_benchmark(name).prompts}
    return [p for p in prompts if p not in excluded]


def bag_matrix(tokenizer: BudgetTokenizer, prompts: Sequence[str], rows: int) -> sp.csr_matrix:
    """(len(prompts), rows) CSR: each prompt's token counts divided by its token count (what the mean applies).

    A prompt without tokens maps to the last row (the static embedder's empty-text row), like at inference.
    """
    ids = [row or [rows - 1] for row in tokenizer.encode(prompts)]
    lengths = np.fromiter((len(r) for r in ids), dtype=np.int64, count=len(ids))
    cols = np.fromiter((t for r in ids for t in r), dtype=np.int64, count=int(lengths.sum()))
    rows_idx = np.repeat(np.arange(len(ids)), lengths)
    vals = np.repeat(1.0 / lengths, lengths)
    bags = sp.csr_matrix((vals, (rows_idx, cols)), shape=(len(ids), rows), dtype=np.float64)
    bags.sum_duplicates()
    return bags


@dataclass(frozen=True)
class FitInfo:
    prompts: int
    touched_tokens: int
    scale: float
    iterations: int
    residual: float


def fit_table(
    bags: sp.csr_matrix,
    targets: np.ndarray,
    prior: np.ndarray,
    *,
    lam: float,
    max_iter: int = 200,
    tol: float = 1e-3,
) -> tuple[np.ndarray, FitInfo]:
    """Solve min ||bags E - targets||^2 + lam ||E - s prior||^2 (see the module doc); return E (float32) and facts."""
    if bags.shape[0] != targets.shape[0] or bags.shape[1] != prior.shape[0] or targets.shape[1] != prior.shape[1]:
        raise ValueError(f"shapes do not fit: bags {bags.shape}, targets {targets.shape}, prior {prior.shape}")
    prior64 = prior.astype(np.float64)
    y = targets.astype(np.float64)
    start = bags @ prior64
    scale = float(np.sum(start * y) / max(np.sum(start * start), 1e-30))
    prior64 *= scale
    touched = np.flatnonzero(np.asarray(bags.getnnz(axis=0)) > 0)
    # float32 CSR and its transpose view: the two sparse products per iteration are the whole cost.
    b = bags[:, touched].tocsr().astype(np.float32)
    bt = b.T
    diag = (np.asarray(b.multiply(b).sum(axis=0)).ravel() + lam).astype(np.float32)
    # Solve for the change D = E - s E0 on the touched rows: (B'B + lam I) D = B'(Y - B s E0).
    rhs = np.asarray(bt @ (y - bags @ prior64).astype(np.float32))
    x = np.zeros_like(rhs)
    r = rhs.copy()
    z = r / diag[:, None]
    p = z.copy()
    rz = np.sum(r * z, axis=0)
    norm_rhs = np.maximum(np.linalg.norm(rhs, axis=0), 1e-30)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is reported)
        q = bt @ (b @ p) + lam * p
        alpha = rz / np.maximum(np.sum(p * q, axis=0), 1e-30)
        x += p * alpha
        r -= q * alpha
        if float(np.max(np.linalg.norm(r, axis=0) / norm_rhs)) < tol:
            break
        z = r / diag[:, None]
        rz_new = np.sum(r * z, axis=0)
        p = z + p * (rz_new / np.maximum(rz, 1e-30))
        rz = rz_new
    table = prior64.copy()
    table[touched] += x
    residual = float(np.max(np.linalg.norm(r, axis=0) / norm_rhs))
    return table.astype(np.float32), FitInfo(len(targets), len(touched), scale, it, residual)


def sample_corpus(prompts: Sequence[str], size: int, seed: int = 0) -> list[str]:
    """At most `size` of `prompts`, drawn without replacement with a fixed seed, in their original order."""
    if len(prompts) <= size:
        return list(prompts)
    keep = np.sort(np.random.default_rng(seed).permutation(len(prompts))[:size])
    return [prompts[i] for i in keep]


def learn_table(
    raw: np.ndarray,
    dims: int,
    teacher: Embedder,
    tokenizer_file: Path,
    prompts: Sequence[str],
    *,
    lam: float,
    max_tokens: int = 128,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The (vocab + 1, dims) float32 table fitted to the teacher on `prompts`, and facts for the manifest.

    `raw` holds the encoder's vector of each token alone (`distill.token_vectors`); the prior is the distilled
    table built from it (PCA to `dims`, Zipf weights), and the target of a prompt is the teacher's unit sentence
    vector projected on the same PCA axes. Prompts are tokenised as the static embedder does at `max_tokens`.
    """
    pca = fit_pca(raw, dims)
    prior = weighted_table(raw, pca)
    targets = teacher.embed(prompts) @ pca.components_.T.astype(np.float32)
    bags = bag_matrix(BudgetTokenizer(tokenizer_file, max_tokens, special_tokens=False), prompts, prior.shape[0])
    table, fit = fit_table(bags, targets, prior, lam=lam)
    return table, {
        "vocab": raw.shape[0] - 1,
        "dims": dims,
        "explained_variance": round(float(pca.explained_variance_ratio_.sum()), 4),
        "lambda": lam,
        "teacher": teacher.name,
        "max_tokens": max_tokens,
        "prompts": fit.prompts,
        "tokens_fitted": fit.touched_tokens,
        "prior_scale": round(fit.scale, 6),
        "cg_iterations": fit.iterations,
    }
