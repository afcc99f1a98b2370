"""Prompt vectors shared by a route's router and the semantic cache, so a routed prompt is embedded once.

:func:`shared_embedder` wraps an embedder in a :class:`RecentVectors`: an ``Embedder`` that remembers the vectors of
the last few thousand texts it embedded. The router embeds the prompt (in its scoring thread) while choosing a model;
the cache then asks the same object for the same text and gets the vector back from memory (a dict lookup). One
instance per embedder name per process, so every route using the same embedder shares it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from wayfare.embed.base import Embedder, Vectors

RECENT = 4096
"""Texts remembered per embedder (a 256-dim vector is 1 KiB: 4 MiB at most)."""


class RecentVectors:
    """An :class:`~wayfare.embed.base.Embedder` remembering the vectors of its last ``size`` texts (thread-safe:
    the router embeds in its worker thread, the cache reads on the event loop)."""

    def __init__(self, inner: Embedder, size: int = RECENT) -> None:
        self.inner = inner
        self.size = size
        self._recent: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()
        self.computed = 0
        """Texts the inner embedder embedded (the rest came from memory)."""

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def __getattr__(self, attr: str) -> Any:
        """Everything else is the inner embedder's (its ``session``, ``tokenizer``, ...)."""
        if attr == "inner":  # not set yet (copy, unpickling): no recursion
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def recall(self, text: str) -> Vectors | None:
        """The vector of ``text`` if it was embedded recently, else None (never computes)."""
        with self._lock:
            vec = self._recent.get(text)
            if vec is not None:
                self._recent.move_to_end(text)
            return vec

    def embed(self, texts: Sequence[str]) -> Vectors:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        rows: list[Vectors | None] = [self.recall(t) for t in texts]
        missing = list(dict.fromkeys(t for t, r in zip(texts, rows, strict=True) if r is None))
        if missing:
            fresh = np.asarray(self.inner.embed(missing), dtype=np.float32)
            found = dict(zip(missing, fresh, strict=True))
            with self._lock:
                self.computed += len(missing)
                for text, vec in found.items():
                    self._recent[text] = vec
                    self._recent.move_to_end(text)
                while len(self._recent) > self.size:
                    self._recent.popitem(last=False)
            rows = [r if r is not None else found[t] for t, r in zip(texts, rows, strict=True)]
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([r for r in rows if r is not None])


_SHARED: dict[str, RecentVectors] = {}
_SHARED_LOCK = threading.Lock()


def shared_embedder(label: str, load: Callable[[], Embedder]) -> RecentVectors:
    """The process's one :class:`RecentVectors` for ``label`` (``<model>:<max_tokens>/threads=<n>``), loading it
    with ``load()`` the first time."""
    with _SHARED_LOCK:
        found = _SHARED.get(label)
        if found is None:
            found = _SHARED[label] = RecentVectors(load())
        return found


def serving_threads() -> int:
    """onnxruntime threads of a serving embedder: ``WAYFARE_EMBED_THREADS``, else 1 (2 threads were no faster per
    decision on the 2-core test machine and worse under load)."""
    threads = os.environ.get("WAYFARE_EMBED_THREADS", "1")
    if not threads.isdigit() or int(threads) < 1:
        raise ValueError(f"WAYFARE_EMBED_THREADS must be a positive integer, got {threads!r}")
    return int(threads)


def open_shared(model: str, max_tokens: int, threads: int | None = None) -> RecentVectors:
    """:func:`shared_embedder` for catalogue model ``model`` at ``max_tokens`` (built on first use), with
    ``threads`` onnxruntime threads (default :func:`serving_threads`)."""
    from wayfare.embed import load_embedder
    from wayfare.embed.catalogue import resolve

    try:
        name = resolve(model).name
    except KeyError:
        name = model  # load_embedder says what is wrong
    n = serving_threads() if threads is None else threads
    return shared_embedder(
        f"{name}:{max_tokens}/threads={n}", lambda: load_embedder(name, max_tokens=max_tokens, threads=n)
    )
