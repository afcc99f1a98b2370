"""Reading a route's evidence and writing its controller's decisions (SQLite or PostgreSQL, SQLAlchemy Core).

Evidence: the route's labelled shadow pairs (``shadow_pairs`` rows with both scores) joined with the router's score
of the same request in ``request_log``, oldest first, so every replica replays the same labels in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray

from wayfare.quality.controller import Decision
from wayfare.store.record import utcnow
from wayfare.store.schema import request_log
from wayfare.store.tables import quality_decisions, shadow_pairs


@dataclass(frozen=True)
class Evidence:
    """Labelled pairs of one route, oldest first: the router's score and each model's quality in [0, 1]."""

    request_ids: list[str]
    scores: NDArray[np.float64]
    strong: NDArray[np.float64]
    weak: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.request_ids)


def labelled_pairs(engine: sa.Engine, route: str) -> Evidence:
    sp, rl = shadow_pairs.c, request_log.c
    q = (
        sa.select(sp.request_id, rl.score, sp.strong_score, sp.weak_score)
        .join(request_log, rl.request_id == sp.request_id)
        .where(
            sp.route == route,
            sp.strong_score.is_not(None),
            sp.weak_score.is_not(None),
            rl.score.is_not(None),
        )
        .order_by(sp.time, sp.request_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    clip = np.clip
    return Evidence(
        [r.request_id for r in rows],
        np.asarray([r.score for r in rows], dtype=np.float64),
        clip(np.asarray([r.strong_score for r in rows], dtype=np.float64), 0.0, 1.0),
        clip(np.asarray([r.weak_score for r in rows], dtype=np.float64), 0.0, 1.0),
    )


def label_count(engine: sa.Engine, route: str) -> int:
    """How many labelled pairs the route has (a cheap check before replaying them)."""
    sp = shadow_pairs.c
    q = (
        sa.select(sa.func.count())
        .select_from(shadow_pairs)
        .where(sp.route == route, sp.strong_score.is_not(None), sp.weak_score.is_not(None))
    )
    with engine.connect() as conn:
        return int(conn.scalar(q) or 0)


def record_decision(
    engine: sa.Engine, route: str, decision: Decision, realised: float | None, saving: dict[str, Any]
) -> bool:
    """Store a decision; False when an identical one is already there (another replica wrote it)."""
    cert = decision.certificate
    row = {
        "time": utcnow(),
        "route": route,
        "state": decision.state,
        "threshold": decision.threshold,
        "certificate_id": decision.certificate_id or "",
        "labels": decision.labels,
        "bound": cert.bound if cert is not None else None,
        "strong_share": cert.strong_share if cert is not None else None,
        "realised": realised,
        "saving": saving,
        "reason": decision.reason,
    }
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(quality_decisions).values(**row))
    except sa.exc.IntegrityError:
        return False
    return True


def latest_decisions(engine: sa.Engine, routes: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The newest stored decision of each route (as a dict of the row's columns)."""
    qd = quality_decisions.c
    newest = sa.select(qd.route, sa.func.max(qd.id).label("id")).group_by(qd.route).subquery()
    q = sa.select(quality_decisions).join(newest, newest.c.id == qd.id)
    if routes is not None:
        q = q.where(qd.route.in_(routes))
    with engine.connect() as conn:
        return {r.route: {str(k): v for k, v in r._mapping.items()} for r in conn.execute(q)}


def history(engine: sa.Engine, route: str, limit: int = 50) -> list[dict[str, Any]]:
    qd = quality_decisions.c
    q = sa.select(quality_decisions).where(qd.route == route).order_by(qd.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [{str(k): v for k, v in r._mapping.items()} for r in conn.execute(q)]
