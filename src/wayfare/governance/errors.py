"""The one error type governance raises: it carries the HTTP status and OpenAI's error fields."""

from __future__ import annotations

import math

from starlette.responses import Response

from wayfare.gateway.errors import error_response


class GovernanceError(Exception):
    """A request refused by governance (401 bad key, 403 not allowed, 429 rate limit or budget, 4xx admin input).

    ``retry_after`` (seconds) becomes a ``Retry-After`` header (whole seconds, rounded up, at least 1)."""

    def __init__(
        self,
        status: int,
        etype: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.etype, self.message = status, etype, message
        self.code, self.param, self.retry_after = code, param, retry_after

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"retry-after": str(max(1, math.ceil(self.retry_after)))}

    def response(self) -> Response:
        return error_response(self.status, self.message, self.etype, self.code, self.param, self.headers() or None)


def unauthorized(message: str = "Missing or invalid API key: send 'Authorization: Bearer <key>'.") -> GovernanceError:
    return GovernanceError(401, "invalid_request_error", message, code="invalid_api_key")


def bad_request(message: str, param: str | None = None) -> GovernanceError:
    return GovernanceError(400, "invalid_request_error", message, param=param)


def not_found(message: str) -> GovernanceError:
    return GovernanceError(404, "invalid_request_error", message, code="not_found")
