"""Labelled logged traffic as a :class:`~wayfare.data.ResultsTable`, and the held-out split shared by
``wayfare train-from-log`` and ``wayfare compare``.

A row is one labelled shadow pair: the prompt (last user message) and the strong and weak models' scores from the
label. Feedback that gives a score (``score``, or a thumbs-down ``rating: -1`` = 0) replaces the score of the
answer the user saw (the routed model's): the user's word beats the judge's. Feedback on requests without a shadow
pair has one model's score only and is not used (counted in ``unused_feedback``).

The held-out split is a fixed function of the prompt text (blake2b), so repeated prompts never straddle it and the
two commands agree on it without sharing state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray

from wayfare.data.table import ResultsTable
from wayfare.routers.messages import prompt_text
from wayfare.store.tables import feedback, shadow_pairs


class LogTableError(ValueError):
    """The log holds no usable labelled traffic (or mixes routes without ``--route``)."""


@dataclass(frozen=True)
class LogTableInfo:
    pairs: int
    feedback_applied: int
    unused_feedback: int
    route: str | None


def _feedback_score(score: float | None, rating: int | None) -> float | None:
    if score is not None:
        return float(score)
    if rating == -1:
        return 0.0
    return None


def log_table(engine: sa.Engine, route: str | None = None) -> tuple[ResultsTable, LogTableInfo]:
    """The labelled shadow pairs (of one route) as a pair ResultsTable, with feedback applied."""
    t = shadow_pairs.c
    q = sa.select(shadow_pairs).where(t.label_method.is_not(None)).order_by(t.time, t.request_id)
    if route is not None:
        q = q.where(t.route == route)
    f = feedback.c
    with engine.connect() as conn:
        pairs = list(conn.execute(q))
        fb_rows = list(conn.execute(sa.select(f.request_id, f.score, f.rating).order_by(f.id)))
    if not pairs:
        where = f" of route {route!r}" if route else ""
        raise LogTableError(f"no labelled shadow pairs{where} in the log: enable shadow traffic, then `wayfare label`")
    combos = {(p.strong_model, p.weak_model) for p in pairs}
    if len(combos) > 1:
        names = ", ".join(sorted({str(p.route) for p in pairs}))
        raise LogTableError(f"the log holds pairs of several model pairs (routes {names}): choose one with --route")
    strong, weak = combos.pop()
    latest: dict[str, float] = {}
    for r in fb_rows:  # the latest feedback with a score wins
        value = _feedback_score(r.score, r.rating)
        if value is not None:
            latest[r.request_id] = value
    scores = np.empty((len(pairs), 2), dtype=np.float64)
    applied = 0
    for i, p in enumerate(pairs):
        scores[i] = (p.strong_score, p.weak_score)
        if p.request_id in latest:
            scores[i, 0 if p.routed_model == strong else 1] = latest[p.request_id]
            applied += 1
    ids = [p.request_id for p in pairs]
    table = ResultsTable(
        name=f"traffic log{f' (route {route})' if route else ''}",
        prompt_ids=ids,
        prompts=[prompt_text(list(p.messages), "last_user") for p in pairs],
        models=[strong, weak],
        scores=scores,
        strong=strong,
        weak=weak,
        meta={"source": "shadow_pairs + feedback", "label_methods": sorted({str(p.label_method) for p in pairs})},
    )
    unused = len(set(latest) - set(ids))
    return table, LogTableInfo(len(pairs), applied, unused, route)


def heldout_mask(prompts: list[str], fraction: float) -> NDArray[np.bool_]:
    """True for the prompts in the held-out split: those whose text hashes below ``fraction``."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"--holdout must be in [0, 1), got {fraction}")
    u = [int.from_bytes(hashlib.blake2b(p.encode(), digest_size=8).digest(), "big") / 2**64 for p in prompts]
    return np.asarray(u) < fraction
