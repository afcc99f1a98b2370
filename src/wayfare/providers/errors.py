"""Upstream failures, classified once so the gateway can decide: retry, fall back, or hand the error to the client."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

import orjson

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
"""Statuses worth another attempt on the same deployment (rate limits, overload, server errors)."""
FALLBACK_STATUS = RETRYABLE_STATUS | {401, 403, 404}
"""Statuses that say "this deployment cannot answer" (so another deployment may): retryable ones plus auth and
missing-model errors. Anything else (400, 413, 422...) is the request's fault and goes back to the client."""


class ProviderError(Exception):
    """An upstream call that did not produce a usable answer.

    ``error_class`` is a short stable name for logs and metrics (``rate_limited``, ``server_error``, ``overloaded``,
    ``timeout``, ``connection``, ``malformed``, ``error_body``, ``client_error``, ``stream_incomplete``...);
    ``status`` the upstream HTTP status when there was one; ``retry_after`` seconds the upstream asked to wait;
    ``body`` the upstream's JSON error body, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        error_class: str,
        status: int | None = None,
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_class = error_class
        self.status = status
        self.retry_after = retry_after
        self.body = body

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE_STATUS or self.error_class in ("malformed", "error_body")

    @property
    def fallback_ok(self) -> bool:
        return self.retryable or (self.status is not None and self.status in FALLBACK_STATUS)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI) or ``retry-after`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_CLASS_BY_STATUS = {429: "rate_limited", 529: "overloaded", 408: "timeout", 401: "auth", 403: "auth", 404: "not_found"}


def from_status(status: int, content: bytes, headers: Mapping[str, str], provider: str) -> ProviderError:
    """The error for a non-2xx upstream response."""
    body: dict[str, Any] | None
    try:
        parsed = orjson.loads(content) if content else None
        body = parsed if isinstance(parsed, dict) else None
    except orjson.JSONDecodeError:
        body = None
    detail = ""
    if body is not None:
        err = body.get("error")
        if isinstance(err, dict):
            detail = str(err.get("message", ""))
        elif isinstance(err, str):
            detail = err
    if not detail:
        detail = content[:200].decode("utf-8", "replace")
    error_class = _CLASS_BY_STATUS.get(status, "server_error" if status >= 500 else "client_error")
    return ProviderError(
        f"{provider} answered HTTP {status}: {detail}".rstrip(": "),
        error_class=error_class,
        status=status,
        retry_after=parse_retry_after(headers),
        body=body,
    )
