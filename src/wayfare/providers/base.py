"""The adapter interface every provider implements: OpenAI-format JSON in, OpenAI-format JSON out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any, Literal, Protocol

JSON = dict[str, Any]
Endpoint = Literal["chat", "completions", "embeddings"]

UPSTREAM_HEADERS: ContextVar[dict[str, str] | None] = ContextVar("wayfare_upstream_headers", default=None)
"""Response headers of the current request's last upstream attempt that its provider surfaces to the client (Azure's
``x-ms-region``): set by the provider inside the attempt, read by the gateway in the same task after it."""


class ChunkStream(Protocol):
    """An open upstream stream of OpenAI ``chat.completion.chunk`` objects.

    Opening it (``Provider.stream``) already checked the status and read the first chunk, so a failure before any
    byte could reach the client raises there; iteration raises :class:`ProviderError` on a failure mid-stream.
    """

    def __aiter__(self) -> AsyncIterator[JSON]: ...

    async def aclose(self) -> None: ...


class Provider(Protocol):
    """One upstream deployment kind (``openai`` compatible, ``anthropic``...). Instances are shared by requests."""

    kind: str

    async def request(self, endpoint: Endpoint, body: JSON, timeout: float) -> JSON:
        """Send a non-streaming request; the OpenAI-format response, or :class:`ProviderError`."""
        ...

    async def stream(self, body: JSON, timeout: float, endpoint: Endpoint = "chat") -> ChunkStream:
        """Open a streaming chat (or legacy text) completion (``body["stream"]`` is true)."""
        ...
