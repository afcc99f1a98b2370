"""`CachedEmbedder`: memoise vectors by text, in memory and optionally on disk (.npy + JSON index)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wayfare.embed.base import Embedder, Vectors


def text_key(embedder_name: str, text: str) -> str:
    """sha256 of the embedder name and the text: the cache key."""
    return hashlib.sha256(f"{embedder_name}\x00{text}".encode()).hexdigest()


class CachedEmbedder:
    """Same protocol as `inner`; each distinct text is embedded once.

    With `path` (a directory) the vectors persist as `<embedder>.npy` plus `<embedder>.index.json` (the keys, in
    row order); they are written after every `embed` call that computed new vectors. A cache written by another
    embedder name is never used: the file names and the keys both include the name.
    """

    def __init__(self, inner: Embedder, path: str | Path | None = None) -> None:
        self.inner = inner
        self.path = Path(path) if path is not None else None
        self._rows: dict[str, int] = {}
        self._vectors = np.zeros((0, inner.dim), dtype=np.float32)
        if self.path is not None:
            self._load()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def __len__(self) -> int:
        return len(self._rows)

    def _files(self) -> tuple[Path, Path]:
        assert self.path is not None
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", self.inner.name)
        return self.path / f"{stem}.npy", self.path / f"{stem}.index.json"

    def _load(self) -> None:
        vec_file, index_file = self._files()
        if not (vec_file.exists() and index_file.exists()):
            return
        index = json.loads(index_file.read_text())
        vectors = np.load(vec_file)
        keys = index.get("keys", [])
        if index.get("embedder") != self.inner.name or vectors.shape != (len(keys), self.inner.dim):
            return  # written by another model or interrupted mid-write: start afresh, it is only a cache
        self._vectors = vectors.astype(np.float32, copy=False)
        self._rows = {k: i for i, k in enumerate(keys)}

    def _save(self) -> None:
        assert self.path is not None
        self.path.mkdir(parents=True, exist_ok=True)
        vec_file, index_file = self._files()
        for target, write in (
            (vec_file, lambda f: np.save(f, self._vectors)),
            (
                index_file,
                lambda f: f.write(
                    json.dumps({"embedder": self.inner.name, "dim": self.inner.dim, "keys": list(self._rows)}).encode()
                ),
            ),
        ):
            tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
            with tmp.open("wb") as fh:
                write(fh)
            os.replace(tmp, target)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        keys = [text_key(self.inner.name, t) for t in texts]
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._rows and key not in missing:
                missing[key] = text
        if missing:
            fresh = self.inner.embed(list(missing.values()))
            base = len(self._rows)
            self._vectors = np.concatenate([self._vectors, fresh.astype(np.float32, copy=False)])
            for offset, key in enumerate(missing):
                self._rows[key] = base + offset
            if self.path is not None:
                self._save()
        if not keys:
            return np.zeros((0, self.inner.dim), dtype=np.float32)
        out: Vectors = self._vectors[[self._rows[k] for k in keys]]
        return out
