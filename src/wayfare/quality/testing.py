"""Synthetic labelled shadow pairs written into a real store: for tests, demos and the dashboard's screenshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import sqlalchemy as sa

from wayfare.store import open_store
from wayfare.store.record import RequestRecord
from wayfare.store.tables import shadow_pairs

ROUTE = "auto"


def seed_labels(db: str, n: int, start: int = 0, seed: int = 0, weak_good: float = 0.97, route: str = ROUTE) -> None:
    """n routed requests with their router score in the request log and a labelled shadow pair each."""
    rng = np.random.default_rng(seed)
    r = rng.random(n)
    s = (rng.random(n) < 0.9).astype(float)
    w = np.where(rng.random(n) < weak_good - 0.6 * r, s, 0.0)
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    store = open_store(db)
    ids = [f"req-{start + i:06d}" for i in range(n)]
    store.write_batch([
        RequestRecord(request_id=rid, chosen_model="big", route=route, score=float(r[i]), threshold=0.0,
                      time=t0 + timedelta(seconds=start + i))
        for i, rid in enumerate(ids)
    ])  # fmt: skip
    with store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.insert(shadow_pairs), [
            {"request_id": rid, "time": t0 + timedelta(seconds=start + i), "route": route,
             "messages": [{"role": "user", "content": f"q{start + i}"}], "routed_model": "big", "routed_answer": "a",
             "other_model": "small", "other_answer": "b", "strong_model": "big", "weak_model": "small",
             "strong_score": float(s[i]), "weak_score": float(w[i]), "label_method": "user"}
            for i, rid in enumerate(ids)
        ])  # fmt: skip
    store.close()
