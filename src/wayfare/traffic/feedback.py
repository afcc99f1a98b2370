"""``POST /v1/feedback``: a rating, score or free text about one request, stored next to it (by request id).

Body: ``{"request_id": "wf-...", "rating": 1 | -1 | 0..5, "score": 0..1, "text": "..."}``; ``request_id`` and at
least one of ``rating`` / ``score`` / ``text`` are required. The request id is the ``x-wayfare-request-id``
response header. Feedback may arrive before the batched request log has flushed the request, so it is not
required to exist yet. Answers 201 with the stored row, or an OpenAI-style error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.requests import Request
from starlette.responses import Response

from wayfare.gateway.errors import error_response
from wayfare.governance.errors import GovernanceError
from wayfare.store.record import utcnow
from wayfare.store.tables import feedback


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=200)
    rating: int | None = Field(default=None, ge=-1, le=5)
    """Thumbs (-1 / 1) or stars (0-5)."""
    score: float | None = Field(default=None, ge=0, le=1)
    text: str | None = Field(default=None, max_length=20_000)

    @model_validator(mode="after")
    def _something(self) -> Feedback:
        if self.rating is None and self.score is None and not self.text:
            raise ValueError("give at least one of rating, score or text")
        return self


def store_feedback(engine: sa.Engine, fb: Feedback, key_id: str | None = None) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            sa.insert(feedback).values(
                request_id=fb.request_id, time=utcnow(), rating=fb.rating, score=fb.score, text=fb.text, key_id=key_id
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def feedback_for(engine: sa.Engine, request_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(feedback).where(feedback.c.request_id == request_id).order_by(feedback.c.id))
        return [dict(r._mapping) for r in rows]


def feedback_endpoint(gateway: Any) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint over the gateway's store (its request-log sink); 503 without a database."""

    async def endpoint(request: Request) -> Response:
        gov = getattr(gateway, "gov", None)
        if gov is not None:  # with a master key set, feedback (router training labels) needs a key like /v1 calls
            try:
                await gov.authenticate(request.headers)
            except GovernanceError as exc:
                return exc.response()
        store = getattr(getattr(gateway, "sink", None), "store", None)
        engine = getattr(store, "engine", None)
        if engine is None:
            return error_response(503, "feedback needs a database: set database_url in the config", "server_error")
        try:
            fb = Feedback.model_validate(orjson.loads(await request.body()))
        except orjson.JSONDecodeError as exc:
            return error_response(400, f"request body is not valid JSON: {exc}", "invalid_request_error")
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or None
            return error_response(400, f"{field or 'body'}: {err['msg']}", "invalid_request_error", param=field)
        row_id = await asyncio.to_thread(store_feedback, engine, fb)
        body = {"id": row_id, "object": "feedback", **fb.model_dump()}
        return Response(orjson.dumps(body), status_code=201, media_type="application/json")

    return endpoint
