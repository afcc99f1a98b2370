"""Routers by name: ``make_router("knn", embedder=...)``, ``available_routers()``; the shipped routers' folders are
re-exported from :mod:`wayfare.routers.shipped`. (``load_router`` is in :mod:`wayfare.routers.artifact`, which reads
folders; this module never does.)"""

from __future__ import annotations

from typing import Any

from wayfare.embed.base import Embedder
from wayfare.routers._core import BaseRouter
from wayfare.routers.adapted import AdaptedRouter
from wayfare.routers.baselines import OracleRouter, RandomRouter
from wayfare.routers.blend import BlendRouter
from wayfare.routers.ensemble import EnsembleRouter
from wayfare.routers.forest import ForestRouter
from wayfare.routers.gated import GatedRouter
from wayfare.routers.irt import IRTRouter
from wayfare.routers.knn import KNNRouter
from wayfare.routers.linear import LogRegRouter
from wayfare.routers.mf import MFRouter
from wayfare.routers.shipped import DEFAULTS_DIR, SHIPPED, shipped_router_path
from wayfare.routers.sw_ranking import SWRankingRouter
from wayfare.routers.task import TaskRouter

_ROUTERS: dict[str, type[BaseRouter]] = {
    cls.kind: cls
    for cls in (
        KNNRouter,
        LogRegRouter,
        MFRouter,
        SWRankingRouter,
        ForestRouter,
        IRTRouter,
        EnsembleRouter,
        GatedRouter,
        BlendRouter,
        TaskRouter,
        AdaptedRouter,
        RandomRouter,
        OracleRouter,
    )
}


def available_routers() -> list[str]:
    """Registry names, learned routers first, then the ``random`` and ``oracle`` baselines."""
    return list(_ROUTERS)


def router_class(name: str) -> type[BaseRouter]:
    try:
        return _ROUTERS[name]
    except KeyError:
        raise ValueError(f"unknown router {name!r}; available: {', '.join(_ROUTERS)}") from None


def make_router(name: str, *, embedder: Embedder | None = None, seed: int = 0, **params: Any) -> BaseRouter:
    """A new, unfitted router. ``params`` are the router's constructor parameters (e.g. ``k=20`` for knn)."""
    cls = router_class(name)
    try:
        return cls(embedder=embedder, seed=seed, **params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for router {name!r}: {exc}") from None


__all__ = [
    "DEFAULTS_DIR",
    "SHIPPED",
    "available_routers",
    "make_router",
    "router_class",
    "shipped_router_path",
]
