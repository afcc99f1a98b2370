"""Routers: prompt -> which model. One protocol (see :mod:`wayfare.routers.base`), many implementations.

``make_router(name, embedder=...)`` builds one by name (:func:`available_routers`), ``fit(table)`` trains it,
``save_router`` / ``load_router`` store it as JSON + NumPy arrays, and the policies in
:mod:`wayfare.routers.policies` turn its scores into a model choice.
"""

from wayfare.routers._core import BaseRouter, NotFittedError
from wayfare.routers.artifact import ArtifactError, load_router, read_meta, save_router
from wayfare.routers.base import PairRouter, Router
from wayfare.routers.battles import Battles, battles_from_table, battles_to_table, load_battles
from wayfare.routers.policies import (
    Decision,
    ThresholdPolicy,
    TolerancePolicy,
    TradeoffPolicy,
    decide,
    threshold_for_quality,
    threshold_for_share,
    tradeoff_for_budget,
)
from wayfare.routers.registry import available_routers, make_router, router_class

__all__ = [
    "ArtifactError",
    "BaseRouter",
    "Battles",
    "Decision",
    "NotFittedError",
    "PairRouter",
    "Router",
    "ThresholdPolicy",
    "TolerancePolicy",
    "TradeoffPolicy",
    "available_routers",
    "battles_from_table",
    "battles_to_table",
    "decide",
    "load_battles",
    "load_router",
    "make_router",
    "read_meta",
    "router_class",
    "save_router",
    "threshold_for_quality",
    "threshold_for_share",
    "tradeoff_for_budget",
]
