"""Routers: prompt -> which model. One protocol (see :mod:`wayfare.routers.base`), many implementations."""

from wayfare.routers.base import PairRouter, Router

__all__ = ["PairRouter", "Router"]
