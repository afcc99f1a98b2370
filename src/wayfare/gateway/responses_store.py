"""Stored Responses (``store: true``): the response object and the conversation behind it, per caller, so that
``previous_response_id`` works against any upstream. In the gateway's database (migration step 6) when it has one,
else in this process's memory (lost on restart, not shared by replicas)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import sqlalchemy as sa

from wayfare.store.record import utcnow
from wayfare.store.tables import stored_responses

MEMORY_LIMIT = 10_000


def _owned_by(key_id: str | None) -> sa.ColumnElement[bool]:
    column = stored_responses.c.key_id
    return column.is_(None) if key_id is None else column == key_id


class ResponsesStore:
    """Save, load and delete stored responses; a caller (``key_id``) sees only its own."""

    def __init__(self, engine: sa.Engine | None) -> None:
        self.engine = engine
        self._memory: OrderedDict[str, tuple[str | None, dict[str, Any], list[Any]]] = OrderedDict()

    def save(self, rid: str, key_id: str | None, response: dict[str, Any], messages: list[Any]) -> None:
        if self.engine is None:
            self._memory[rid] = (key_id, response, messages)
            while len(self._memory) > MEMORY_LIMIT:
                self._memory.popitem(last=False)
            return
        with self.engine.begin() as conn:
            conn.execute(sa.insert(stored_responses).values(
                id=rid, time=utcnow(), key_id=key_id, response=response, messages=messages
            ))  # fmt: skip

    def load(self, rid: str, key_id: str | None) -> tuple[dict[str, Any], list[Any]] | None:
        if self.engine is None:
            hit = self._memory.get(rid)
            return (hit[1], hit[2]) if hit is not None and hit[0] == key_id else None
        t = stored_responses.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.response, t.messages).where(
                    t.id == rid, t.key_id.is_(None) if key_id is None else t.key_id == key_id
                )
            ).first()
        return (dict(row.response), list(row.messages)) if row is not None else None

    def delete(self, rid: str, key_id: str | None) -> bool:
        if self.engine is None:
            hit = self._memory.get(rid)
            if hit is None or hit[0] != key_id:
                return False
            del self._memory[rid]
            return True
        t = stored_responses.c
        with self.engine.begin() as conn:
            res = conn.execute(
                sa.delete(stored_responses).where(
                    t.id == rid, t.key_id.is_(None) if key_id is None else t.key_id == key_id
                )
            )
        return bool(res.rowcount)
