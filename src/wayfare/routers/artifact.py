"""Saving and loading routers: a folder with ``router.json`` (metadata, parameters, small state) and
``arrays.npz`` (NumPy arrays, loaded with ``allow_pickle=False``). Never pickle.

``router.json`` records the format version, the router kind and parameters, the model list (and strong/weak for a
pair router), the embedder's name and dimension, a training summary, metrics and calibrated thresholds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from wayfare._version import __version__
from wayfare.embed.base import Embedder
from wayfare.routers._core import BaseRouter, JSONDict, router_of_kind
from wayfare.routers.shipped import SHIPPED, shipped_router_path

FORMAT = "wayfare-router"
FORMAT_VERSION = 1
META_FILE = "router.json"
ARRAYS_FILE = "arrays.npz"


class ArtifactError(ValueError):
    """A router artifact is missing, malformed, or of an unsupported version."""


def save_router(
    router: BaseRouter,
    path: str | Path,
    *,
    metrics: JSONDict | None = None,
    calibration: JSONDict | None = None,
    extra: JSONDict | None = None,
) -> Path:
    """Write ``router`` to the folder ``path`` (created if needed) and return the folder."""
    router._check_fitted()
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    state, arrays = router._get_state()
    embedder = router.embedder
    meta: JSONDict = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": router.kind,
        "params": router.get_params(),
        "models": router.models_,
        "strong": getattr(router, "strong_", None),
        "weak": getattr(router, "weak_", None),
        "embedder": None
        if not router.needs_embedder
        else {
            "name": router.embedder_name_ or (embedder.name if embedder else None),
            "dim": router.embedder_dim_ or (embedder.dim if embedder else None),
        },
        "training": router.training_,
        "metrics": metrics if metrics is not None else router.metrics_,
        "calibration": calibration if calibration is not None else router.calibration_,
        "state": state,
        "arrays": sorted(arrays),
        "created_by": f"wayfare {__version__}",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if extra:
        meta["extra"] = extra
    (folder / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=False) + "\n")
    np.savez_compressed(folder / ARRAYS_FILE, **arrays)  # type: ignore[arg-type]
    return folder


def read_meta(path: str | Path) -> JSONDict:
    """The parsed ``router.json`` of an artifact folder (validated for format and version)."""
    folder = Path(path)
    meta_path = folder / META_FILE if folder.is_dir() else folder
    if not meta_path.is_file():
        raise ArtifactError(f"no router artifact at {path} (expected a folder with {META_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{meta_path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ArtifactError(f"{meta_path}: not a wayfare router artifact")
    if meta.get("version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{meta_path}: artifact format version {meta.get('version')} is not supported (this wayfare reads "
            f"version {FORMAT_VERSION})"
        )
    return meta


def write_meta(path: str | Path, meta: JSONDict) -> None:
    """Rewrite ``router.json`` (e.g. after calibration); arrays are left untouched."""
    folder = Path(path)
    read_meta(folder)
    (folder / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")


def load_artifact(path: str | Path, *, embedder: Embedder | None = None, load_embedder: bool = True) -> BaseRouter:
    """Rebuild a fitted router from its folder.

    The embedder is the one passed, or else the one named in the artifact, loaded through
    :func:`wayfare.embed.load_embedder` (skipped when ``load_embedder`` is false: the router can then only be
    used with ``predict_vectors`` / ``score_vectors``).
    """
    folder = Path(path)
    meta = read_meta(folder)
    cls = router_of_kind(str(meta["kind"]))
    params: dict[str, Any] = dict(meta.get("params") or {})
    emb_meta = meta.get("embedder")
    if cls.needs_embedder and embedder is None and load_embedder and emb_meta and emb_meta.get("name"):
        embedder = _load_named_embedder(str(emb_meta["name"]))
    if embedder is not None and emb_meta and emb_meta.get("dim") and embedder.dim != emb_meta["dim"]:
        raise ArtifactError(
            f"{folder}: router was trained on {emb_meta['name']} ({emb_meta['dim']}-d) but the embedder given is "
            f"{embedder.name} ({embedder.dim}-d)"
        )
    try:
        router = cls(embedder=embedder, **params)
    except TypeError as exc:
        raise ArtifactError(f"{folder}: parameters do not fit {cls.__name__}: {exc}") from None
    arrays_path = folder / ARRAYS_FILE
    if not arrays_path.is_file():
        raise ArtifactError(f"{folder}: missing {ARRAYS_FILE}")
    with np.load(arrays_path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    router.models_ = list(meta["models"])
    if meta.get("strong") and meta.get("weak"):
        router.strong_, router.weak_ = str(meta["strong"]), str(meta["weak"])
    router.training_ = dict(meta.get("training") or {})
    router.metrics_ = dict(meta.get("metrics") or {})
    router.calibration_ = dict(meta.get("calibration") or {})
    if emb_meta:
        router.embedder_name_ = emb_meta.get("name")
        router.embedder_dim_ = emb_meta.get("dim")
    router._set_state(meta.get("state") or {}, arrays)
    return router


def _load_named_embedder(label: str) -> Embedder:
    """Open the embedder an artifact names: ``<model>:<max_tokens>`` as written by :mod:`wayfare.embed`."""
    from wayfare.embed import load_embedder

    name, _, tokens = label.rpartition(":")
    if not name or not tokens.isdigit():
        name, tokens = label, "128"
    try:
        return load_embedder(name, max_tokens=int(tokens))
    except Exception as exc:  # the embed package reports why (unknown model, not installed offline)
        raise ArtifactError(f"cannot open the embedder {label!r} this router was trained with: {exc}") from exc


def load_router(path_or_name: str | Path, *, embedder: Embedder | None = None) -> BaseRouter:
    """Load a saved router folder, or a shipped one by name (``default``, ``default-n``)."""
    key = str(path_or_name)
    if key in SHIPPED:
        path = shipped_router_path(key)
        if not path.is_dir():
            raise ArtifactError(f"the shipped router {key!r} is missing from this install (run `make train-default`)")
        return load_artifact(path, embedder=embedder)
    return load_artifact(Path(key), embedder=embedder)
