"""``wayfare label``: label the stored shadow pairs that have no label yet, with the labellers of
``wayfare share`` (:mod:`wayfare.traffic.labels`): a reference answer when a reference file knows the prompt,
else the pairwise judge in both orders (``--judge``), else agreement with the strong model's answer."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from wayfare.routers.messages import prompt_text
from wayfare.store.tables import shadow_pairs
from wayfare.traffic.collect import Answer, Collector
from wayfare.traffic.labels import Label
from wayfare.traffic.measure import ShareSettings, label_pairs
from wayfare.traffic.prompts import PromptRow
from wayfare.traffic.registry import writing


@dataclass(frozen=True)
class Pair:
    """One stored shadow pair, oriented strong/weak."""

    request_id: str
    route: str | None
    messages: list[dict[str, Any]]
    strong_model: str
    weak_model: str
    strong_answer: str
    weak_answer: str

    @property
    def prompt(self) -> str:
        return prompt_text(self.messages, "last_user")


def _pair(row: Any) -> Pair:
    routed_strong = row.routed_model == row.strong_model
    return Pair(
        request_id=row.request_id,
        route=row.route,
        messages=list(row.messages),
        strong_model=row.strong_model,
        weak_model=row.weak_model,
        strong_answer=row.routed_answer if routed_strong else row.other_answer,
        weak_answer=row.other_answer if routed_strong else row.routed_answer,
    )


def unlabelled_pairs(engine: sa.Engine, route: str | None = None, limit: int | None = None) -> list[Pair]:
    """Shadow pairs with both answers and no label yet, oldest first."""
    t = shadow_pairs.c
    q = sa.select(shadow_pairs).where(t.label_method.is_(None), t.other_answer.is_not(None)).order_by(t.time)
    if route is not None:
        q = q.where(t.route == route)
    if limit is not None:
        q = q.limit(limit)
    with engine.connect() as conn:
        return [_pair(r) for r in conn.execute(q)]


def claim_unlabelled_pairs(
    engine: sa.Engine, route: str, limit: int, hold_s: float = 600.0, now: float | None = None
) -> list[Pair]:
    """Up to ``limit`` of the route's unlabelled pairs (oldest first) that no other replica holds, each claimed for
    ``hold_s`` seconds, so replicas sharing one database never judge the same pair twice; a claim that runs out
    (its replica died before storing a label) frees the pair again. The claim is one conditional UPDATE ... RETURNING:
    a pair another replica claimed in between fails the condition (PostgreSQL re-checks it under the row lock;
    SQLite has one writer), so no two replicas get the same pair."""
    t = shadow_pairs.c
    clock = time.time() if now is None else now
    free = sa.or_(t.label_claimed_until.is_(None), t.label_claimed_until < clock)
    q = (
        sa.select(shadow_pairs)
        .where(t.route == route, t.label_method.is_(None), t.other_answer.is_not(None), free)
        .order_by(t.time)
        .limit(limit)
    )
    with writing(engine) as conn:
        rows = conn.execute(q).all()
        if not rows:
            return []
        won = set(
            conn.scalars(
                sa.update(shadow_pairs)
                .where(t.request_id.in_([r.request_id for r in rows]), t.label_method.is_(None), free)
                .values(label_claimed_until=clock + hold_s)
                .returning(t.request_id)
            )
        )
    return [_pair(r) for r in rows if r.request_id in won]


def release_claims(engine: sa.Engine, request_ids: Sequence[str]) -> None:
    """Free claimed pairs that were not labelled (e.g. the judge failed), for the next round."""
    if not request_ids:
        return
    with writing(engine) as conn:
        conn.execute(
            sa.update(shadow_pairs)
            .where(shadow_pairs.c.request_id.in_(list(request_ids)), shadow_pairs.c.label_method.is_(None))
            .values(label_claimed_until=None)
        )


def _answer(text: str) -> Answer:
    return Answer(text, 0, 0, 0.0, None, cached=True)


async def label_stored_pairs(
    pairs: Sequence[Pair],
    *,
    references: Mapping[str, str] | None = None,
    judge: str | None = None,
    collector: Collector | None = None,
    scorer: str = "numeric",
) -> list[Label]:
    """One label per pair (ids = request ids). ``references`` maps a prompt's text to its expected answer; a
    judge needs ``collector`` (the models of a gateway config)."""
    if judge is not None and collector is None:
        raise ValueError("labelling with a judge needs the gateway config that serves the judge model (--config)")
    refs = references or {}
    rows = [PromptRow(p.request_id, p.messages, reference=refs.get(p.prompt)) for p in pairs]
    settings = ShareSettings(strong="strong", weak="weak", judge=judge, scorer=scorer)
    strong = [_answer(p.strong_answer) for p in pairs]
    weak = [_answer(p.weak_answer) for p in pairs]
    # without a judge the labellers never call a model, so no collector is needed
    return await label_pairs(collector, rows, strong, weak, settings)  # type: ignore[arg-type]


def store_labels(engine: sa.Engine, labels: Sequence[Label]) -> int:
    """Write scores and method onto the pairs (by request id); returns the rows updated."""
    t = shadow_pairs.c
    n = 0
    with writing(engine) as conn:
        for lab in labels:
            res = conn.execute(
                sa.update(shadow_pairs)
                .where(t.request_id == lab.prompt_id)
                .values(strong_score=lab.strong_score, weak_score=lab.weak_score, label_method=lab.method)
            )
            n += res.rowcount
    return n


def label_counts(engine: sa.Engine) -> dict[str, int]:
    """``{method or 'unlabelled': pairs}`` over all stored pairs."""
    t = shadow_pairs.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.label_method, sa.func.count()).group_by(t.label_method))
        return {(m or "unlabelled"): int(c) for m, c in rows}
