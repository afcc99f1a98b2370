"""The one error type governance raises: it carries the HTTP status and OpenAI's error fields."""

from __future__ import annotations

import math

import orjson
from starlette.responses import Response


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

    def body(self) -> dict[str, dict[str, str | None]]:
        """OpenAI's error body (built here, not by the gateway, so this package imports nothing from it)."""
        return {"error": {"message": self.message, "type": self.etype, "param": self.param, "code": self.code}}

    def response(self) -> Response:
        return Response(
            orjson.dumps(self.body()), status_code=self.status, media_type="application/json", headers=self.headers()
        )


def unauthorized(message: str = "Missing or invalid API key: send 'Authorization: Bearer <key>'.") -> GovernanceError:
    return GovernanceError(401, "invalid_request_error", message, code="invalid_api_key")


def bad_request(message: str, param: str | None = None) -> GovernanceError:
    return GovernanceError(400, "invalid_request_error", message, param=param)


def not_found(message: str) -> GovernanceError:
    return GovernanceError(404, "invalid_request_error", message, code="not_found")
