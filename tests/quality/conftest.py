"""Helpers of the quality tests: a route's labelled shadow pairs written into a real store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wayfare.quality.testing import seed_labels


@pytest.fixture
def seed() -> Callable[..., None]:
    """``seed(db, n, start=0, seed=0, weak_good=0.97)``: n labelled pairs of route ``auto`` (scores in [0, 1]; the
    strong model right 90% of the time; the weak one matches it with probability weak_good - 0.6 x score)."""
    return seed_labels
