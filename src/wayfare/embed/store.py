"""The model cache: one directory per model with a manifest of sha256 hashes, built atomically, verified on load."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs

from wayfare.embed.sources import sha256_file

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


class ModelError(RuntimeError):
    """A model is missing, corrupted, or cannot be built. The message says what to run."""


def cache_root() -> Path:
    """WAYFARE_CACHE_DIR if set, else the platform's user cache dir for wayfare."""
    env = os.environ.get("WAYFARE_CACHE_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("wayfare"))


def models_dir() -> Path:
    return cache_root() / "models"


def wheels_dir() -> Path:
    return cache_root() / "wheels"


def model_path(name: str) -> Path:
    return models_dir() / name


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ModelError(
            f"{path} is missing or unreadable; rebuild with `wayfare models install --force {directory.name}`"
        ) from err
    return data


def verify(directory: Path) -> dict[str, Any]:
    """Check every file listed in the manifest against its sha256; return the manifest."""
    manifest = read_manifest(directory)
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise ModelError(
            f"{directory / MANIFEST} lists no files; rebuild with `wayfare models install --force {directory.name}`"
        )
    for rel, expected in files.items():
        path = directory / rel
        if not path.is_file():
            raise ModelError(
                f"model file {path} is missing; rebuild with `wayfare models install --force {directory.name}`"
            )
        if sha256_file(path) != expected:
            raise ModelError(
                f"model file {path} is corrupted (sha256 mismatch); rebuild with "
                f"`wayfare models install --force {directory.name}`"
            )
    return manifest


def write_manifest(directory: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Hash every file in `directory` (except the manifest) and write manifest.json with `meta`."""
    files = {p.name: sha256_file(p) for p in sorted(directory.iterdir()) if p.is_file() and p.name != MANIFEST}
    manifest = {"format": FORMAT_VERSION, **meta, "files": files}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temp dir next to `target`; on success it replaces `target` by rename, on failure it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.building-"))
    try:
        yield tmp
        tmp.chmod(0o755)  # mkdtemp makes it private; a model dir is ordinary readable files
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def dir_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
