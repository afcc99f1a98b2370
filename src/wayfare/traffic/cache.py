"""Responses cached on disk, keyed by model + request hash, so an interrupted or repeated run pays nothing twice.

One JSON file per response under ``<dir>/<first two hex>/<sha256>.json``, written atomically (temp file +
rename), so a run killed mid-write leaves no half file and concurrent runs can share a folder.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson


def request_key(model: str, body: dict[str, Any]) -> str:
    """sha256 over the model name and the canonical (sorted-key) JSON of the request body."""
    canon = orjson.dumps({"model": model, "body": body}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canon).hexdigest()


class ResponseCache:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            data = orjson.loads(self._path(key).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps(value))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        return sum(1 for _ in self.directory.glob("*/*.json")) if self.directory.is_dir() else 0
