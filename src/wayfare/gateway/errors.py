"""OpenAI-style error bodies: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from wayfare.providers.errors import ProviderError


def error_body(message: str, etype: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": etype, "param": param, "code": code}}


def error_response(
    status: int,
    message: str,
    etype: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        orjson.dumps(error_body(message, etype, code, param)),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def upstream_failure(err: ProviderError) -> tuple[int, dict[str, Any]]:
    """Status and body the client gets when no deployment answered: the upstream's own error for client errors
    (4xx other than 408/429), else 429 / 504 / 502 with an ``upstream_error`` body."""
    if err.status is not None and not err.fallback_ok:
        body = err.body if err.body is not None and isinstance(err.body.get("error"), dict) else None
        return err.status, body or error_body(err.message, "invalid_request_error", err.error_class)
    if err.status == 429:
        status = 429
    elif err.error_class in ("timeout", "deadline"):
        status = 504
    else:
        status = 502
    return status, error_body(f"no upstream answered: {err.message}", "upstream_error", err.error_class)
