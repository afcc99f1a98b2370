"""Reading the gateway's own chat-completion SSE stream back as JSON chunks: what the other front doors
(``/v1/messages``, ``/v1/responses``) re-encode as their own events."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import orjson
from starlette.responses import StreamingResponse


def is_error(chunk: dict[str, Any]) -> str | None:
    """The message of an error event the chat stream ends with after it started (else None)."""
    if "error" not in chunk or chunk.get("choices"):
        return None
    err = chunk["error"]
    return str(err.get("message", "")) if isinstance(err, dict) else str(err)


async def chat_chunks(resp: StreamingResponse) -> AsyncGenerator[dict[str, Any], None]:
    """The chunks of a chat stream (``[DONE]`` dropped). The stream is closed on every exit, so the request is
    logged once whether it finished or the client left; iterate it under ``contextlib.aclosing``."""
    buffer = b""
    inner = resp.body_iterator
    try:
        async for piece in inner:
            buffer += piece if isinstance(piece, bytes) else str(piece).encode()
            while b"\n\n" in buffer:
                frame, buffer = buffer.split(b"\n\n", 1)
                data = frame.removeprefix(b"data: ").strip()
                if data and data != b"[DONE]":
                    yield orjson.loads(data)
    finally:
        aclose = getattr(inner, "aclose", None)
        if aclose is not None:
            await aclose()
